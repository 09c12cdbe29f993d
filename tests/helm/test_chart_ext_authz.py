"""Envoy ext_authz in the chart: the ConfigMap's config.json is one the sidecar loads, ``--config``
points into a mounted read-only ConfigMap directory, the route map rolls the pods (the snapshot
does not), the ext_authz-only listener on the pod IP is published and admitted as configured,
and NOTES.txt says where Envoy sends Check. (Lint, Kubernetes validity and the schema's refusals
run on the value sets in test_chart_validity.py; the real Check call in test_chart_runs.py.)"""

from __future__ import annotations

import copy
import json
import posixpath
import textwrap
from typing import Any

import pytest
import yaml

from sidecar.server.ext_authz import ExtAuthzConfig, load_config_file

from .chart import FULLNAME, NAMESPACE, VALUE_SETS, Manifests, flags, merged, mount_of, render, render_raw

EXT = VALUE_SETS["ext-authz"]
POD_IP = VALUE_SETS["ext-authz-pod-ip"]
CONFIG_MAP = f"{FULLNAME}-config"
CHECKSUM = "checksum/iam-sidecar-config"
NOTES = "iam-sidecar/templates/NOTES.txt"


def _config(m: Manifests) -> ExtAuthzConfig:
    config = load_config_file(m.one("ConfigMap", CONFIG_MAP)["data"]["config.json"].encode())
    assert config is not None, "no ext_authz section"
    return config


def _args(m: Manifests) -> dict[str, str]:
    return flags(m.sidecar["args"][1:])


def _checksum(values: dict[str, Any]) -> str:
    return str(render(values).pod["metadata"]["annotations"][CHECKSUM])


# -- the ConfigMap ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(n for n, v in VALUE_SETS.items() if v.get("extAuthz", {}).get("enabled"))
)
def test_every_created_config_loads_in_the_sidecar(name: str) -> None:
    m = render(VALUE_SETS[name])
    if m.values["extAuthz"]["existingConfigMap"]:
        assert m.maybe("ConfigMap", CONFIG_MAP) is None
        return
    config = _config(m)  # load_config_file raises ExtAuthzConfigError on any problem
    assert len(config.routes) == len(m.values["extAuthz"]["config"]["routes"])


def test_the_config_is_the_ext_authz_section_of_the_values() -> None:
    m = render(EXT)
    section = m.values["extAuthz"]["config"]
    document = json.loads(m.one("ConfigMap", CONFIG_MAP)["data"]["config.json"])
    assert document == {"ext_authz": section}  # no listen: Check on the Authorizer's listeners
    config = _config(m)
    assert [(r.method, r.path, r.action, r.resource, r.host) for r in config.routes] == [
        (r.get("method", "*"), r["path"], r["action"], r["resource"], r.get("host"))
        for r in section["routes"]
    ]
    assert config.listen is None
    assert (config.unmatched, config.on_error) == ("deny", "error")
    assert (config.access_key_header, config.secret_key_header, config.session_token_header) == (
        "x-storage-access-key-id",
        "x-storage-secret-access-key",
        "x-storage-session-token",
    )
    assert config.trusted_principal_header == "x-authenticated-principal"
    assert config.spiffe_principals == section["spiffe_principals"]
    assert config.xff_trusted_hops == 1 and config.matched_statement_header is True
    # The routes work as written: GET of an object is s3:GetObject on the object's ARN.
    (get,) = [r for r in config.routes if r.method == "GET" and r.action == "s3:GetObject"]
    params = get.match("GET", "storage.example.com", "/buckets/reports/objects/2026/q1.csv")
    assert params == {"bucket": "reports", "key": "2026/q1.csv"}
    assert get.resource_for(params) == "arn:aws:s3:::reports/2026/q1.csv"


def test_the_chart_defaults_make_a_config_that_loads() -> None:
    config = _config(render({"extAuthz": {"enabled": True}}))
    assert config.routes == () and config.unmatched == "deny" and config.on_error == "error"


