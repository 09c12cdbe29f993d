"""The Dockerfile, read as text (there is no container engine here): a multi-stage build whose
final stage runs `iam-sidecar` as a non-root user with a health check, installs the runtime
dependencies only, and agrees with the chart (user, ports, image tag)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

import pytest
import yaml

from sidecar import cli

from .chart import CHART, REPO, chart_values

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        (arg,) = self.all(keyword)
        return arg


def _instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip() if pending else stripped.removesuffix("\\")
        if stripped.endswith("\\"):
            continue
        keyword, _, rest = pending.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
        pending = ""
    return out


def _stages() -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions():
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda g: args[g.group(1)], parts[0])
            stages.append(Stage(base, parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _exec_form(arg: str) -> list[str]:
    value = json.loads(arg)
    assert isinstance(value, list), f"not the exec (JSON) form: {arg}"
    return [str(v) for v in value]


def test_multi_stage_on_slim_python_311() -> None:
    _, stages = _stages()
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    assert stages[0].name == "build"
    final = stages[-1]
    copies = final.all("COPY")
    assert any(c.startswith("--from=build ") and "/opt/iam-sidecar" in c for c in copies)
    assert not [c for c in copies if not c.startswith("--from=")], "the final stage copies no sources"


def test_the_final_stage_runs_as_a_numeric_non_root_user_matching_the_chart() -> None:
    final = _stages()[1][-1]
    user = final.all("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so that runAsNonRoot can verify it"
    assert gid.isdigit() and int(gid) != 0
    sidecar = chart_values()["sidecar"]
    assert (int(uid), int(gid)) == (sidecar["runAsUser"], sidecar["runAsGroup"])
    assert chart_values()["deployment"]["podSecurityContext"]["fsGroup"] == int(gid)


def test_entrypoint_cmd_and_healthcheck(capsys: pytest.CaptureFixture[str]) -> None:
    final = _stages()[1][-1]
    assert _exec_form(final.one("ENTRYPOINT")) == ["iam-sidecar"]
    cmd = _exec_form(final.one("CMD"))
    assert cmd[0] == "serve"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", "--help"])
    known = set(re.findall(r"--[a-z][a-z-]*", capsys.readouterr().out))
    assert {a for a in cmd if a.startswith("--")} <= known
    options = dict(zip(cmd[1::2], cmd[2::2], strict=True))
    health_port = options["--health-listen"].rpartition(":")[2]
    assert options["--control"] == "off"  # Control needs a token file: opt in

    healthcheck = final.one("HEALTHCHECK")
    probe = _exec_form(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert probe[:2] == ["iam-sidecar", "health"]
    assert probe[probe.index("--server") + 1] == f"127.0.0.1:{health_port}"
    assert cli.build_parser().parse_args(probe[1:]).command == "health"


def test_runtime_dependencies_only() -> None:
    text = "\n".join(f"{kw} {rest}" for kw, rest in _instructions())  # comments may mention them
    assert "grpcio-tools" not in text and "grpc_tools" not in text
    assert "[dev]" not in text and ".[" not in text, "no extras: runtime dependencies only"
    _, stages = _stages()
    installs = [r for s in stages for r in s.all("RUN") if "pip install" in r]
    assert installs and all(re.search(r"pip install \.( |$)", r) for r in installs)
    final = stages[-1]
    for run in final.all("RUN"):
        assert "pip install" not in run
        assert not re.search(r"\b(apt-get|apt) install\b", run)
    assert not re.search(r"\b(gcc|build-essential|make)\b", " ".join(final.all("RUN")))


def test_the_image_tag_is_the_chart_app_version_and_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    assert chart_values()["image"] == {"repository": "iam-sidecar", "tag": "", "pullPolicy": "IfNotPresent"}
    assert f"docker build -t iam-sidecar:{version} ." in DOCKERFILE.read_text()


def test_dockerignore_is_an_allow_list_of_what_the_build_copies() -> None:
    lines = [
        ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    build = _stages()[1][0]
    for copy in build.all("COPY"):
        *sources, _destination = copy.split()
        for source in sources:
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
    assert "**/__pycache__" in lines
