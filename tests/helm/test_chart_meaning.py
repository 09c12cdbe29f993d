"""What the Kubernetes schemas cannot see: the rendered objects fit together (selectors, volumes,
ports, paths), the sidecar is configured as the issue requires (listeners, probes, security,
checksum), the Prometheus Operator objects name real ports and metrics, and the container
arguments are ones `iam-sidecar serve` accepts."""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

import helm_python as helm
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sidecar import cli
from sidecar.server.metrics import Metrics, registry_for
from sidecar.store import SnapshotStore

from .chart import (
    CHART,
    FULLNAME,
    NAMESPACE,
    VALUE_SETS,
    Manifests,
    flags,
    mount_of,
    render,
    render_raw,
)


def _subset(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(params=sorted(VALUE_SETS))  # every value set renders the example Deployment
def manifests(request: pytest.FixtureRequest) -> Manifests:
    return render(VALUE_SETS[request.param])


# -- objects select what they should -------------------------------------------------------------


def test_selectors_match_the_pod_labels(manifests: Manifests) -> None:
    labels = manifests.pod["metadata"]["labels"]
    deployment = manifests.one("Deployment")
    assert _subset(deployment["spec"]["selector"]["matchLabels"], labels)
    service = manifests.maybe("Service")
    if service is not None:
        assert _subset(service["spec"]["selector"], labels)
    for doc in manifests.all("NetworkPolicy"):
        assert _subset(doc["spec"]["podSelector"]["matchLabels"], labels)
    for doc in manifests.all("PodDisruptionBudget"):
        assert _subset(doc["spec"]["selector"]["matchLabels"], labels)
    for doc in manifests.all("ServiceMonitor"):
        assert service is not None
        assert _subset(doc["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert NAMESPACE in doc["spec"]["namespaceSelector"]["matchNames"]


def test_pod_selector_value_selects_other_pods() -> None:
    selector = {"app.kubernetes.io/part-of": "shop"}
    m = render({"podSelector": selector, "podDisruptionBudget": {"enabled": True}})
    assert m.one("Service")["spec"]["selector"] == selector
    assert m.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    # The example Deployment's pods carry the label too, so they stay selected, by both.
    assert _subset(selector, m.pod["metadata"]["labels"])
    assert _subset(m.one("Deployment")["spec"]["selector"]["matchLabels"], m.pod["metadata"]["labels"])


def test_pod_labels_cannot_take_the_deployment_selector_away() -> None:
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("podSelector sets the pod label app.kubernetes.io/name")
    ):
        render({"podSelector": {"app.kubernetes.io/name": "shop"}})
    # Without the example Deployment there is nothing to conflict with.
    m = render({"podSelector": {"app.kubernetes.io/name": "shop"}, "deployment": {"enabled": False}})
    assert m.one("Service")["spec"]["selector"] == {"app.kubernetes.io/name": "shop"}


def test_every_volume_mount_names_a_volume_of_the_pod(manifests: Manifests) -> None:
    volumes = [v["name"] for v in manifests.pod["spec"]["volumes"]]
    assert len(volumes) == len(set(volumes))
    for container in manifests.containers():
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes, (container["name"], mount)


def test_the_referenced_configmaps_and_secrets_exist_or_were_named_in_values(manifests: Manifests) -> None:
    values = manifests.values
    for volume in manifests.pod["spec"]["volumes"]:
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            created = manifests.maybe("ConfigMap", name)
            if created is None:
                assert name in {
                    values["snapshot"]["existingConfigMap"],
                    values["extAuthz"]["existingConfigMap"],
                }
                assert name
            else:
                for item in volume["configMap"]["items"]:
                    assert item["key"] in created["data"]
        for source in volume.get("projected", {}).get("sources", []):
            name = source["secret"]["name"]
            created = manifests.maybe("Secret", name)
            if created is None:
                existing = {
                    values["control"]["token"]["existingSecret"],
                    values["control"]["snapshotPublicKey"]["existingSecret"],
                    values["control"]["tls"]["existingSecret"],
                    values["sts"]["keyset"]["existingSecret"],
                }
                assert name in existing - {""}
            else:
                for item in source["secret"]["items"]:
                    assert item["key"] in created["data"]


# -- the sidecar's listeners, paths and probes ---------------------------------------------------


def _args(m: Manifests) -> dict[str, str]:
    container = m.sidecar
    assert container["command"] == ["iam-sidecar"]
    assert container["args"][0] == "serve"
    return flags(container["args"][1:])


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_probes_are_native_grpc_on_the_health_listener(manifests: Manifests) -> None:
    sidecar = manifests.sidecar
    args = _args(manifests)
    health = args["--health-listen"]
    assert health.startswith("0.0.0.0:"), "kubelet probes reach the pod IP"
    ports = {p["containerPort"]: p for p in sidecar["ports"]}
    expected = {
        "startupProbe": "liveness",
        "readinessProbe": "",
        "livenessProbe": "liveness",
    }
    for probe, service in expected.items():
        grpc = sidecar[probe]["grpc"]
        assert grpc["port"] in ports, f"{probe} port is not a container port"
        assert grpc["port"] == _port(health)
        assert grpc.get("service", "") == service
    assert ports[_port(health)]["name"] == "iam-health"


def test_the_snapshot_is_a_watched_configmap_directory(manifests: Manifests) -> None:
    args = _args(manifests)
    if not manifests.values["snapshot"]["enabled"]:
        assert "--snapshot" not in args
        return
    path = args["--snapshot"]
    mount = mount_of(manifests.sidecar, path + "/snapshot.json")
    assert mount is not None and mount["mountPath"] == path, "a directory, not a subPath file"
    assert "subPath" not in mount, "subPath mounts do not receive ConfigMap updates"
    volume = manifests.volume(mount["name"])
    assert [item["path"] for item in volume["configMap"]["items"]] == ["snapshot.json"]


def test_the_socket_is_on_an_empty_dir_shared_by_app_and_sidecar(manifests: Manifests) -> None:
    listen = _args(manifests)["--listen"].split(",")
    unix = [a.removeprefix("unix:") for a in listen if a.startswith("unix:")]
    tcp = [a for a in listen if not a.startswith("unix:")]
    assert all(a.startswith("127.0.0.1:") for a in tcp), "the Authorizer stays on the pod's loopback"
    env = {e["name"]: e.get("value") for e in manifests.app["env"]}
    if not manifests.values["authorizer"]["unix"]["enabled"]:
        assert unix == [] and "volumeMounts" not in manifests.app
        assert env["IAM_SIDECAR_AUTHORIZER_ADDR"] == tcp[0]
        return
    (socket,) = unix
    in_sidecar = mount_of(manifests.sidecar, socket)
    in_app = mount_of(manifests.app, socket)
    assert in_sidecar is not None and in_app is not None
    assert in_sidecar["name"] == in_app["name"]
    assert in_sidecar["mountPath"] == in_app["mountPath"]
    assert not in_sidecar.get("readOnly")
    assert "emptyDir" in manifests.volume(in_sidecar["name"])
    assert env["IAM_SIDECAR_AUTHORIZER_ADDR"] == f"unix:{socket}"


def test_every_path_the_sidecar_writes_is_a_writable_empty_dir(manifests: Manifests) -> None:
    args = _args(manifests)
    written = [args["--state-dir"]]
    written += [a.removeprefix("unix:") for a in args["--listen"].split(",") if a.startswith("unix:")]
    for path in written:
        mount = mount_of(manifests.sidecar, path)
        assert mount is not None, f"{path} is on the read-only root filesystem"
        assert not mount.get("readOnly")
        assert "emptyDir" in manifests.volume(mount["name"])
    # --state-dir is a subdirectory the sidecar creates itself (0700), not the mount point.
    state = mount_of(manifests.sidecar, args["--state-dir"])
    assert state is not None and state["mountPath"] != args["--state-dir"]


FILE_FLAGS = {
    "--control-token-file": "control-token",
    "--snapshot-public-key": "snapshot-public-key.pem",
    "--sts-keyset": "sts-keyset.json",
    "--control-tls-cert": "control-tls.crt",
    "--control-tls-key": "control-tls.key",
    "--control-tls-client-ca": "control-client-ca.crt",
}


def test_every_file_flag_points_at_a_projected_secret_item(manifests: Manifests) -> None:
    args = _args(manifests)
    used = [f for f in FILE_FLAGS if f in args]
    for flag in used:
        path = args[flag]
        mount = mount_of(manifests.sidecar, path)
        assert mount is not None and mount.get("readOnly") is True, flag
        volume = manifests.volume(mount["name"])
        relative = path[len(mount["mountPath"]) + 1 :]
        items = [i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]]
        assert relative in items, (flag, items)
        assert relative == FILE_FLAGS[flag]


def test_every_secret_file_flag_is_used_when_every_secret_is_given() -> None:
    assert set(_args(render(VALUE_SETS["everything"]))) >= set(FILE_FLAGS)
    assert set(_args(render(VALUE_SETS["existing"]))) >= {
        "--control-token-file",
        "--snapshot-public-key",
        "--sts-keyset",
    }


def test_the_control_listener_binds_the_pod_ip_and_requires_the_token(manifests: Manifests) -> None:
    args = _args(manifests)
    if not manifests.values["control"]["enabled"]:
        assert args["--control"] == "off"
        assert "--control-token-file" not in args
        return
    assert args["--control"] == f"0.0.0.0:{manifests.values['control']['port']}"
    assert "--control-token-file" in args


def test_the_service_is_headless_and_never_exposes_the_authorizer(manifests: Manifests) -> None:
    service = manifests.maybe("Service")
    values = manifests.values
    ext_authz_on_pod_ip = values["extAuthz"]["enabled"] and values["extAuthz"]["address"] == "0.0.0.0"
    if service is None:
        assert not values["control"]["enabled"] and not values["metrics"]["enabled"]
        assert not ext_authz_on_pod_ip
        return
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True  # pods waiting for a push
    by_name = {p["name"]: p for p in manifests.sidecar["ports"]}
    exposed = set()
    for port in service["spec"]["ports"]:
        target = by_name[port["targetPort"]]
        assert target["containerPort"] == port["port"]
        exposed.add(port["targetPort"])
    assert exposed <= {"iam-control", "iam-metrics", "iam-ext-authz"}
    assert ("iam-ext-authz" in exposed) == ext_authz_on_pod_ip
    assert values["authorizer"]["tcp"]["port"] not in {p["port"] for p in service["spec"]["ports"]}
    # The Authorizer is not even a container port: it listens on loopback and the socket only.
    assert all(p["containerPort"] != values["authorizer"]["tcp"]["port"] for p in manifests.sidecar["ports"])


def test_the_service_monitor_scrapes_the_metrics_listener() -> None:
    m = render(VALUE_SETS["everything"])
    (endpoint,) = m.one("ServiceMonitor")["spec"]["endpoints"]
    (port,) = [p for p in m.one("Service")["spec"]["ports"] if p["name"] == endpoint["port"]]
    (container_port,) = [p for p in m.sidecar["ports"] if p["name"] == port["targetPort"]]
    metrics = _args(m)["--metrics-listen"]
    assert metrics.startswith("0.0.0.0:")
    assert container_port["containerPort"] == port["port"] == _port(metrics)
    assert endpoint["path"] == "/metrics"
    assert m.one("ServiceMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_security_context_is_locked_down(manifests: Manifests) -> None:
    sc = manifests.sidecar["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001 and sc["runAsGroup"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = manifests.pod["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The application joins the socket's group (the socket is 0660).
    assert pod["securityContext"]["fsGroup"] == sc["runAsGroup"]
    assert pod["automountServiceAccountToken"] is False
    app = manifests.app["securityContext"]
    assert app["readOnlyRootFilesystem"] is True and app["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert set(manifests.sidecar["resources"][kind]) == {"cpu", "memory"}


def test_run_as_user_can_be_left_to_the_platform() -> None:
    m = render({"sidecar": {"runAsUser": None, "runAsGroup": None}})
    sc = m.sidecar["securityContext"]
    assert "runAsUser" not in sc and "runAsGroup" not in sc
    assert sc["runAsNonRoot"] is True


def test_native_sidecar_is_an_init_container_that_keeps_running() -> None:
    m = render(VALUE_SETS["everything"])
    (init,) = m.pod["spec"]["initContainers"]
    assert init["name"] == "iam-sidecar" and init["restartPolicy"] == "Always"
    assert [c["name"] for c in m.pod["spec"]["containers"]] == ["app"]
    assert "restartPolicy" not in render().sidecar


# -- the checksum annotation ---------------------------------------------------------------------

CHECKSUM = "checksum/iam-sidecar-config"
TOKEN = {"control": {"enabled": True, "token": {"value": "first-token"}}}


def _checksum(values: dict[str, Any]) -> str:
    return str(render(values).pod["metadata"]["annotations"][CHECKSUM])


def test_the_checksum_ignores_the_snapshot_content() -> None:
    other = '{"version": 2, "partition": "aws", "accounts": []}\n'
    changed = {**TOKEN, "snapshot": {"content": other}}
    assert render(changed).one("ConfigMap")["data"]["snapshot.json"] == other
    assert render(changed).one("ConfigMap") != render(TOKEN).one("ConfigMap")
    assert _checksum(changed) == _checksum(TOKEN)


def test_the_checksum_follows_the_secrets_and_the_configuration() -> None:
    rotated = {"control": {"enabled": True, "token": {"value": "second-token"}}}
    assert _checksum(rotated) != _checksum(TOKEN)
    assert _checksum({**TOKEN, "sts": {"keyset": {"value": '{"keys": []}'}}}) != _checksum(TOKEN)
    assert _checksum({**TOKEN, "sidecar": {"logLevel": "debug"}}) != _checksum(TOKEN)
    assert _checksum(TOKEN) == _checksum(TOKEN)


def test_created_secrets_hold_the_values() -> None:
    secret = render(VALUE_SETS["everything"]).one("Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["token"] == "a-control-token"
    assert data["keyset.json"] == '{"keys": []}'
    assert data["snapshot-public-key.pem"].startswith("-----BEGIN PUBLIC KEY-----")


# -- monitoring objects --------------------------------------------------------------------------


def _exposed_metric_names() -> set[str]:
    """Every sample name the sidecar's /metrics can carry, from a real scrape of the collector."""
    metrics = Metrics(SnapshotStore(None))
    metrics.decision("Authorize", "Allow", 2e-5)
    metrics.rpc("Authorize", "OK", 5e-5)
    text = generate_latest(registry_for(metrics)).decode()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + s for s in suffixes.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def test_prometheus_rule_expressions_use_only_exposed_metrics() -> None:
    rule = render(VALUE_SETS["everything"]).one("PrometheusRule")
    (group,) = rule["spec"]["groups"]
    exposed = _exposed_metric_names()
    assert "iam_sidecar_snapshot_load_failures_total" in exposed  # the suffix logic is right
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "IamSidecarNoSnapshot",
        "IamSidecarSnapshotStale",
        "IamSidecarSnapshotLoadFailures",
        "IamSidecarDecisionLatencyHigh",
    }
    for name, alert in alerts.items():
        used = set(re.findall(r"\biam_sidecar_[a-z0-9_]+", alert["expr"]))
        assert used, name
        assert used <= exposed, (name, used - exposed)
        assert alert["labels"]["severity"] and alert["for"]
        assert f'namespace="{NAMESPACE}",job="{FULLNAME}"' in alert["expr"]
    assert alerts["IamSidecarNoSnapshot"]["expr"].endswith("== 0")
    assert alerts["IamSidecarSnapshotStale"]["expr"].startswith("time() - iam_sidecar_snapshot_loaded")
    assert alerts["IamSidecarSnapshotStale"]["expr"].endswith("> 604800")
    assert alerts["IamSidecarSnapshotLoadFailures"]["expr"].startswith(
        "increase(iam_sidecar_snapshot_load_failures_total{"
    )
    assert "[10m]) > 0" in alerts["IamSidecarSnapshotLoadFailures"]["expr"]
    assert alerts["IamSidecarDecisionLatencyHigh"]["expr"].startswith(
        "histogram_quantile(0.99, sum by (le) (rate(iam_sidecar_decision_duration_seconds_bucket{"
    )
    assert alerts["IamSidecarDecisionLatencyHigh"]["expr"].endswith("[5m]))) > 0.005")
    # Prometheus templating survives Helm's: the annotations still hold {{ $labels.pod }}.
    assert "{{ $labels.pod }}" in alerts["IamSidecarNoSnapshot"]["annotations"]["description"]


# The Prometheus Operator's v1 fields the chart may use (kubernetes-validate has no CRD schemas).
SERVICE_MONITOR_SPEC = {"selector", "namespaceSelector", "endpoints", "jobLabel"}
ENDPOINT = {"port", "path", "scheme", "interval", "scrapeTimeout", "relabelings", "metricRelabelings"}
RULE = {"alert", "expr", "for", "labels", "annotations"}
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")


def test_the_crd_objects_use_only_operator_fields() -> None:
    m = render(VALUE_SETS["everything"])
    for doc in (m.one("ServiceMonitor"), m.one("PrometheusRule")):
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        assert doc["metadata"]["name"] == FULLNAME
        assert all(isinstance(v, str) for v in doc["metadata"]["labels"].values())
    monitor = m.one("ServiceMonitor")["spec"]
    assert set(monitor) <= SERVICE_MONITOR_SPEC
    assert set(monitor["selector"]) == {"matchLabels"}
    for endpoint in monitor["endpoints"]:
        assert set(endpoint) <= ENDPOINT
        assert DURATION.fullmatch(endpoint["interval"]) and DURATION.fullmatch(endpoint["scrapeTimeout"])
    rules = m.one("PrometheusRule")["spec"]
    assert set(rules) == {"groups"}
    for group in rules["groups"]:
        assert set(group) == {"name", "rules"}
        for rule in group["rules"]:
            assert set(rule) <= RULE and {"alert", "expr"} <= set(rule)
            assert DURATION.fullmatch(rule["for"])
            assert isinstance(rule["expr"], str)
            assert all(isinstance(v, str) for v in (*rule["labels"].values(), *rule["annotations"].values()))


def test_prometheus_rule_thresholds_and_selector_are_values() -> None:
    values = {
        "prometheusRule": {
            "enabled": True,
            "selector": 'cluster="eu1"',
            "alerts": {
                "snapshotStale": {"maxAgeSeconds": 3600},
                "decisionLatency": {"p99Seconds": 0.02},
                "loadFailures": {"enabled": False},
            },
        }
    }
    (group,) = render(values).one("PrometheusRule")["spec"]["groups"]
    exprs = {r["alert"]: r["expr"] for r in group["rules"]}
    assert "IamSidecarSnapshotLoadFailures" not in exprs
    assert exprs["IamSidecarSnapshotStale"].endswith('{cluster="eu1"} > 3600')
    assert exprs["IamSidecarDecisionLatencyHigh"].endswith("> 0.02")


def test_the_dashboard_configmap_carries_the_dashboard_and_the_grafana_label() -> None:
    m = render(VALUE_SETS["everything"])
    dashboard = m.one("ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Authorization"}
    text = (CHART / "dashboards" / "iam-sidecar.json").read_text()
    assert dashboard["data"]["iam-sidecar.json"] == text
    json.loads(dashboard["data"]["iam-sidecar.json"])
    relabelled = render(
        {"grafanaDashboard": {"enabled": True, "labels": {"grafana_dashboard": None, "dashboards": "iam"}}}
    )
    labels = relabelled.one("ConfigMap", f"{FULLNAME}-dashboard")["metadata"]["labels"]
    assert labels["dashboards"] == "iam" and "grafana_dashboard" not in labels


def test_the_network_policy_admits_control_and_metrics_only_from_the_peers() -> None:
    m = render(VALUE_SETS["everything"])
    values = m.values
    rules = m.one("NetworkPolicy")["spec"]["ingress"]
    by_port: dict[int, list[dict[str, Any]]] = {}
    for rule in rules:
        for port in rule["ports"]:
            by_port.setdefault(port["port"], []).append(rule)
    (control,) = by_port[values["control"]["port"]]
    assert control["from"] == values["networkPolicy"]["control"]["from"]
    (metrics,) = by_port[values["metrics"]["port"]]
    assert metrics["from"] == values["networkPolicy"]["metrics"]["from"]
    (health,) = by_port[values["health"]["port"]]
    assert "from" not in health  # kubelet probes
    assert values["authorizer"]["tcp"]["port"] not in by_port
    assert m.one("NetworkPolicy")["spec"]["policyTypes"] == ["Ingress"]
    # No peers: the port gets no rule at all (closed), never an allow-all rule.
    closed = render({**VALUE_SETS["everything"], "networkPolicy": {"enabled": True}})
    ports = [p["port"] for r in closed.one("NetworkPolicy")["spec"]["ingress"] for p in r["ports"]]
    assert ports == [values["health"]["port"]]


def test_the_pod_disruption_budget_takes_numbers_and_percentages() -> None:
    assert render(VALUE_SETS["everything"]).one("PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    assert render(VALUE_SETS["existing"]).one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 0
    spec = render({"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}).one("PodDisruptionBudget")
    assert spec["spec"] == {"minAvailable": 1, "selector": spec["spec"]["selector"]}


# -- the arguments are ones the real CLI accepts -------------------------------------------------


def _serve_help(capsys: pytest.CaptureFixture[str]) -> set[str]:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", "--help"])
    return set(re.findall(r"--[a-z][a-z-]*", capsys.readouterr().out))


def test_every_flag_in_the_container_args_exists_in_serve_help(
    manifests: Manifests, capsys: pytest.CaptureFixture[str]
) -> None:
    known = _serve_help(capsys)
    for flag in flags(manifests.sidecar["args"]):
        assert flag in known, f"{flag} is not an `iam-sidecar serve` flag"


def test_the_container_args_make_a_valid_serve_configuration(
    manifests: Manifests, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real `iam-sidecar serve` command line up to ServerConfig.check(); only the
    final run() is replaced."""
    captured: list[Any] = []

    async def fake_run(config: Any) -> int:
        captured.append(config)
        return 0

    monkeypatch.setattr("sidecar.server.app.run", fake_run)
    for name in list(os.environ):
        if name.startswith("IAM_SIDECAR_"):
            monkeypatch.delenv(name)
    assert cli.main(manifests.sidecar["args"]) == 0
    (config,) = captured
    args = _args(manifests)
    assert config.health_listen == args["--health-listen"]
    assert ",".join(config.listen) == args["--listen"]
    assert str(config.state_dir) == args["--state-dir"]
    assert (config.control is not None) == manifests.values["control"]["enabled"]
    assert (config.metrics_listen is not None) == manifests.values["metrics"]["enabled"]
    assert (config.config_file is not None) == manifests.values["extAuthz"]["enabled"]
    if config.config_file is not None:
        assert str(config.config_file) == args["--config"]


def test_notes_say_how_to_check_health_and_push() -> None:
    notes = render_raw(VALUE_SETS["everything"])["iam-sidecar/templates/NOTES.txt"]
    assert "iam-sidecar health --server 127.0.0.1:50053" in notes
    assert "--service liveness" in notes
    assert "A push reaches ONE pod per" in notes
    assert "iam-sidecar push snapshot.json --server 127.0.0.1:50052 --token-file token" in notes
    assert f"{FULLNAME}.{NAMESPACE}.svc" in notes
    default = render_raw({})["iam-sidecar/templates/NOTES.txt"]
    assert "Control (push, status, rollback) is off" in default
    assert "--set-file snapshot.content=snapshot.json" in default