def test_extauthz_port_becomes_the_listen_address() -> None:
    assert _config(render(POD_IP)).listen == "0.0.0.0:50054"
    assert _config(render({"extAuthz": {"enabled": True, "port": 50054}})).listen == "127.0.0.1:50054"


def test_nothing_of_ext_authz_is_rendered_when_disabled() -> None:
    m = render({"extAuthz": {"config": {"unmatched": "allow"}}})
    assert "--config" not in _args(m)
    assert m.maybe("ConfigMap", CONFIG_MAP) is None
    assert "iam-sidecar-config" not in [v["name"] for v in m.pod["spec"]["volumes"]]


# -- --config and its mount ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ext-authz", "ext-authz-pod-ip", "existing"])
def test_config_points_into_a_mounted_read_only_configmap_directory(name: str) -> None:
    m = render(VALUE_SETS[name])
    path = _args(m)["--config"]
    assert path == "/etc/iam-sidecar/config/config.json"
    mount = mount_of(m.sidecar, path)
    assert mount is not None, f"{path} is not under a mounted volume"
    assert mount["readOnly"] is True
    assert mount["mountPath"] == posixpath.dirname(path), "a directory, not a subPath file"
    assert "subPath" not in mount
    volume = m.volume(mount["name"])
    (item,) = volume["configMap"]["items"]
    assert item["path"] == posixpath.basename(path)
    existing = m.values["extAuthz"]["existingConfigMap"]
    if existing:
        assert volume["configMap"]["name"] == existing
        assert item["key"] == m.values["extAuthz"]["existingConfigMapKey"]
    else:
        assert volume["configMap"]["name"] == CONFIG_MAP
        assert item["key"] in m.one("ConfigMap", CONFIG_MAP)["data"]
    # The application does not see the sidecar's configuration.
    assert mount_of(m.app, path) is None


# -- the checksum: the route map rolls the pods, the snapshot does not -----------------------------


def test_a_route_change_rolls_the_pods() -> None:
    changed = copy.deepcopy(EXT)
    changed["extAuthz"]["config"]["routes"][2]["action"] = "s3:GetObjectVersion"
    assert render(changed).one("ConfigMap", CONFIG_MAP) != render(EXT).one("ConfigMap", CONFIG_MAP)
    assert _checksum(changed) != _checksum(EXT)
    assert _checksum(merged(EXT, {"extAuthz": {"config": {"on_error": "deny"}}})) != _checksum(EXT)
    assert _checksum(merged(POD_IP, {"extAuthz": {"port": 50055}})) != _checksum(POD_IP)


def test_a_snapshot_change_does_not_roll_the_pods() -> None:
    other = '{"version": 2, "partition": "aws", "accounts": []}\n'
    changed = merged(EXT, {"snapshot": {"content": other}})
    assert render(changed).one("ConfigMap", f"{FULLNAME}-snapshot")["data"]["snapshot.json"] == other
    assert _checksum(changed) == _checksum(EXT)


def test_an_existing_configmap_is_in_the_checksum_by_name() -> None:
    existing = {"extAuthz": {"enabled": True, "existingConfigMap": "routes-v1"}}
    assert _checksum(existing) != _checksum(
        merged(existing, {"extAuthz": {"existingConfigMap": "routes-v2"}})
    )


def test_disabled_ext_authz_leaves_the_checksum_alone() -> None:
    assert _checksum({"extAuthz": {"config": {"unmatched": "allow"}}}) == _checksum({})


# -- the ext_authz-only listener -------------------------------------------------------------------


