"""Envoy ext_authz: IAM decisions for HTTP traffic (``envoy.service.auth.v3.Authorization``).

Envoy asks ``Check`` before forwarding each request. A declarative **route map** turns the
HTTP request into an IAM question — method + path template (+ host) → action and resource ARN
template — and the answer goes back as Envoy expects it: Allow → OK with headers for the
upstream (credential headers removed); Deny → 403 with a JSON body; bad credentials → 401;
an internal error or no snapshot → fail closed (503 ``error_response``, or 403: configurable).

The caller is, in this order: the STS credentials in request headers (a session token or a
long-term access key with its secret); a principal ARN in a trusted header set by an upstream
authenticator (only when configured); the mTLS peer's SPIFFE id mapped through a configured
table; otherwise anonymous. The configuration is the ``ext_authz`` section of ``--config``
(docs/envoy.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any
from urllib.parse import unquote

import grpc
from google.rpc import code_pb2, status_pb2

from ..api.envoy.config.core.v3 import core_min_pb2 as core
from ..api.envoy.service.auth.v3 import ext_authz_min_pb2 as pb
from ..api.envoy.service.auth.v3 import ext_authz_min_pb2_grpc as pb_grpc
from ..engine.compile import CompiledSnapshot
from ..engine.decision import Decision, DecisionKind
from ..engine.principal import PrincipalError
from ..store import SnapshotStore
from ..sts import Sts, StsError
from .authorizer import AuthorizerService
from .convert import Question

Context = grpc.aio.ServicerContext[Any, Any]


class ExtAuthzConfigError(ValueError):
    """The ext_authz section cannot be used; ``problems`` lists every problem (path: message)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "*"})


@dataclass(frozen=True)
class Route:
    """``GET /buckets/{bucket}/objects/{key+}`` → action + resource template. ``{name}``
    matches one path segment, ``{name+}`` one or more."""

    method: str
    path: str
    action: str
    resource: str
    host: str | None = None
    pattern: re.Pattern[str] = field(repr=False, default=re.compile(""))
    params: tuple[str, ...] = ()
    # The resource template split at its {params}: literal, name, literal, name, …, literal.
    pieces: tuple[str, ...] = ()

    def match(self, method: str, host: str, path: str) -> dict[str, str] | None:
        if self.method != "*" and self.method != method:
            return None
        if self.host is not None and self.host != host:
            return None
        m = self.pattern.fullmatch(path)
        if m is None:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items()}

    def resource_for(self, params: Mapping[str, str]) -> str:
        pieces = self.pieces
        if len(pieces) == 1:
            return pieces[0]
        out = [pieces[0]]
        for i in range(1, len(pieces), 2):
            out.append(params.get(pieces[i], ""))
            out.append(pieces[i + 1])
        return "".join(out)


@dataclass(frozen=True)
class ExtAuthzConfig:
    routes: tuple[Route, ...] = ()
    unmatched: str = "deny"  # "deny" (403) or "allow"
    on_error: str = "error"  # "error" (503 error_response) or "deny" (403)
    access_key_header: str = "x-iam-access-key-id"
    secret_key_header: str = "x-iam-secret-access-key"
    session_token_header: str = "x-iam-session-token"
    trusted_principal_header: str | None = None
    spiffe_principals: Mapping[str, str] = field(default_factory=dict)
    xff_trusted_hops: int = 0
    matched_statement_header: bool = False
    listen: str | None = None  # an extra listener with only this service

    @property
    def credential_headers(self) -> tuple[str, ...]:
        extra = (self.trusted_principal_header,) if self.trusted_principal_header else ()
        return (self.access_key_header, self.secret_key_header, self.session_token_header, *extra)


def _compile_route(raw: Any, where: str, problems: list[str]) -> Route | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a route is an object with method, path, action, resource")
        return None
    unknown = set(raw) - {"method", "path", "action", "resource", "host"}
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    method = str(raw.get("method", "*")).upper()
    path = raw.get("path")
    action = raw.get("action")
    resource = raw.get("resource")
    host = raw.get("host")
    before = len(problems)
    if method not in _METHODS:
        problems.append(f"{where}.method: {method!r} is not an HTTP method or *")
    if not isinstance(action, str) or ":" not in action:
        problems.append(f"{where}.action: service:Action is required")
    if not isinstance(resource, str) or not (resource == "*" or resource.startswith("arn:")):
        problems.append(f'{where}.resource: an ARN template or "*" is required')
        resource = None
    if host is not None and not isinstance(host, str):
        problems.append(f"{where}.host: a host name")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append(f"{where}.path: a path template starting with / is required")
        return None
    regex, params, last = [], [], 0
    for m in _PARAM.finditer(path):
        regex.append(re.escape(path[last : m.start()]))
        name, plus = m.group(1), m.group(2)
        if name in params:
            problems.append(f"{where}.path: parameter {name!r} appears twice")
        params.append(name)
        regex.append(f"(?P<{name}>.+)" if plus else f"(?P<{name}>[^/]+)")
        last = m.end()
    regex.append(re.escape(path[last:]))
    for m in _PARAM.finditer(resource or ""):
        if m.group(1) not in params:
            problems.append(f"{where}.resource: {{{m.group(1)}}} is not a parameter of the path")
    if len(problems) > before or not isinstance(action, str) or resource is None:
        return None
    assert host is None or isinstance(host, str)
    return Route(
        method,
        path,
        action,
        resource,
        host.lower() if host else None,
        re.compile("".join(regex)),
        tuple(params),
        tuple(re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}", resource)),
    )


