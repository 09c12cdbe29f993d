"""The rendered pod works: a stand-in for the kubelet materialises the sidecar's volumes from the
rendered ConfigMap and Secret (ConfigMap volumes in the kubelet's layout: a ``..data`` symlink
swapped atomically on update), and the real ``iam-sidecar`` runs with the rendered command and
arguments, paths moved under a temporary root. Then: the probes' health services answer, the
application's address decides, Envoy's ext_authz Check (the --config ConfigMap's routes) decides
on the Authorizer's TCP listener, Control answers with the token, /metrics is up, and a ConfigMap
update is activated without a restart.

Also: the named templates work from a parent chart (``index .Subcharts "iam-sidecar"``)."""

from __future__ import annotations

import base64
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import helm_python as helm
import pytest
import yaml

from sidecar import remote
from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2, ext_authz_min_pb2_grpc
from sidecar.api.v1 import authorizer_pb2
from sidecar.sts import new_keyset_json

from .chart import CHART, REPO, VALUE_SETS, Manifests, render

EXAMPLE = REPO / "examples" / "snapshot.json"
ALICE = "arn:aws:iam::222222222222:user/alice"
OBJECT = "arn:aws:s3:::example-payments-data/report.csv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_atomic_dir(target: Path, files: dict[str, bytes]) -> None:
    """What the kubelet does for a ConfigMap/Secret volume: files in a timestamped directory,
    ``..data`` pointing at it, and each visible name a symlink through ``..data``."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / f"..{time.time_ns()}"
    stamp.mkdir()
    for name, data in files.items():
        (stamp / name).write_bytes(data)
    tmp = target / "..data_tmp"
    tmp.symlink_to(stamp.name)
    os.replace(tmp, target / "..data")
    for name in files:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def _object_data(doc: dict[str, Any]) -> dict[str, bytes]:
    if doc["kind"] == "Secret":
        return {k: base64.b64decode(v) for k, v in doc["data"].items()}
    return {k: v.encode() for k, v in doc["data"].items()}


def _materialise(m: Manifests, root: Path) -> Callable[[str], Path]:
    """Create the sidecar container's volumes under ``root``; returns the path mapper."""
    volumes = {v["name"]: v for v in m.pod["spec"]["volumes"]}
    for mount in m.sidecar["volumeMounts"]:
        volume = volumes[mount["name"]]
        where = root / mount["mountPath"].lstrip("/")
        if "emptyDir" in volume:
            where.mkdir(parents=True)
        elif "configMap" in volume:
            data = _object_data(m.one("ConfigMap", volume["configMap"]["name"]))
            _write_atomic_dir(where, {i["path"]: data[i["key"]] for i in volume["configMap"]["items"]})
        else:
            files = {}
            for source in volume["projected"]["sources"]:
                data = _object_data(m.one("Secret", source["secret"]["name"]))
                files.update({i["path"]: data[i["key"]] for i in source["secret"]["items"]})
            _write_atomic_dir(where, files)
    return lambda path: root / path.lstrip("/")


def _relocate(args: list[str], root: Path) -> list[str]:
    """Absolute paths in the arguments, moved under ``root``."""
    out = []
    for arg in args:
        name, sep, value = arg.partition("=")
        if sep:
            parts = []
            for part in value.split(","):
                if part.startswith("unix:/"):
                    part = f"unix:{root}{part[len('unix:') :]}"
                elif part.startswith("/"):
                    part = f"{root}{part}"
                parts.append(part)
            arg = f"{name}={','.join(parts)}"
        out.append(arg)
    return out