def test_the_pod_ip_listener_is_published_and_admitted_only_from_the_peers() -> None:
    m = render(POD_IP)
    (port,) = [p for p in m.sidecar["ports"] if p["name"] == "iam-ext-authz"]
    assert port == {"name": "iam-ext-authz", "containerPort": 50054, "protocol": "TCP"}
    (service_port,) = [p for p in m.one("Service")["spec"]["ports"] if p["name"] == "ext-authz"]
    assert service_port == {
        "name": "ext-authz",
        "port": 50054,
        "targetPort": "iam-ext-authz",
        "protocol": "TCP",
        "appProtocol": "grpc",
    }
    rules = [
        r
        for r in m.one("NetworkPolicy")["spec"]["ingress"]
        if {"port": 50054, "protocol": "TCP"} in r["ports"]
    ]
    (rule,) = rules
    assert rule["from"] == m.values["networkPolicy"]["extAuthz"]["from"]
    # No peers: no rule at all (closed), never an allow-all rule.
    closed = render(merged(POD_IP, {"networkPolicy": {"extAuthz": {"from": []}}}))
    ports = [p["port"] for r in closed.one("NetworkPolicy")["spec"]["ingress"] for p in r["ports"]]
    assert 50054 not in ports


@pytest.mark.parametrize("values", [EXT, {"extAuthz": {"enabled": True, "port": 50054}}])
def test_a_loopback_listener_is_not_published(values: dict[str, Any]) -> None:
    m = render(
        merged(values, {"networkPolicy": {"enabled": True, "extAuthz": {"from": [{"podSelector": {}}]}}})
    )
    assert "iam-ext-authz" not in [p["name"] for p in m.sidecar["ports"]]
    assert "ext-authz" not in [p["name"] for p in m.one("Service")["spec"]["ports"]]
    ports = [p["port"] for r in m.one("NetworkPolicy")["spec"]["ingress"] for p in r["ports"]]
    assert 50054 not in ports and 50051 not in ports


# -- NOTES.txt -------------------------------------------------------------------------------------


def _block(notes: str, first: str) -> str:
    """The indented block of NOTES that starts with the line ``first``, up to a blank line, dedented."""
    lines = notes.splitlines()
    start = lines.index(first)
    end = lines.index("", start)
    return textwrap.dedent("\n".join(lines[start:end]))


def test_notes_say_where_envoy_and_istio_send_check() -> None:
    notes = render_raw(EXT)[NOTES]
    assert "Authorization/Check (gRPC, plaintext" in notes
    assert "at 127.0.0.1:50051 inside each pod" in notes
    assert "a change rolls the pods" in notes
    envoy = yaml.safe_load(_block(notes, "  http_filters:"))
    (cluster,) = envoy["clusters"]
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 50051}
    assert envoy["http_filters"][0]["typed_config"]["failure_mode_allow"] is False
    mesh, entry, policy = yaml.safe_load_all(_block(notes, "  meshConfig:"))
    (provider,) = mesh["meshConfig"]["extensionProviders"]
    assert provider["envoyExtAuthzGrpc"]["port"] == 50051
    assert entry["spec"]["hosts"] == [provider["envoyExtAuthzGrpc"]["service"]]
    assert entry["spec"]["endpoints"] == [{"address": "127.0.0.1"}]
    assert entry["metadata"]["namespace"] == policy["metadata"]["namespace"] == NAMESPACE
    assert policy["spec"]["action"] == "CUSTOM" and policy["spec"]["provider"] == {"name": provider["name"]}
    assert policy["spec"]["selector"]["matchLabels"] == render(EXT).pod["metadata"]["labels"]
    assert "WARNING: extAuthz.config.routes is empty" not in notes


def test_notes_for_the_pod_ip_listener_empty_routes_and_disabled() -> None:
    notes = render_raw(POD_IP)[NOTES]
    assert "at 127.0.0.1:50054 inside each pod" in notes
    assert f"Service {FULLNAME}.{NAMESPACE}.svc, port ext-authz" in notes
    empty = render_raw({"extAuthz": {"enabled": True}})[NOTES]
    assert "WARNING: extAuthz.config.routes is empty: every request is denied" in empty
    closed = render_raw(merged(POD_IP, {"networkPolicy": {"extAuthz": {"from": []}}}))[NOTES]
    assert "networkPolicy.extAuthz.from is empty" in closed
    assert "ext_authz" not in render_raw({})[NOTES]
