"""The Authorizer service: decisions from the serving snapshot.

A decision runs inline on the event loop: it takes microseconds, far less than handing it to
a thread would. Each call reads the serving activation once, so a call (or a whole batch) is
answered by exactly one snapshot version even while a push swaps in the next one. Any
internal error in a decision becomes a Deny with a reason (``fail_closed``), never an Allow.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from ..api.v1 import authorizer_pb2 as pb
from ..api.v1 import authorizer_pb2_grpc as pb_grpc
from ..engine.cache import DecisionCache
from ..engine.decision import Decision, fail_closed
from ..engine.principal import PrincipalKind
from ..store import Activation, SnapshotStore
from . import errors as E
from .convert import (
    DEFAULT_LIMITS,
    Limits,
    Question,
    caller_arn,
    fill_response,
    parse,
    question,
    resolve,
    response,
)
from .errors import RequestError

Context = grpc.aio.ServicerContext[Any, Any]

# A version wait leaves this much of the caller's deadline for the answer itself.
_DEADLINE_MARGIN_S = 0.05


class AuthorizerService(pb_grpc.AuthorizerServicer):
    def __init__(
        self,
        store: SnapshotStore,
        *,
        max_version_wait: float = 5.0,
        limits: Limits = DEFAULT_LIMITS,
        cache: DecisionCache | None = None,
    ) -> None:
        self.store = store
        self.max_version_wait = max_version_wait
        self.limits = limits
        self.cache = cache if cache is not None else DecisionCache()

    # -- the serving snapshot ------------------------------------------------------------------

    async def activation(self, min_version: int, context: Context) -> Activation:
        """The activation to answer from: the serving one, or — when the caller wants a newer
        version — the first one at least that new, waited for without polling and bounded by
        the caller's deadline and ``max_version_wait``."""
        current = self.store.current()
        if current is not None and current.version >= min_version:
            return current
        if min_version == 0:
            raise RequestError(
                grpc.StatusCode.UNAVAILABLE,
                E.NO_SNAPSHOT,
                "no snapshot is active yet; push one or wait for the snapshot source",
            )
        wait = self.max_version_wait
        remaining = context.time_remaining()
        if remaining is not None:
            wait = min(wait, remaining - _DEADLINE_MARGIN_S)
        found = await self.store.wait_for_version_async(min_version, max(wait, 0.0))
        if found is not None:
            return found
        current = self.store.current()
        active = "none" if current is None else str(current.version)
        raise RequestError(
            grpc.StatusCode.FAILED_PRECONDITION,
            E.SNAPSHOT_TOO_OLD,
            f"snapshot version {min_version} was asked for; the active version is {active} "
            f"(waited {max(wait, 0.0):.2f} s)",
            "min_snapshot_version",
        )

    def decide(self, activation: Activation, q: Question) -> Decision:
        try:
            return activation.compiled.authorize(
                q.entry,
                q.action,
                q.resource,
                resource_account=q.resource_account,
                context=q.context,
                now=time.time(),
                explain=q.explain,
                cache=self.cache,
                scope=activation.id,
            )
        except Exception as exc:  # fail closed: a defect must deny, not allow
            return fail_closed(f"{type(exc).__name__}: {exc}")

    # -- RPCs ------------------------------------------------------------------------------------

    async def Authorize(self, request: pb.AuthorizeRequest, context: Context) -> pb.AuthorizeResponse:
        try:
            parsed = parse(request, "", self.limits)
            activation = await self.activation(request.min_snapshot_version, context)
            q = question(parsed, activation.compiled, "")
        except RequestError as err:
            await err.abort(context)
            raise  # unreachable: abort raises
        return response(self.decide(activation, q), activation.version, q.explain)

    async def AuthorizeBatch(
        self, request: pb.AuthorizeBatchRequest, context: Context
    ) -> pb.AuthorizeBatchResponse:
        items = request.requests
        try:
            if len(items) > self.limits.max_batch:
                raise E.invalid("requests", f"has {len(items)} items; at most {self.limits.max_batch}")
            limits = self.limits
            parsed = [parse(r, f"requests[{i}].", limits) for i, r in enumerate(items)]
            wanted = max([request.min_snapshot_version, *(r.min_snapshot_version for r in items)])
            activation = await self.activation(wanted, context)
            compiled = activation.compiled
            questions = [question(p, compiled, f"requests[{i}].") for i, p in enumerate(parsed)]
        except RequestError as err:
            await err.abort(context)
            raise
        version = activation.version
        out = pb.AuthorizeBatchResponse(snapshot_version=version)
        add = out.responses.add
        decide = self.decide
        for q in questions:
            fill_response(add(), decide(activation, q), version, q.explain)
        return out

    async def GetCallerIdentity(
        self, request: pb.GetCallerIdentityRequest, context: Context
    ) -> pb.GetCallerIdentityResponse:
        try:
            activation = await self.activation(0, context)
            arn = caller_arn(request.caller, "caller")
            if arn == "anonymous":
                raise RequestError(
                    grpc.StatusCode.UNAUTHENTICATED,
                    E.MISSING_TOKEN,
                    "caller: an anonymous caller has no identity",
                    "caller.anonymous",
                )
            entry = resolve(activation.compiled, arn, "caller.principal_arn")
        except RequestError as err:
            await err.abort(context)
            raise
        p = entry.principal
        if p.kind in (PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE):
            user_id = f"{p.role_id}:{p.session_name}" if p.role_id and p.session_name else p.role_id
        elif p.kind is PrincipalKind.ROOT:
            user_id = p.account
        elif p.kind is PrincipalKind.FEDERATED_USER:
            user_id = f"{p.account}:{p.name}"
        else:
            user_id = p.unique_id
        return pb.GetCallerIdentityResponse(
            account=p.account, arn=p.arn, user_id=user_id, snapshot_version=activation.version
        )

    async def AssumeRole(self, request: pb.AssumeRoleRequest, context: Context) -> pb.AssumeRoleResponse:
        await RequestError(
            grpc.StatusCode.UNIMPLEMENTED,
            E.NOT_IMPLEMENTED,
            "AssumeRole is not available in this version of the sidecar yet",
        ).abort(context)
        raise AssertionError("unreachable")
