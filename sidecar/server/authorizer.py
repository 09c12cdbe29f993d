"""The Authorizer service: decisions and STS from the serving snapshot.

A decision runs inline on the event loop: it takes microseconds, far less than handing it to
a thread would. Each call reads the serving activation once, so a call (or a whole batch) is
answered by exactly one snapshot version even while a push swaps in the next one. Any
internal error in a decision becomes a Deny with a reason (``fail_closed``), never an Allow.
"""

from __future__ import annotations

import asyncio
import time
from time import perf_counter
from typing import Any

import grpc

from ..api.v1 import authorizer_pb2 as pb
from ..api.v1 import authorizer_pb2_grpc as pb_grpc
from ..engine.cache import DecisionCache
from ..engine.compile import CompiledSnapshot
from ..engine.decision import Decision, DecisionKind, fail_closed
from ..engine.principal import PrincipalError, PrincipalKind
from ..store import Activation, SnapshotStore
from ..sts import AssumeRoleParams, Authenticated, Keyset, Sts, StsError, TokenCodec
from . import errors as E
from .convert import (
    DECISIONS,
    DEFAULT_LIMITS,
    Limits,
    Parsed,
    Question,
    check_context,
    fill_response,
    parse,
    parse_caller,
    resolve,
    response,
)
from .decision_log import DecisionLog
from .errors import RequestError
from .metrics import Metrics

Context = grpc.aio.ServicerContext[Any, Any]

# A version wait leaves this much of the caller's deadline for the answer itself.
_DEADLINE_MARGIN_S = 0.05
_ANSWERS_LIMIT = 65536
# AssumeRole context keys that only its parameters set (reference §6.4).
_ASSUME_ROLE_PARAMETER_KEYS = ("sts:", "aws:requesttag/", "aws:tagkeys")


class Answers:
    """Decisions by the exact bytes of the request, for one activation: the cheapest cache
    there is (one serialisation and one dict lookup instead of validating, resolving and
    deciding). Only answers that cannot change while the activation serves are kept: a
    principal-ARN or anonymous caller, no explanation, no evaluation error, and no deciding
    statement that reads the clock. Credential callers are never kept (sessions expire). A
    request that serialises differently (map order) only misses; it is never answered wrong.
    Bounded: cleared when full. Used from the event-loop thread only."""

    __slots__ = ("decisions", "hits", "scope")

    def __init__(self) -> None:
        self.scope = -1
        self.decisions: dict[bytes, int] = {}
        self.hits = 0

    def for_activation(self, activation_id: int) -> dict[bytes, int]:
        if self.scope != activation_id:
            self.scope = activation_id
            self.decisions = {}
        elif len(self.decisions) >= _ANSWERS_LIMIT:
            self.decisions = {}
        return self.decisions


