"""The ``iam-sidecar`` command line.

``test CASES.jsonl|DIR``: run decision cases, one line per failure, then ``N passed, M failed``.
``validate-policy FILE --kind KIND``: every problem of a policy document with its JSON path.
``validate SNAPSHOT``: every problem of a snapshot document.
``check --snapshot S --principal ARN --action A --resource R``: one decision, locally.
``bench --snapshot S --requests R.jsonl [--json]``: decision speed on a snapshot.
``serve [--snapshot PATH] [--listen ADDR,...] [--control ADDR] ...``: run the sidecar.
``push SNAPSHOT --server ADDR --token-file F [--signing-key F]``: activate a snapshot remotely.
``status --server ADDR --token-file F``: what a running sidecar serves.
``health --server ADDR``: exit 0 when the sidecar is SERVING.

Every ``serve`` flag can also be set by an environment variable ``IAM_SIDECAR_<FLAG>``
(``--listen`` → ``IAM_SIDECAR_LISTEN``); a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .engine.cases import CaseError, CaseResult, run_case
from .engine.decision import Decision
from .engine.request import normalize_context
from .policy import PolicyKind, Problem, loads_json, validate_policy


def _case_lines(target: Path) -> Iterator[tuple[str, int, str]]:
    files = sorted(target.glob("*.jsonl")) if target.is_dir() else [target]
    for file in files:
        with file.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip() and not line.lstrip().startswith("//"):
                    yield str(file), number, line


def cmd_test(args: argparse.Namespace) -> int:
    target = Path(args.cases)
    if not target.exists():
        print(f"iam-sidecar test: {target}: no such file or directory", file=sys.stderr)
        return 2
    passed = failed = 0
    now = time.time()
    for file, number, line in _case_lines(target):
        where = f"{file}:{number}"
        try:
            result: CaseResult = run_case(loads_json(line), now=now)
        except (CaseError, ValueError) as exc:
            failed += 1
            print(f"FAIL {where}: malformed case: {exc}")
            continue
        except Exception as exc:  # one broken case must not hide the others' results
            failed += 1
            print(f"FAIL {where}: error while running the case: {type(exc).__name__}: {exc}")
            continue
        if result.passed:
            passed += 1
            if args.verbose:
                print(f"ok   {result.case_id}: {result.got}")
        else:
            failed += 1
            got = f"expected {result.expected}, got {result.got}"
            print(f"FAIL {result.case_id} ({where}): {got}: {result.reason}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def cmd_validate_policy(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        print(f"iam-sidecar validate-policy: {exc}", file=sys.stderr)
        return 2
    return _report(validate_policy(data, PolicyKind(args.kind)), f"OK: valid {PolicyKind(args.kind).label}")


def _report(problems: Sequence[Problem], ok: str) -> int:
    """Every problem on its own line; exit 1 when one is an error, else print ``ok``."""
    for problem in problems:
        print(problem)
    errors = sum(p.is_error for p in problems)
    if errors:
        print(f"{errors} error(s)", file=sys.stderr)
        return 1
    print(ok + (f" ({len(problems)} warning(s))" if problems else ""))
    return 0


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def _snapshot_bytes(path: str) -> bytes:
    """A snapshot file, or a directory holding ``snapshot.json`` (ConfigMap style)."""
    target = Path(path)
    return (target / "snapshot.json").read_bytes() if target.is_dir() else _read(path)


def cmd_validate(args: argparse.Namespace) -> int:
    from .snapshot import validate_snapshot

    try:
        data = _snapshot_bytes(args.snapshot)
    except OSError as exc:
        print(f"iam-sidecar validate: {exc}", file=sys.stderr)
        return 2
    return _report(validate_snapshot(data), "OK: valid snapshot")


def _compiled(path: str, timings: dict[str, float] | None = None) -> Any:
    from .engine.compile import compile_snapshot
    from .snapshot import SnapshotValidationError, load_snapshot

    try:
        started = time.perf_counter()
        snapshot = load_snapshot(_snapshot_bytes(path))
        if timings is not None:
            timings["load_s"] = time.perf_counter() - started
        return compile_snapshot(snapshot)
    except SnapshotValidationError as exc:
        for problem in exc.errors:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"iam-sidecar: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _context_args(pairs: Sequence[str], lists: Sequence[str]) -> dict[str, object]:
    context: dict[str, object] = {}
    for pair, multi in [(p, False) for p in pairs] + [(p, True) for p in lists]:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"iam-sidecar check: --context takes KEY=VALUE, not {pair!r}")
        context[key] = [v for v in value.split(",") if v] if multi else value
    return context


def cmd_check(args: argparse.Namespace) -> int:
    from .engine.principal import PrincipalError

    if args.server:
        return _check_remote(args)
    compiled = _compiled(args.snapshot)
    try:
        entry = compiled.resolve_principal(args.principal)
    except PrincipalError as exc:
        print(f"iam-sidecar check: --principal: {exc}", file=sys.stderr)
        return 2
    context = normalize_context(_context_args(args.context, args.context_list))
    decision = compiled.authorize(
        entry,
        args.action,
        args.resource,
        resource_account=args.resource_account,
        context=context,
        now=time.time(),
        explain=args.explain or args.json,
    )
    if args.json:
        print(json.dumps(_decision_json(decision, compiled.version), indent=2))
    else:
        print(f"{decision.kind.value}: {decision.reason} (snapshot version {compiled.version})")
        if args.explain:
            for matched in decision.matched:
                print(f"  matched: {matched}")
            if decision.missing_keys:
                print(f"  missing context keys: {', '.join(decision.missing_keys)}")
    return 0 if decision.allowed else 1


def _check_remote(args: argparse.Namespace) -> int:
    from .api.v1 import authorizer_pb2
    from .remote import RemoteError, authorize

    context = _context_args(args.context, args.context_list)
    try:
        response = authorize(
            args.server,
            args.principal,
            args.action,
            args.resource,
            resource_account=args.resource_account,
            context=context,  # type: ignore[arg-type]
            explain=args.explain or args.json,
            min_snapshot_version=args.min_snapshot_version,
        )
    except RemoteError as exc:
        where = f" [{exc.field}]" if exc.field else ""
        print(f"iam-sidecar check: {exc}{where}", file=sys.stderr)
        return 2
    kind = authorizer_pb2.Decision.Name(response.decision).removeprefix("DECISION_")
    label = {"ALLOW": "Allow", "EXPLICIT_DENY": "ExplicitDeny", "IMPLICIT_DENY": "ImplicitDeny"}.get(
        kind, kind
    )
    ex = response.explanation
    if args.json:
        out = {
            "decision": label,
            "reason": ex.reason,
            "snapshot_version": response.snapshot_version,
            "matched": [
                {
                    "policy_kind": m.policy_kind,
                    "policy": m.policy,
                    "sid": m.sid or None,
                    "index": m.statement_index,
                    "effect": m.effect,
                }
                for m in ex.matched_statements
            ],
            "missing_keys": list(ex.missing_context_keys),
        }
        print(json.dumps(out, indent=2))
    else:
        reason = f": {ex.reason}" if ex.reason else ""
        print(f"{label}{reason} (snapshot version {response.snapshot_version})")
        for m in ex.matched_statements if args.explain else ():
            sid = f" Sid {m.sid}" if m.sid else ""
            print(
                f"  matched: {m.effect} in {m.policy_kind} policy {m.policy}"
                f" statement {m.statement_index}{sid}"
            )
        if args.explain and ex.missing_context_keys:
            print(f"  missing context keys: {', '.join(ex.missing_context_keys)}")
    return 0 if label == "Allow" else 1


def _decision_json(decision: Decision, version: int) -> dict[str, object]:
    return {
        "decision": decision.kind.value,
        "reason": decision.reason,
        "snapshot_version": version,
        "matched": [
            {
                "policy_kind": m.policy_kind.value,
                "policy": m.policy,
                "sid": m.sid,
                "index": m.index,
                "effect": m.effect,
            }
            for m in decision.matched
        ],
        "missing_keys": list(decision.missing_keys),
    }


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import run_benchmark

    timings: dict[str, float] = {}
    compiled = _compiled(args.snapshot, timings)
    requests = []
    for file, number, line in _case_lines(Path(args.requests)):
        try:
            requests.append(loads_json(line))
        except ValueError as exc:
            print(f"iam-sidecar bench: {file}:{number}: {exc}", file=sys.stderr)
            return 2
    try:
        result = run_benchmark(compiled, requests, seconds=args.seconds, load_s=timings.get("load_s", 0.0))
    except ValueError as exc:
        print(f"iam-sidecar bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


def _env(flag: str, default: str | None = None) -> str | None:
    return os.environ.get("IAM_SIDECAR_" + flag.upper().replace("-", "_"), default)


def _serve_parser(sub: Any) -> None:
    from .server.app import DEFAULT_CONTROL, DEFAULT_LISTEN

    s = sub.add_parser(
        "serve",
        help="run the sidecar (Authorizer, Control, health)",
        description="Every flag can also be set as IAM_SIDECAR_<FLAG> (e.g. IAM_SIDECAR_LISTEN).",
    )
    s.add_argument(
        "--snapshot",
        default=_env("snapshot"),
        help="snapshot file, or a directory holding snapshot.json (watched)",
    )
    s.add_argument(
        "--listen",
        default=_env("listen", ",".join(DEFAULT_LISTEN)),
        help="Authorizer listeners, comma-separated",
    )
    s.add_argument(
        "--control", default=_env("control", DEFAULT_CONTROL), help='Control listener ("off" to disable)'
    )
    s.add_argument("--control-token-file", default=_env("control-token-file"))
    s.add_argument("--control-tls-cert", default=_env("control-tls-cert"))
    s.add_argument("--control-tls-key", default=_env("control-tls-key"))
    s.add_argument("--control-tls-client-ca", default=_env("control-tls-client-ca"))
    s.add_argument(
        "--snapshot-public-key",
        default=_env("snapshot-public-key"),
        help="Ed25519 key; pushes must be signed",
    )
    s.add_argument(
        "--state-dir",
        default=_env("state-dir"),
        help="persisted snapshots (default $XDG_STATE_HOME/iam-sidecar)",
    )
    s.add_argument(
        "--max-snapshot-bytes", type=int, default=int(_env("max-snapshot-bytes", str(64 * 1024 * 1024)) or 0)
    )
    s.add_argument("--max-version-wait", type=float, default=float(_env("max-version-wait", "5") or 0))
    s.add_argument("--drain-grace", type=float, default=float(_env("drain-grace", "10") or 0))
    s.add_argument("--health-listen", default=_env("health-listen"), help="health-only HOST:PORT for probes")
    s.add_argument(
        "--sts-keyset", default=_env("sts-keyset"), help="STS keys (JSON); default: a random in-memory key"
    )
    s.add_argument(
        "--config", default=_env("config"), help="JSON settings file: the ext_authz route map (docs/envoy.md)"
    )
    s.add_argument(
        "--metrics-listen", default=_env("metrics-listen"), help="Prometheus /metrics on HOST:PORT"
    )
    s.add_argument(
        "--decision-log", default=_env("decision-log", "off"), help='decision log: "stdout", a file, or "off"'
    )
    s.add_argument(
        "--decision-log-sample",
        type=float,
        default=float(_env("decision-log-sample", "1") or 1),
        help="the fraction of allows logged (every deny is logged); default 1",
    )
    s.add_argument(
        "--decision-log-mask",
        default=_env("decision-log-mask", ""),
        metavar="KEYS",
        help="comma-separated context keys whose values are masked in the decision log",
    )
    s.add_argument(
        "--log-level", default=_env("log-level", "info"), choices=["debug", "info", "warning", "error"]
    )
    s.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .server.app import ConfigError, ServerConfig, run
    from .store import default_state_dir

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    control = None if (args.control or "").lower() in ("", "off", "none") else args.control
    try:
        config = ServerConfig(
            snapshot=path(args.snapshot),
            listen=tuple(a.strip() for a in args.listen.split(",") if a.strip()),
            control=control,
            control_token_file=path(args.control_token_file),
            control_tls_cert=path(args.control_tls_cert),
            control_tls_key=path(args.control_tls_key),
            control_tls_client_ca=path(args.control_tls_client_ca),
            snapshot_public_key=path(args.snapshot_public_key),
            state_dir=path(args.state_dir) or default_state_dir(),
            max_snapshot_bytes=args.max_snapshot_bytes,
            max_version_wait=args.max_version_wait,
            drain_grace=args.drain_grace,
            health_listen=args.health_listen or None,
            sts_keyset=path(args.sts_keyset),
            metrics_listen=args.metrics_listen or None,
            config_file=path(args.config),
            decision_log=None if (args.decision_log or "off").lower() == "off" else args.decision_log,
            decision_log_sample=args.decision_log_sample,
            decision_log_mask=tuple(k.strip() for k in args.decision_log_mask.split(",") if k.strip()),
        )
        config.check()
    except ConfigError as exc:
        print(f"iam-sidecar serve: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run(config))


def cmd_sts_keygen(args: argparse.Namespace) -> int:
    from .sts import new_keyset_json

    print(new_keyset_json(args.id))
    return 0


def cmd_assume_role(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from .remote import RemoteError, assume_role

    tags = []
    for pair in args.tag:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(f"iam-sidecar assume-role: --tag takes KEY=VALUE, not {pair!r}", file=sys.stderr)
            return 2
        tags.append((key, value))
    try:
        out = assume_role(
            args.server,
            principal=args.principal,
            credentials=(args.access_key_id, args.secret_access_key or "", args.session_token or "")
            if args.access_key_id
            else None,
            role_arn=args.role_arn,
            role_session_name=args.role_session_name,
            duration_seconds=args.duration_seconds,
            policy=_read(args.policy).decode() if args.policy else None,
            policy_arns=args.policy_arn,
            tags=tags,
            transitive_tag_keys=args.transitive_tag_key,
            external_id=args.external_id,
            serial_number=args.serial_number,
            token_code=args.token_code,
            source_identity=args.source_identity,
        )
    except (OSError, ValueError) as exc:
        print(f"iam-sidecar assume-role: {exc}", file=sys.stderr)
        return 2
    except RemoteError as exc:
        where = f" [{exc.field}]" if exc.field else ""
        print(f"iam-sidecar assume-role: {exc}{where}", file=sys.stderr)
        return 1 if exc.code.name in ("PERMISSION_DENIED", "INVALID_ARGUMENT") else 2
    if args.env:
        c = out.credentials
        print(f"export AWS_ACCESS_KEY_ID={c.access_key_id}")
        print(f"export AWS_SECRET_ACCESS_KEY={c.secret_access_key}")
        print(f"export AWS_SESSION_TOKEN={c.session_token}")
    else:
        print(json.dumps(MessageToDict(out, preserving_proto_field_name=True), indent=2))
    return 0


_UNASKED = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "UNAUTHENTICATED", "UNKNOWN", "UNIMPLEMENTED"})


def cmd_push(args: argparse.Namespace) -> int:
    from .remote import RemoteError, push

    try:
        data = _snapshot_bytes(args.snapshot)
        response = push(
            args.server, data, args.token_file, signing_key=args.signing_key, timeout=args.timeout
        )
    except (OSError, ValueError) as exc:
        print(f"iam-sidecar push: {exc}", file=sys.stderr)
        return 2
    except RemoteError as exc:
        print(f"iam-sidecar push: {exc}", file=sys.stderr)
        # 1: the sidecar refused this snapshot (signature, size, …); 2: it could not be asked.
        return 2 if exc.code.name in _UNASKED else 1
    report = response.report
    for problem in report.problems:
        tag = "" if problem.severity == "error" else " (warning)"
        print(f"{problem.path}: {problem.code}{tag}: {problem.message}", file=sys.stderr)
    if response.accepted:
        what = "already active (no change)" if response.unchanged else "accepted"
        print(f"{what}: serving snapshot version {response.active_version}")
        if response.persist_error:
            print(f"warning: not persisted: {response.persist_error}", file=sys.stderr)
        return 0
    active = response.active_version or "none"
    print(f"refused ({report.code}): {report.reason} — still serving version {active}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from .remote import RemoteError, status

    try:
        st = status(args.server, args.token_file)
    except (OSError, RemoteError) as exc:
        print(f"iam-sidecar status: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(MessageToDict(st, always_print_fields_with_no_presence=True), indent=2))
    else:
        if not st.serving:
            print("not serving: no snapshot is active")
        else:
            loaded = st.loaded_at.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
            print(f"serving snapshot version {st.version} (activation {st.activation_id}) from {st.source}")
            print(f"  sha256 {st.sha256}, loaded {loaded}, compiled in {st.compile_seconds:.3f} s")
            print("  " + ", ".join(f"{k} {v}" for k, v in sorted(st.counts.items())))
            if st.previous_version:
                print(f"  previous version {st.previous_version}; highest ever {st.highest_version}")
        if st.last_error:
            print(f"  last error: {st.last_error}")
    return 0 if st.serving else 1


def cmd_health(args: argparse.Namespace) -> int:
    from .remote import RemoteError, health

    try:
        state = health(args.server, args.service, timeout=args.timeout)
    except RemoteError as exc:
        print(f"iam-sidecar health: {exc}", file=sys.stderr)
        return 1
    print(state)
    return 0 if state == "SERVING" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iam-sidecar", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("test", help="run decision cases (JSON lines) and report failures")
    t.add_argument("cases", help="a .jsonl file, or a directory of them")
    t.add_argument("-v", "--verbose", action="store_true", help="also list passing cases")
    t.set_defaults(func=cmd_test)

    v = sub.add_parser("validate-policy", help="validate one IAM policy document")
    v.add_argument("file", help="policy JSON file, or - for standard input")
    v.add_argument("--kind", required=True, choices=[k.value for k in PolicyKind])
    v.set_defaults(func=cmd_validate_policy)

    vs = sub.add_parser("validate", help="validate a snapshot document (every problem, exit 1 if any)")
    vs.add_argument("snapshot", help="snapshot JSON file, a directory holding snapshot.json, or -")
    vs.set_defaults(func=cmd_validate)

    c = sub.add_parser("check", help="decide one request against a local snapshot or a running sidecar")
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("--snapshot", help="decide locally against this snapshot file")
    where.add_argument("--server", metavar="ADDR", help="ask a running sidecar (unix:/path or HOST:PORT)")
    c.add_argument("--min-snapshot-version", type=int, default=0, help="with --server: wait for this version")
    c.add_argument("--principal", required=True, help='principal ARN, or "anonymous"')
    c.add_argument("--action", required=True)
    c.add_argument("--resource", default="*")
    c.add_argument("--resource-account")
    c.add_argument("--context", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument(
        "--context-list", action="append", default=[], metavar="KEY=V1,V2", help="a multivalued context key"
    )
    c.add_argument("--explain", action="store_true", help="show matched statements and missing keys")
    c.add_argument("--json", action="store_true", help="print the decision as JSON")
    c.set_defaults(func=cmd_check)

    b = sub.add_parser("bench", help="measure decision speed on a snapshot")
    b.add_argument("--snapshot", required=True)
    b.add_argument("--requests", required=True, help="JSON lines, each a request object of the case format")
    b.add_argument("--seconds", type=float, default=3.0, help="measuring time per mode")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_bench)

    _serve_parser(sub)

    p = sub.add_parser("push", help="push a snapshot to a running sidecar's Control listener")
    p.add_argument("snapshot", help="snapshot JSON file, a directory holding snapshot.json, or -")
    p.add_argument("--server", required=True, metavar="ADDR", help="the Control listener")
    p.add_argument("--token-file", required=True, type=Path, help="file holding the bearer token")
    p.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM or 32 raw bytes) to sign with")
    p.add_argument("--timeout", type=float, default=120.0)
    p.set_defaults(func=cmd_push)

    st = sub.add_parser("status", help="show what a running sidecar serves")
    st.add_argument("--server", required=True, metavar="ADDR", help="the Control listener")
    st.add_argument("--token-file", required=True, type=Path)
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    st.set_defaults(func=cmd_status)

    ar = sub.add_parser("assume-role", help="get temporary role credentials from a running sidecar")
    ar.add_argument("--server", required=True, metavar="ADDR", help="an Authorizer listener")
    who = ar.add_mutually_exclusive_group(required=True)
    who.add_argument("--principal", help="the caller as a trusted principal ARN")
    who.add_argument(
        "--access-key-id",
        help="the caller's access key (AKIA… with --secret-access-key, ASIA… with --session-token)",
    )
    ar.add_argument("--secret-access-key")
    ar.add_argument("--session-token")
    ar.add_argument("--role-arn", required=True)
    ar.add_argument("--role-session-name", required=True)
    ar.add_argument("--duration-seconds", type=int, default=0)
    ar.add_argument("--policy", help="a session policy JSON file (or - for standard input)")
    ar.add_argument("--policy-arn", action="append", default=[], help="a managed session policy (repeatable)")
    ar.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="a session tag (repeatable)"
    )
    ar.add_argument("--transitive-tag-key", action="append", default=[], metavar="KEY")
    ar.add_argument("--external-id")
    ar.add_argument("--serial-number")
    ar.add_argument("--token-code")
    ar.add_argument("--source-identity")
    ar.add_argument("--env", action="store_true", help="print export AWS_… lines instead of JSON")
    ar.set_defaults(func=cmd_assume_role)

    kg = sub.add_parser("sts-keygen", help="print an STS keyset file with one new random key")
    kg.add_argument("--id", required=True, help="the key id, e.g. 2026-11")
    kg.set_defaults(func=cmd_sts_keygen)

    h = sub.add_parser("health", help="exit 0 when a running sidecar is SERVING (for health checks)")
    h.add_argument("--server", required=True, metavar="ADDR", help="an Authorizer or health listener")
    h.add_argument("--service", default="", help='the health service: "" (readiness, default) or "liveness"')
    h.add_argument("--timeout", type=float, default=5.0)
    h.set_defaults(func=cmd_health)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