def load_config(raw: Any) -> ExtAuthzConfig:
    """The ``ext_authz`` section (a dict); ExtAuthzConfigError lists every problem."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ExtAuthzConfigError(["ext_authz: an object is required"])
    known = {
        "routes", "unmatched", "on_error", "credentials", "trusted_principal_header", "spiffe_principals",
        "xff_trusted_hops", "matched_statement_header", "listen",
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        problems.append(f"ext_authz: unknown keys {sorted(unknown)}")
    routes = []
    raw_routes = raw.get("routes", [])
    if not isinstance(raw_routes, list):
        problems.append("ext_authz.routes: a list is required")
        raw_routes = []
    for i, r in enumerate(raw_routes):
        route = _compile_route(r, f"ext_authz.routes[{i}]", problems)
        if route is not None:
            routes.append(route)
    unmatched = raw.get("unmatched", "deny")
    if unmatched not in ("deny", "allow"):
        problems.append('ext_authz.unmatched: "deny" or "allow"')
    on_error = raw.get("on_error", "error")
    if on_error not in ("error", "deny"):
        problems.append('ext_authz.on_error: "error" (503) or "deny" (403)')
    creds = raw.get("credentials", {})
    if not isinstance(creds, dict) or set(creds) - {"access_key_id", "secret_access_key", "session_token"}:
        problems.append(
            "ext_authz.credentials: {access_key_id, secret_access_key, session_token} header names"
        )
        creds = {}
    spiffe = raw.get("spiffe_principals", {})
    if not isinstance(spiffe, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith("arn:") for k, v in spiffe.items()
    ):
        problems.append("ext_authz.spiffe_principals: an object of SPIFFE id → principal ARN")
        spiffe = {}
    hops = raw.get("xff_trusted_hops", 0)
    if not isinstance(hops, int) or hops < 0:
        problems.append("ext_authz.xff_trusted_hops: a non-negative integer")
        hops = 0
    trusted = raw.get("trusted_principal_header")
    if trusted is not None and not isinstance(trusted, str):
        problems.append("ext_authz.trusted_principal_header: a header name")
        trusted = None
    matched_header = raw.get("matched_statement_header", False)
    if not isinstance(matched_header, bool):
        problems.append("ext_authz.matched_statement_header: true or false")
        matched_header = False
    listen = raw.get("listen")
    if listen is not None and not isinstance(listen, str):
        problems.append("ext_authz.listen: unix:/path or HOST:PORT")
        listen = None
    if problems:
        raise ExtAuthzConfigError(problems)
    return ExtAuthzConfig(
        routes=tuple(routes),
        unmatched=unmatched,
        on_error=on_error,
        access_key_header=str(creds.get("access_key_id", "x-iam-access-key-id")).lower(),
        secret_key_header=str(creds.get("secret_access_key", "x-iam-secret-access-key")).lower(),
        session_token_header=str(creds.get("session_token", "x-iam-session-token")).lower(),
        trusted_principal_header=trusted.lower() if trusted else None,
        spiffe_principals=dict(spiffe),
        xff_trusted_hops=hops,
        matched_statement_header=matched_header,
        listen=listen,
    )


def load_config_file(data: bytes) -> ExtAuthzConfig | None:
    """The ``ext_authz`` section of a ``--config`` JSON document (None when absent)."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ExtAuthzConfigError([f"--config: not JSON: {exc}"]) from None
    if not isinstance(doc, dict):
        raise ExtAuthzConfigError(["--config: a JSON object is required"])
    if "ext_authz" not in doc:
        return None
    return load_config(doc["ext_authz"])