class AuthorizerService(pb_grpc.AuthorizerServicer):
    def __init__(
        self,
        store: SnapshotStore,
        *,
        max_version_wait: float = 5.0,
        limits: Limits = DEFAULT_LIMITS,
        cache: DecisionCache | None = None,
        sts: Sts | None = None,
        metrics: Metrics | None = None,
        decision_log: DecisionLog | None = None,
    ) -> None:
        self.store = store
        self.max_version_wait = max_version_wait
        self.limits = limits
        self.cache = cache if cache is not None else DecisionCache()
        self.sts = sts if sts is not None else Sts(TokenCodec(Keyset.random()), clock=time.time)
        self.answers = Answers()
        self.metrics = metrics
        self.decision_log = decision_log

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

    # -- callers ---------------------------------------------------------------------------------

    def authenticate(
        self, compiled: CompiledSnapshot, arn: str, credentials: tuple[str, str, str] | None, prefix: str
    ) -> Authenticated:
        """The requester of a call: a trusted ARN, a long-term key, or a session (StsError
        for credentials that do not authenticate)."""
        if credentials is None:
            try:
                return self.sts.authenticate_arn(compiled, arn)
            except PrincipalError as exc:
                raise E.invalid(f"{prefix}caller.principal_arn", str(exc)) from None
        return self.sts.authenticate_keys(compiled, *credentials)

    def question(self, parsed: Parsed, compiled: CompiledSnapshot, prefix: str) -> Question:
        if parsed.credentials is None:  # the common case: no STS work at all
            entry = resolve(compiled, parsed.arn, f"{prefix}caller.principal_arn")
            return Question(entry, *parsed[2:])
        try:
            auth = self.sts.authenticate_keys(compiled, *parsed.credentials)
        except StsError as err:
            if err.code == "AccessDenied":  # the session's role is gone: deny, do not decide
                entry = resolve(compiled, "anonymous", "")
                return Question(entry, *parsed[2:], denied=err.message)
            raise E.from_sts(err.code, err.message, err.field or "caller.credentials", prefix) from None
        ctx = parsed.context
        extra = auth.request_keys(time.time())
        if extra:
            ctx = {**ctx, **extra}
        return Question(
            auth.entry,
            parsed.action,
            parsed.resource,
            parsed.resource_account,
            ctx,
            parsed.explain,
            auth.session,
            auth.session_key,
        )

    def decide(self, activation: Activation, q: Question) -> Decision:
        if q.denied:
            return Decision(DecisionKind.IMPLICIT_DENY, f"denied: {q.denied}")
        try:
            return activation.compiled.authorize(
                q.entry,
                q.action,
                q.resource,
                resource_account=q.resource_account,
                context=q.context,
                now=time.time(),
                explain=q.explain,
                session=q.session,
                session_key=q.session_key,
                cache=self.cache,
                scope=activation.id,
            )
        except Exception as exc:  # fail closed: a defect must deny, not allow
            return fail_closed(f"{type(exc).__name__}: {exc}")

    # -- RPCs ------------------------------------------------------------------------------------

    async def _rpc(self, rpc: str, context: Context, handler: Any, request: Any) -> Any:
        """Run ``handler(request, context)``: a RequestError ends the call with its status;
        the RPC's duration and status code (and AssumeRole's result) go to the metrics."""
        started = perf_counter()
        code = "OK"
        result = "success"
        try:
            return await handler(request, context)
        except RequestError as err:
            code, result = err.code.name, err.reason
            # Recorded before the status goes out: a client that scrapes right after its error
            # must find the call counted.
            self._record_rpc(rpc, code, result, started)
            code = ""
            await err.abort(context)
            raise  # unreachable: abort raises
        except asyncio.CancelledError:
            code = result = "CANCELLED"
            raise
        except Exception:
            code = result = "UNKNOWN"
            raise
        finally:
            if code:
                self._record_rpc(rpc, code, result, started)

    def _record_rpc(self, rpc: str, code: str, result: str, started: float) -> None:
        metrics = self.metrics
        if metrics is not None:
            metrics.rpc(rpc, code, perf_counter() - started)
            if rpc == "AssumeRole":
                metrics.assume_role.inc((result,))

    async def Authorize(self, request: pb.AuthorizeRequest, context: Context) -> pb.AuthorizeResponse:
        return await self._rpc("Authorize", context, self._authorize, request)

    async def AuthorizeBatch(
        self, request: pb.AuthorizeBatchRequest, context: Context
    ) -> pb.AuthorizeBatchResponse:
        return await self._rpc("AuthorizeBatch", context, self._authorize_batch, request)

    async def GetCallerIdentity(
        self, request: pb.GetCallerIdentityRequest, context: Context
    ) -> pb.GetCallerIdentityResponse:
        return await self._rpc("GetCallerIdentity", context, self._get_caller_identity, request)

    async def AssumeRole(self, request: pb.AssumeRoleRequest, context: Context) -> pb.AssumeRoleResponse:
        return await self._rpc("AssumeRole", context, self._assume_role, request)

    async def _authorize(self, request: pb.AuthorizeRequest, context: Context) -> pb.AuthorizeResponse:
        parsed = parse(request, "", self.limits)
        activation = await self.activation(request.min_snapshot_version, context)
        q = self.question(parsed, activation.compiled, "")
        t0 = perf_counter()
        decision = self.decide(activation, q)
        seconds = perf_counter() - t0
        if self.metrics is not None or self.decision_log is not None:
            self._observe("Authorize", activation, [(q, decision, seconds)], context)
        return response(decision, activation.version, q.explain)

    def _observe(
        self,
        rpc: str,
        activation: Activation,
        decided: list[tuple[Question, Decision, float]],
        context: Context,
        memo: dict[int, int] | None = None,
    ) -> None:
        """Metrics and the decision log for the decisions of a call that succeeded (both
        cheap: see their modules); ``memo``: decisions answered by the batch memo, by kind."""
        metrics = self.metrics
        if metrics is not None:
            for _, decision, seconds in decided:
                metrics.decision(rpc, decision.kind.value, seconds)
            for kind, count in (memo or {}).items():
                metrics.decisions.inc((_LABELS[kind],), count)
        log = self.decision_log
        if log is not None and decided:
            request_id = _request_id(context)
            version = activation.version
            for q, decision, seconds in decided:
                log.record(
                    rpc,
                    request_id,
                    version,
                    q.entry.principal.arn or "anonymous",
                    q.action,
                    q.resource,
                    q.context,
                    decision,
                    seconds,
                )

    async def _authorize_batch(
        self, request: pb.AuthorizeBatchRequest, context: Context
    ) -> pb.AuthorizeBatchResponse:
        items = request.requests
        if len(items) > self.limits.max_batch:
            raise E.invalid("requests", f"has {len(items)} items; at most {self.limits.max_batch}")
        wanted = max([request.min_snapshot_version, *(r.min_snapshot_version for r in items)])
        current = self.store.current()
        if current is not None and current.version >= wanted:
            return self._batch_now(current, items, context)
        limits = self.limits
        parsed = [parse(r, f"requests[{i}].", limits) for i, r in enumerate(items)]  # before waiting
        activation = await self.activation(wanted, context)
        compiled = activation.compiled
        questions = [self.question(p, compiled, f"requests[{i}].") for i, p in enumerate(parsed)]
        version = activation.version
        out = pb.AuthorizeBatchResponse(snapshot_version=version)
        add = out.responses.add
        decided = []
        for q in questions:
            t0 = perf_counter()
            decision = self.decide(activation, q)
            decided.append((q, decision, perf_counter() - t0))
            fill_response(add(), decision, version, q.explain)
        self._observe("AuthorizeBatch", activation, decided, context)
        return out

    def _batch_now(self, activation: Activation, items: Any, context: Context) -> pb.AuthorizeBatchResponse:
        """A batch answered from the serving activation, repeated questions from
        :class:`Answers` (not while a decision log is kept: every entry needs its decision).
        Raises RequestError naming the first malformed item; then nothing is observed."""
        version = activation.version
        compiled = activation.compiled
        memo = self.answers
        answers = memo.for_activation(activation.id) if self.decision_log is None else None
        limits = self.limits
        out = pb.AuthorizeBatchResponse(snapshot_version=version)
        add = out.responses.add
        decided: list[tuple[Question, Decision, float]] = []
        memo_kinds: dict[int, int] = {}
        for i, item in enumerate(items):
            key = b""
            if answers is not None:
                key = item.SerializeToString()
                known = answers.get(key)
                if known is not None:
                    add(decision=known, snapshot_version=version)
                    memo_kinds[known] = memo_kinds.get(known, 0) + 1
                    continue
            prefix = f"requests[{i}]."
            q = self.question(parse(item, prefix, limits), compiled, prefix)
            t0 = perf_counter()
            decision = self.decide(activation, q)
            decided.append((q, decision, perf_counter() - t0))
            fill_response(add(), decision, version, q.explain)
            if (
                answers is not None
                and not q.explain
                and q.session is None
                and not q.denied
                and item.caller.WhichOneof("identity") != "credentials"
                and decision.error is None
                and not compiled.reads_clock(q.entry, q.action, q.resource, q.resource_account)
            ):
                answers[key] = DECISIONS[decision.kind]
        memo.hits += sum(memo_kinds.values())
        self._observe("AuthorizeBatch", activation, decided, context, memo_kinds)
        return out

    async def _get_caller_identity(
        self, request: pb.GetCallerIdentityRequest, context: Context
    ) -> pb.GetCallerIdentityResponse:
        arn, credentials = parse_caller(request.caller, "caller")
        if arn == "anonymous":
            raise RequestError(
                grpc.StatusCode.UNAUTHENTICATED,
                E.MISSING_TOKEN,
                "caller: an anonymous caller has no identity",
                "caller.anonymous",
            )
        activation = await self.activation(0, context)
        try:
            auth = self.authenticate(activation.compiled, arn, credentials, "")
        except StsError as err:
            raise E.from_sts(err.code, err.message, err.field) from None
        p = auth.entry.principal
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

    async def _assume_role(self, request: pb.AssumeRoleRequest, context: Context) -> pb.AssumeRoleResponse:
        arn, credentials = parse_caller(request.caller, "caller")
        ctx = check_context(request.context, "context", self.limits)
        for key in request.context:
            if key.lower().startswith(_ASSUME_ROLE_PARAMETER_KEYS):
                raise E.invalid(
                    f'context["{key}"]',
                    f"{key} is set by AssumeRole's own parameters (role_session_name, external_id, "
                    "source_identity, tags, transitive_tag_keys), never by the request context",
                )
        params = AssumeRoleParams(
            role_arn=request.role_arn,
            role_session_name=request.role_session_name,
            duration_seconds=request.duration_seconds or None,
            policy=request.policy or None,
            policy_arns=tuple(request.policy_arns),
            tags=tuple((t.key, t.value) for t in request.tags),
            transitive_tag_keys=tuple(request.transitive_tag_keys),
            external_id=request.external_id or None,
            serial_number=request.serial_number or None,
            token_code=request.token_code or None,
            source_identity=request.source_identity or None,
            context=ctx,
        )
        activation = await self.activation(request.min_snapshot_version, context)
        try:
            caller = self.authenticate(activation.compiled, arn, credentials, "")
            assumed = self.sts.assume_role(activation.compiled, caller, params)
        except StsError as err:
            raise E.from_sts(err.code, err.message, err.field) from None
        creds = assumed.credentials
        out = pb.AssumeRoleResponse(
            packed_policy_size=assumed.packed_policy_size,
            source_identity=assumed.source_identity or "",
            snapshot_version=activation.version,
        )
        out.credentials.access_key_id = creds.access_key_id
        out.credentials.secret_access_key = creds.secret_access_key
        out.credentials.session_token = creds.session_token
        out.credentials.expiration.FromSeconds(int(creds.expires_at))
        out.assumed_role_user.arn = assumed.arn
        out.assumed_role_user.assumed_role_id = assumed.assumed_role_id
        return out


_LABELS: dict[int, str] = {int(v): k.value for k, v in DECISIONS.items()}


def _request_id(context: Context) -> str:
    """The caller's request id (gRPC metadata ``x-request-id``), for the decision log."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            return value if isinstance(value, str) else value.decode("latin-1")
    return ""