def _wait(what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sidecar exited ({proc.returncode}) waiting for {what}"
        try:
            if check():
                return
        except remote.RemoteError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _serving(address: str, service: str) -> bool:
    return remote.health(address, service) == "SERVING"


def _check(address: str, path: str, headers: dict[str, str]) -> ext_authz_min_pb2.CheckResponse:
    """One ext_authz Check, as Envoy sends it for ``GET path`` over TLS (the example bucket
    denies aws:SecureTransport false)."""
    http = {
        "method": "GET",
        "path": path,
        "host": "storage.example.com",
        "scheme": "https",
        "headers": headers,
    }
    request = ext_authz_min_pb2.CheckRequest(attributes={"request": {"http": http}})
    with grpc.insecure_channel(address) as channel:
        response: ext_authz_min_pb2.CheckResponse = ext_authz_min_pb2_grpc.AuthorizationStub(channel).Check(
            request, timeout=5
        )
    return response


@pytest.fixture
def short_root() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~107 bytes: keep the root short.
    root = Path("/tmp") / f"iamsc-helm-{secrets.token_hex(4)}"
    root.mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_rendered_pod_serves(short_root: Path) -> None:
    ports = {name: _free_port() for name in ("authorizer", "control", "health", "metrics")}
    token = secrets.token_hex(16)
    values = {
        "authorizer": {"tcp": {"port": ports["authorizer"]}},
        "control": {"enabled": True, "port": ports["control"], "token": {"value": token}},
        "health": {"port": ports["health"]},
        "metrics": {"port": ports["metrics"]},
        "snapshot": {"content": EXAMPLE.read_text()},
        "sts": {"keyset": {"value": new_keyset_json("2026-11")}},
        "sidecar": {"drainGrace": 1},
        "extAuthz": VALUE_SETS["ext-authz"]["extAuthz"],  # the storage API routes
    }
    m = render(values)
    at = _materialise(m, short_root)
    container = m.sidecar
    command = shutil.which(container["command"][0], path=os.path.dirname(sys.executable))
    assert command is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAM_SIDECAR_")}
    proc = subprocess.Popen(
        [command, *_relocate(container["args"], short_root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        health = f"127.0.0.1:{ports['health']}"
        # The probes: startup and liveness ask "liveness", readiness asks "".
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            service: str = container[probe]["grpc"].get("service", "")
            _wait(f"{probe} SERVING", functools.partial(_serving, health, service), proc)

        # The application's address (its environment) reaches the Authorizer through the socket.
        (address,) = [e["value"] for e in m.app["env"] if e["name"] == "IAM_SIDECAR_AUTHORIZER_ADDR"]
        answer = remote.authorize(f"unix:{at(address.removeprefix('unix:'))}", ALICE, "s3:GetObject", OBJECT)
        assert authorizer_pb2.Decision.Name(answer.decision) == "DECISION_ALLOW"
        assert answer.snapshot_version == 1

        # Envoy's ext_authz Check on the Authorizer's TCP listener, decided by the routes of the
        # --config ConfigMap: GET of an object is s3:GetObject on the object's ARN.
        envoy = f"127.0.0.1:{ports['authorizer']}"
        path = "/buckets/example-payments-data/objects/report.csv"
        allowed = _check(envoy, path, {"x-authenticated-principal": ALICE})
        assert allowed.status.code == 0 and allowed.HasField("ok_response"), allowed
        added = {h.header.key: h.header.value for h in allowed.ok_response.headers}
        assert added["x-iam-principal"] == ALICE
        assert "x-authenticated-principal" in allowed.ok_response.headers_to_remove
        denied = _check(envoy, path, {})  # anonymous
        assert denied.HasField("denied_response") and denied.denied_response.status.code == 403, denied

        token_file = at("/etc/iam-sidecar/secrets/control-token")
        control = f"127.0.0.1:{ports['control']}"
        status = remote.status(control, token_file)
        assert status.serving and status.version == 1

        with urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics']}/metrics", timeout=5) as page:
            assert "iam_sidecar_serving 1.0" in page.read().decode()

        # A ConfigMap update reaches the watcher: no restart, the new version is served.
        newer = EXAMPLE.read_text().replace('"version": 1,', '"version": 2,', 1)
        assert newer != EXAMPLE.read_text()
        _write_atomic_dir(at("/etc/iam-sidecar/snapshot"), {"snapshot.json": newer.encode()})
        _wait("version 2", lambda: remote.status(control, token_file).version == 2, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err.decode()
    assert '"sts_keys": ["2026-11"]' in err.decode()  # the keyset Secret was read


# -- the named templates from a parent chart -------------------------------------------------------

PARENT_DEPLOYMENT = """\
{{- $iam := index .Subcharts "iam-sidecar" }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-shop
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  template:
    metadata:
      labels:
        app.kubernetes.io/name: shop
      annotations:
        {{- include "iam-sidecar.podAnnotations" $iam | nindent 8 }}
    spec:
      securityContext:
        runAsNonRoot: true
        fsGroup: 10001
      containers:
        - name: shop
          image: shop:1.0
          env:
            {{- include "iam-sidecar.appEnv" $iam | nindent 12 }}
          volumeMounts:
            {{- include "iam-sidecar.appVolumeMounts" $iam | nindent 12 }}
        {{- include "iam-sidecar.container" $iam | nindent 8 }}
      volumes:
        {{- include "iam-sidecar.volumes" $iam | nindent 8 }}
"""


def test_the_named_templates_work_from_a_parent_chart(tmp_path: Path) -> None:
    parent = tmp_path / "shop"
    (parent / "templates").mkdir(parents=True)
    shutil.copytree(CHART, parent / "charts" / "iam-sidecar")
    (parent / "Chart.yaml").write_text(
        "apiVersion: v2\nname: shop\nversion: 1.0.0\nappVersion: '1.0'\n"
        "dependencies:\n  - name: iam-sidecar\n    version: 0.1.0\n"
    )
    values = {
        "iam-sidecar": {
            "deployment": {"enabled": False},
            "podSelector": {"app.kubernetes.io/name": "shop"},
            "control": {"enabled": True, "token": {"value": "t"}},
        }
    }
    (parent / "values.yaml").write_text(yaml.safe_dump(values))
    (parent / "templates" / "deployment.yaml").write_text(PARENT_DEPLOYMENT)
    assert helm.lint(parent, strict=True, with_subcharts=True)["errors"] == []
    with helm.Chart.load(parent) as chart:
        out = chart.render({}, name="demo", namespace="prod")
    docs = [
        d for key, text in out.items() if not key.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d
    ]
    m = Manifests(docs, {})
    kinds = sorted(m.kinds())
    assert kinds == ["ConfigMap", "Deployment", "Secret", "Service"]  # the subchart's own Deployment is off
    pod = m.one("Deployment")["spec"]["template"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["shop", "iam-sidecar"]
    assert "checksum/iam-sidecar-config" in pod["metadata"]["annotations"]
    assert {v["name"] for v in pod["spec"]["volumes"]} == {
        "iam-sidecar-socket",
        "iam-sidecar-state",
        "iam-sidecar-snapshot",
        "iam-sidecar-secrets",
    }
    shop = pod["spec"]["containers"][0]
    assert shop["volumeMounts"] == [{"name": "iam-sidecar-socket", "mountPath": "/var/run/iam-sidecar"}]
    # The subchart's Service selects the parent's pods.
    assert m.one("Service")["spec"]["selector"] == {"app.kubernetes.io/name": "shop"}
    assert m.one("Secret")["metadata"]["name"] == "demo-iam-sidecar"
