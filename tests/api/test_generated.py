"""The committed generated code (sidecar/api/v1) must be exactly what ``make proto`` makes
from proto/ with the pinned grpcio-tools: edit the .proto, run ``make proto``, commit both."""

from __future__ import annotations

from pathlib import Path

import google.rpc
import pytest
from grpc_tools import protoc

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"
GENERATED = REPO / "sidecar" / "api"


def _generate(out: Path) -> None:
    sources = (PROTO_DIR / "sidecar" / "api").rglob("*.proto")
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in sources)
    include = str(Path(protoc.__file__).parent / "_proto")
    googleapis = str(Path(google.rpc.__path__[0]).parents[1])  # google/rpc/status.proto
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"-I{googleapis}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    assert protoc.main(args) == 0, "protoc failed"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts
    }


def test_generated_code_is_current(tmp_path: Path) -> None:
    _generate(tmp_path)
    fresh = _files(tmp_path / "sidecar" / "api")
    committed = _files(GENERATED)
    assert fresh, "protoc generated nothing"
    stale = sorted(name for name in fresh if committed.get(name) != fresh[name])
    extra = sorted(set(committed) - set(fresh))
    assert not stale, f"stale generated code (run `make proto`): {stale}"
    assert not extra, f"generated files without a .proto: {extra}"


@pytest.mark.parametrize(
    ("service", "methods"),
    [
        ("Authorizer", {"Authorize", "AuthorizeBatch", "AssumeRole", "GetCallerIdentity"}),
        ("Control", {"PushSnapshot", "ValidateSnapshot", "GetStatus", "Rollback"}),
    ],
)
def test_services_carry_the_stable_names(service: str, methods: set[str]) -> None:
    from sidecar.api.v1 import authorizer_pb2, control_pb2

    module = authorizer_pb2 if service == "Authorizer" else control_pb2
    descriptor = module.DESCRIPTOR.services_by_name[service]
    assert descriptor.full_name == f"iam_sidecar.v1.{service}"
    assert {m.name for m in descriptor.methods} == methods
