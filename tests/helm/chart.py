"""The chart as the tests see it: real Helm rendering (helm_python, the Helm Go SDK; no helm
binary), the rendered manifests parsed, and the value sets the tests render with.

``render`` follows feasibility B4: NOTES.txt is dropped, disabled templates (whitespace) are
skipped, and multi-document templates are split with ``yaml.safe_load_all``.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "iam-sidecar"
RELEASE = "demo"
NAMESPACE = "prod"
FULLNAME = "demo-iam-sidecar"
KUBE_VERSIONS = ("1.29.0", "1.33.0")
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})

SIDECAR = "iam-sidecar"  # the default container name
APP = "app"

# The chart's ext_authz example (a storage API), also used by chart-testing.
EXT_AUTHZ_VALUES = CHART / "ci" / "ext-authz-values.yaml"
_GATEWAY_PEER = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}}]

_CONTROL_PEER = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "control-plane"}}}]
_PROM_PEER = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]

# Named value sets: each is rendered, linted and validated; the meaning tests run on all.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "uds-only": {
        "authorizer": {"tcp": {"enabled": False}},
        "sidecar": {"extraArgs": ["--decision-log-mask=app:token"]},
    },
    "tcp-only": {"authorizer": {"unix": {"enabled": False}, "tcp": {"port": 7001}}},
    "everything": {
        "control": {
            "enabled": True,
            "token": {"value": "a-control-token"},
            "snapshotPublicKey": {"value": "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n"},
            "tls": {"enabled": True, "existingSecret": "control-tls", "clientAuth": True},
        },
        "sts": {"keyset": {"value": '{"keys": []}'}},
        "sidecar": {"nativeSidecar": True},
        "decisionLog": {"mode": "stdout", "sample": 0.25, "mask": ["app:secret", "app:ssn"]},
        "deployment": {
            "replicas": 3,
            "podLabels": {"team": "payments"},
            "app": {"ports": [{"name": "http", "containerPort": 8080}]},
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Authorization"}},
        "networkPolicy": {
            "enabled": True,
            "control": {"from": _CONTROL_PEER},
            "metrics": {"from": _PROM_PEER},
            "extraIngress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}],
        },
        "podDisruptionBudget": {"enabled": True, "minAvailable": "50%"},
    },
    "existing": {
        "control": {
            "enabled": True,
            "token": {"existingSecret": "control-token", "existingSecretKey": "bearer"},
            "snapshotPublicKey": {"existingSecret": "snapshot-signing", "existingSecretKey": "ed25519.pub"},
        },
        "sts": {"keyset": {"existingSecret": "sts-keys"}},
        "snapshot": {"existingConfigMap": "org-snapshot", "existingConfigMapKey": "org.json"},
        "extAuthz": {
            "enabled": True,
            "existingConfigMap": "storage-routes",
            "existingConfigMapKey": "iam.json",
        },
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 0},
    },
    # The installation example of docs/operations.md (the snapshot as --set-file gives it).
    "install-example": {
        "image": {"repository": "ghcr.io/example/iam-sidecar"},
        "control": {"enabled": True, "token": {"existingSecret": "iam-sidecar-control"}},
        "snapshot": {"content": (REPO / "examples" / "snapshot.json").read_text()},
        "deployment": {
            "replicas": 2,
            "app": {
                "image": "ghcr.io/example/shop:1.0",
                "ports": [{"name": "http", "containerPort": 8080}],
            },
        },
    },
    # Envoy in the pod, Check on the Authorizer's TCP listener: the example values file.
    "ext-authz": yaml.safe_load(EXT_AUTHZ_VALUES.read_text()),
    # An ext_authz-only listener on the pod IP (a gateway in other pods), no Authorizer TCP.
    "ext-authz-pod-ip": {
        "authorizer": {"tcp": {"enabled": False}},
        "extAuthz": {
            "enabled": True,
            "port": 50054,
            "address": "0.0.0.0",
            "config": {
                "routes": [{"method": "GET", "path": "/{key+}", "action": "s3:GetObject", "resource": "*"}],
                "on_error": "deny",
            },
        },
        "networkPolicy": {"enabled": True, "extAuthz": {"from": _GATEWAY_PEER}},
    },
    "push-only": {
        "snapshot": {"enabled": False},
        "control": {"enabled": True, "token": {"value": "t0ken"}},
        "metrics": {"enabled": False},
    },
}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged into a copy of ``base`` (as Helm coalesces -f files)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@functools.cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


@functools.cache
def _render(values_json: str) -> tuple[str, ...]:
    out = _chart().render(json.loads(values_json), name=RELEASE, namespace=NAMESPACE)
    return tuple(text for key, text in sorted(out.items()) if not key.endswith("/NOTES.txt") and text.strip())


def render_raw(values: dict[str, Any], *, name: str = RELEASE) -> dict[str, str]:
    """Every rendered file, NOTES.txt included (for the NOTES test)."""
    return _chart().render(values, name=name, namespace=NAMESPACE)


@functools.cache
def _defaults() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def chart_values() -> dict[str, Any]:
    """The chart's defaults (values.yaml), a fresh copy."""
    return copy.deepcopy(_defaults())


def effective(values: dict[str, Any]) -> dict[str, Any]:
    return merged(chart_values(), values)


@dataclass
class Manifests:
    """The parsed documents of one render, with lookups by kind and name."""

    docs: list[dict[str, Any]]
    values: dict[str, Any]  # the effective values (defaults + the value set)

    def kinds(self) -> list[str]:
        return [d["kind"] for d in self.docs]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def maybe(self, kind: str, name: str | None = None) -> dict[str, Any] | None:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) <= 1, f"{len(found)} {kind} objects named {name}"
        return found[0] if found else None

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        doc = self.maybe(kind, name)
        assert doc is not None, f"no {kind} {name or ''} in {self.kinds()}"
        return doc

    @property
    def pod(self) -> dict[str, Any]:
        """The example Deployment's pod template."""
        return dict(self.one("Deployment")["spec"]["template"])

    def containers(self) -> list[dict[str, Any]]:
        spec = self.pod["spec"]
        return [*spec.get("initContainers", []), *spec["containers"]]

    def container(self, name: str) -> dict[str, Any]:
        (found,) = [c for c in self.containers() if c["name"] == name]
        return found

    @property
    def sidecar(self) -> dict[str, Any]:
        return self.container(SIDECAR)

    @property
    def app(self) -> dict[str, Any]:
        return self.container(APP)

    def volume(self, name: str) -> dict[str, Any]:
        (found,) = [v for v in self.pod["spec"]["volumes"] if v["name"] == name]
        return dict(found)


def render(values: dict[str, Any] | None = None) -> Manifests:
    values = values or {}
    docs = [
        doc for text in _render(json.dumps(values, sort_keys=True)) for doc in yaml.safe_load_all(text) if doc
    ]
    return Manifests(docs, effective(values))


def flags(args: list[str]) -> dict[str, str]:
    """``--flag=value`` (and bare ``--flag``) arguments as a mapping; ``serve`` dropped."""
    out: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            assert name not in out, f"{name} given twice"
            out[name] = value
    return out


def mount_of(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The volumeMount of ``container`` whose mountPath contains ``path`` (the deepest one)."""
    best = None
    for mount in container.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(root) and (best is None or len(root) > len(best["mountPath"])):
            best = mount
    return best


def walk_schema_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (key path, value) of a values tree, depth first."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield (*prefix, key), value
            yield from walk_schema_paths(value, (*prefix, key))