class _Refusal(Exception):
    """A request the sidecar answers without deciding (bad credentials, no route, …)."""

    def __init__(self, http: int, grpc_code: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.http, self.grpc_code, self.kind, self.reason = http, grpc_code, kind, reason


def _header(key: str, value: str) -> core.HeaderValueOption:
    return core.HeaderValueOption(header=core.HeaderValue(key=key, value=value))


class ExtAuthzService(pb_grpc.AuthorizationServicer):
    """``Check``, deciding with the Authorizer's engine, cache and STS."""

    def __init__(self, authorizer: AuthorizerService, config: ExtAuthzConfig) -> None:
        self.authorizer = authorizer
        self.store: SnapshotStore = authorizer.store
        self.sts: Sts = authorizer.sts
        self.config = config
        # Per activation: the OK answers by principal (immutable once built; grpc only reads
        # them), and the HTTP-derived context keys some statement reads (the others are not
        # built at all).
        self._scope = -1
        self._ok_cache: dict[str, pb.CheckResponse] = {}
        self._wanted: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())

    async def Check(self, request: pb.CheckRequest, context: Context) -> pb.CheckResponse:
        started = perf_counter()
        outcome = "OK"
        try:
            return self._check(request)
        except Exception as exc:  # fail closed, never open
            outcome = "INTERNAL"
            return self._error(f"internal error: {type(exc).__name__}: {exc}", "")
        finally:
            metrics = self.authorizer.metrics
            if metrics is not None:
                metrics.rpc("Check", outcome, perf_counter() - started)

    # -- the decision ------------------------------------------------------------------------------

    def _check(self, request: pb.CheckRequest) -> pb.CheckResponse:
        attrs = request.attributes
        http = attrs.request.http
        headers = _headers(http)
        request_id = headers.get("x-request-id", "")
        activation = self.store.current()
        if activation is None:
            return self._error("no snapshot is active yet", request_id)
        compiled = activation.compiled
        if self._scope != activation.id:
            self._scope = activation.id
            self._ok_cache = {}
            universe = compiled.context_key_universe()
            wanted = frozenset(k for k in universe if k.startswith(("route:", "ext:")))
            header_names = tuple(
                sorted(k[len("http:header/") :] for k in universe if k.startswith("http:header/"))
            )
            self._wanted = (wanted, header_names)
        method = http.method.upper()
        host = _host_without_port(http.host or headers.get(":authority", ""))
        path = (http.path or headers.get(":path", "/")).split("?", 1)[0]
        try:
            route, params = self._route(method, host, path)
            if route is None:
                if self.config.unmatched == "allow":
                    return self._ok(["anonymous"], activation.version, None)
                raise _Refusal(403, code_pb2.PERMISSION_DENIED, "NoRoute", f"no route for {method} {path}")
            entry, session, session_key, extra = self._caller(compiled, attrs, headers)
        except _Refusal as r:
            return self._denied(r.http, r.grpc_code, r.kind, r.reason, request_id)
        ctx = self._context(attrs, headers, params, extra)
        resource = route.resource_for(params)
        question = Question(entry, route.action, resource, None, ctx, False, session, session_key)
        t0 = perf_counter()
        decision = self.authorizer.decide(activation, question)  # fails closed, as Authorize does
        seconds = perf_counter() - t0
        metrics = self.authorizer.metrics
        if metrics is not None:
            metrics.decision("Check", decision.kind.value, seconds)
        log = self.authorizer.decision_log
        if log is not None:
            principal = entry.principal.arn or "anonymous"
            log.record("Check", request_id, activation.version, principal, route.action,
                       resource, ctx, decision, seconds)  # fmt: skip
        if decision.error is not None:
            return self._error(decision.reason, request_id)
        if decision.kind is not DecisionKind.ALLOW:
            return self._denied(
                403, code_pb2.PERMISSION_DENIED, decision.kind.value, decision.reason, request_id
            )
        return self._ok([entry.principal.arn or "anonymous"], activation.version, decision)

    def _route(self, method: str, host: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.config.routes:
            params = route.match(method, host, path)
            if params is not None:
                return route, params
        return None, {}

    def _caller(
        self, compiled: CompiledSnapshot, attrs: pb.AttributeContext, headers: Mapping[str, str]
    ) -> tuple[Any, Any, str, dict[str, object]]:
        cfg = self.config
        key_id = headers.get(cfg.access_key_header, "")
        if key_id:
            try:
                auth = self.sts.authenticate_keys(
                    compiled,
                    key_id,
                    headers.get(cfg.secret_key_header, ""),
                    headers.get(cfg.session_token_header, ""),
                )
            except StsError as err:
                http = 403 if err.code == "AccessDenied" else 401
                grpc_code = code_pb2.PERMISSION_DENIED if http == 403 else code_pb2.UNAUTHENTICATED
                raise _Refusal(http, grpc_code, err.code, err.message) from None
            return auth.entry, auth.session, auth.session_key, auth.request_keys(time.time())
        arn = ""
        if cfg.trusted_principal_header:
            arn = headers.get(cfg.trusted_principal_header, "")
        if not arn and attrs.source.principal:
            arn = cfg.spiffe_principals.get(attrs.source.principal, "")
        try:
            entry = compiled.resolve_principal(arn or "anonymous")
        except PrincipalError as exc:
            raise _Refusal(401, code_pb2.UNAUTHENTICATED, "InvalidPrincipal", str(exc)) from None
        return entry, None, "", {}

    def _context(
        self,
        attrs: pb.AttributeContext,
        headers: Mapping[str, str],
        params: Mapping[str, str],
        extra: Mapping[str, object],
    ) -> dict[str, object]:
        cfg = self.config
        ctx: dict[str, object] = {}
        peer = attrs.source.address.socket_address.address
        source_ip = peer
        hops = cfg.xff_trusted_hops
        if hops and headers.get("x-forwarded-for"):
            chain = [h.strip() for h in headers["x-forwarded-for"].split(",") if h.strip()]
            if len(chain) >= hops:
                source_ip = chain[-hops]
        if source_ip:
            ctx["aws:sourceip"] = source_ip
        secure = attrs.request.http.scheme == "https" or bool(attrs.source.principal or attrs.tls_session.sni)
        ctx["aws:securetransport"] = "true" if secure else "false"
        if "user-agent" in headers:
            ctx["aws:useragent"] = headers["user-agent"]
        if "referer" in headers:
            ctx["aws:referer"] = headers["referer"]
        wanted, header_names = self._wanted
        hidden = cfg.credential_headers
        for name in header_names:  # only headers some statement reads
            if name in headers and name not in hidden:
                ctx["http:header/" + name] = headers[name]
        if wanted:
            for name, value in params.items():
                key = "route:" + name.lower()
                if key in wanted:
                    ctx[key] = value
            for name, value in attrs.context_extensions.items():
                key = "ext:" + name.lower()
                if key in wanted:
                    ctx[key] = value
        ctx.update(extra)
        return ctx

    # -- responses -------------------------------------------------------------------------------

    def _ok(self, principal: list[str], version: int, decision: Decision | None) -> pb.CheckResponse:
        with_statement = self.config.matched_statement_header and decision is not None and decision.statements
        if not with_statement:
            hit = self._ok_cache.get(principal[0])
            if hit is not None:
                return hit
        out = pb.CheckResponse(status=status_pb2.Status(code=code_pb2.OK))
        ok = out.ok_response
        ok.headers.append(_header("x-iam-principal", principal[0]))
        ok.headers.append(_header("x-iam-snapshot-version", str(version)))
        if self.config.matched_statement_header and decision is not None and decision.statements:
            m = decision.matched[-1]
            ok.headers.append(
                _header("x-iam-matched-statement", f"{m.policy_kind.value} {m.policy} #{m.index}")
            )
        ok.headers_to_remove.extend(self.config.credential_headers)
        if not with_statement:  # never pass on a client's own claim of a matched statement
            ok.headers_to_remove.append("x-iam-matched-statement")
        if not with_statement:
            if len(self._ok_cache) >= 4096:
                self._ok_cache = {}
            self._ok_cache[principal[0]] = out
        return out

    @staticmethod
    def _body(kind: str, reason: str, request_id: str) -> str:
        return json.dumps({"decision": kind, "reason": reason, "request_id": request_id or None})

    def _denied(self, http: int, grpc_code: int, kind: str, reason: str, request_id: str) -> pb.CheckResponse:
        out = pb.CheckResponse(status=status_pb2.Status(code=grpc_code, message=reason))
        denied = out.denied_response
        denied.status.code = http  # type: ignore[assignment]
        denied.headers.append(_header("content-type", "application/json"))
        denied.body = self._body(kind, reason, request_id)
        return out

    def _error(self, reason: str, request_id: str) -> pb.CheckResponse:
        if self.config.on_error == "deny":
            return self._denied(403, code_pb2.PERMISSION_DENIED, "Error", reason, request_id)
        out = pb.CheckResponse(status=status_pb2.Status(code=code_pb2.UNAVAILABLE, message=reason))
        err = out.error_response
        err.status.code = 503  # type: ignore[assignment]
        err.headers.append(_header("content-type", "application/json"))
        err.body = self._body("Error", reason, request_id)
        return out


def _host_without_port(host: str) -> str:
    """``example.com:8080`` → ``example.com``; ``[::1]:80`` and ``[::1]`` → ``[::1]``."""
    host = host.lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _headers(http: pb.AttributeContext.HttpRequest) -> dict[str, str]:
    """Both header forms Envoy can send: the ``headers`` map, and ``header_map`` whose values
    may be in ``raw_value``; keys lower-cased."""
    out = {k.lower(): v for k, v in http.headers.items()}
    if not http.HasField("header_map"):
        return out
    for h in http.header_map.headers:
        value = h.value or h.raw_value.decode("utf-8", "replace")
        out[h.key.lower()] = value
    return out
