"""The chart is well-formed: it renders and lints (strict) for every value set, every manifest
is a valid Kubernetes object of 1.29 and 1.33 (strict: unknown fields fail), values.schema.json
covers every value and refuses bad ones with a message naming the value, and combinations the
schema cannot express fail the render with the fix."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from .chart import CHART, CRD_KINDS, KUBE_VERSIONS, VALUE_SETS, chart_values, render

SETS = sorted(VALUE_SETS)


@pytest.mark.parametrize("name", SETS)
def test_lint_strict_has_no_errors(name: str) -> None:
    result = helm.lint(CHART, VALUE_SETS[name], strict=True)
    assert result["errors"] == [], result


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", SETS)
def test_every_manifest_is_a_valid_kubernetes_object(name: str, version: str) -> None:
    manifests = render(VALUE_SETS[name])
    checked = 0
    for doc in manifests.docs:
        if doc["kind"] in CRD_KINDS:
            continue  # no schema in kubernetes-validate; test_chart_meaning asserts their fields
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 3  # Deployment, ConfigMap or Secret, Service at least


def test_the_value_sets_render_what_they_claim() -> None:
    assert sorted(render().kinds()) == ["ConfigMap", "Deployment", "Service"]
    everything = render(VALUE_SETS["everything"]).kinds()
    for kind in (
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
    ):
        assert kind in everything
    assert everything.count("ConfigMap") == 2  # the snapshot and the dashboard
    existing = render(VALUE_SETS["existing"]).kinds()
    assert "Secret" not in existing and "ConfigMap" not in existing  # referenced, not created
    assert render(VALUE_SETS["ext-authz"]).kinds().count("ConfigMap") == 2  # the snapshot and --config


# -- values.schema.json ------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text()))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _check_covered(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str) -> None:
    node = _resolve(schema, node)
    if not isinstance(value, dict) or "properties" not in node:
        assert "type" in node or "oneOf" in node, f"{path}: the schema gives no type"
        return
    assert node.get("additionalProperties") is False, f"{path}: unknown keys would be accepted"
    for key, sub in value.items():
        assert key in node["properties"], f"{path}.{key} is not in values.schema.json"
        _check_covered(schema, node["properties"][key], sub, f"{path}.{key}")


def test_the_schema_covers_every_value_and_refuses_unknown_keys() -> None:
    schema = _schema()
    _check_covered(schema, schema, chart_values(), "")
    # And the other way round: nothing in the schema that values.yaml does not have.
    for key in schema["properties"]:
        assert key == "global" or key in chart_values(), key


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"control": {"port": 70000}}, "at '/control/port': maximum: got 70,000, want 65,535"),
        ({"health": {"port": 0}}, "at '/health/port': minimum"),
        ({"metrics": {"enabled": "yes"}}, "at '/metrics/enabled': got string, want boolean"),
        ({"authorizer": {"tcp": {"port": "50051"}}}, "at '/authorizer/tcp/port': got string, want integer"),
        ({"contrl": {"enabled": True}}, "additional properties 'contrl' not allowed"),
        ({"sidecar": {"logLevel": "verbose"}}, "at '/sidecar/logLevel': value must be one of"),
        ({"decisionLog": {"mode": "/var/log/decisions"}}, "at '/decisionLog/mode'"),
        ({"decisionLog": {"sample": 1.5}}, "at '/decisionLog/sample': maximum"),
        ({"sidecar": {"extraArgs": ["serve"]}}, "at '/sidecar/extraArgs/0'"),
        ({"serviceMonitor": {"interval": "30 seconds"}}, "at '/serviceMonitor/interval'"),
        ({"podDisruptionBudget": {"minAvailable": "half"}}, "at '/podDisruptionBudget/minAvailable'"),
        ({"authorizer": {"unix": {"dir": "relative/dir"}}}, "at '/authorizer/unix/dir'"),
        # extAuthz.config is the ext_authz section: every key described, unknown ones refused.
        ({"extAuthz": {"config": {"rotes": []}}}, "at '/extAuthz/config': additional properties 'rotes'"),
        ({"extAuthz": {"config": {"listen": "0.0.0.0:1"}}}, "additional properties 'listen' not allowed"),
        (
            {"extAuthz": {"config": {"unmatched": "permit"}}},
            "at '/extAuthz/config/unmatched': value must be one of",
        ),
        (
            {"extAuthz": {"config": {"on_error": "allow"}}},
            "at '/extAuthz/config/on_error': value must be one of",
        ),
        (
            {"extAuthz": {"config": {"routes": [{"path": "/a", "action": "s3:GetObject"}]}}},
            "at '/extAuthz/config/routes/0': missing property 'resource'",
        ),
        (
            {
                "extAuthz": {
                    "config": {"routes": [{"path": "/a", "action": "s3:Get", "resource": "*", "verb": "GET"}]}
                }
            },
            "at '/extAuthz/config/routes/0': additional properties 'verb'",
        ),
        (
            {
                "extAuthz": {
                    "config": {
                        "routes": [{"method": "FETCH", "path": "/a", "action": "s3:Get", "resource": "*"}]
                    }
                }
            },
            "at '/extAuthz/config/routes/0/method'",
        ),
        (
            {"extAuthz": {"config": {"routes": [{"path": "a", "action": "s3:Get", "resource": "*"}]}}},
            "at '/extAuthz/config/routes/0/path'",
        ),
        (
            {"extAuthz": {"config": {"routes": [{"path": "/a", "action": "GetObject", "resource": "*"}]}}},
            "at '/extAuthz/config/routes/0/action'",
        ),
        (
            {"extAuthz": {"config": {"routes": [{"path": "/a", "action": "s3:Get", "resource": "bucket"}]}}},
            "at '/extAuthz/config/routes/0/resource'",
        ),
        ({"extAuthz": {"config": {"credentials": {"access_key": "x"}}}}, "at '/extAuthz/config/credentials'"),
        (
            {"extAuthz": {"config": {"trusted_principal_header": "x y"}}},
            "at '/extAuthz/config/trusted_principal",
        ),
        (
            {"extAuthz": {"config": {"spiffe_principals": {"spiffe://a/b": "alice"}}}},
            "does not match pattern '^arn:'",
        ),
        (
            {"extAuthz": {"config": {"xff_trusted_hops": -1}}},
            "at '/extAuthz/config/xff_trusted_hops': minimum",
        ),
        (
            {"extAuthz": {"config": {"matched_statement_header": "yes"}}},
            "at '/extAuthz/config/matched_statement",
        ),
        ({"extAuthz": {"port": "50054"}}, "at '/extAuthz/port': got string"),
        ({"extAuthz": {"address": "10.0.0.7"}}, "at '/extAuthz/address': value must be one of"),
        ({"extAuthz": {"enabeld": True}}, "at '/extAuthz': additional properties 'enabeld'"),
    ],
)
def test_the_schema_refuses_bad_values_naming_them(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert message in str(caught.value)
    assert "values don't meet the specifications of the schema" in str(caught.value)
    # helm lint reports the same problem as an error.
    assert helm.lint(CHART, values, strict=True)["errors"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"control": {"enabled": True}}, "control.enabled needs the bearer token"),
        (
            {"authorizer": {"unix": {"enabled": False}, "tcp": {"enabled": False}}},
            "enable authorizer.unix and/or authorizer.tcp",
        ),
        (
            {"control": {"enabled": True, "token": {"value": "t", "existingSecret": "s"}}},
            "set control.token.value or control.token.existingSecret, not both",
        ),
        ({"snapshot": {"enabled": False}}, "with snapshot.enabled=false the snapshot must be pushed"),
        (
            {"control": {"enabled": True, "token": {"value": "t"}, "tls": {"enabled": True}}},
            "control.tls.enabled needs control.tls.existingSecret",
        ),
        ({"metrics": {"port": 50053}}, "the sidecar's ports must differ"),
        ({"sidecar": {"drainGrace": 30}}, "terminationGracePeriodSeconds must exceed sidecar.drainGrace"),
        ({"serviceMonitor": {"enabled": True}, "metrics": {"enabled": False}}, "needs metrics.enabled"),
        (
            {"podDisruptionBudget": {"enabled": True, "maxUnavailable": None}},
            "needs minAvailable or maxUnavailable",
        ),
        (
            {"extAuthz": {"enabled": True}, "authorizer": {"tcp": {"enabled": False}}},
            "extAuthz.enabled needs a TCP listener, since Envoy reaches the sidecar over TCP: enable"
            " authorizer.tcp (Envoy then uses 127.0.0.1:authorizer.tcp.port) or set extAuthz.port",
        ),
        (
            {
                "extAuthz": {"enabled": True, "existingConfigMap": "routes"},
                "authorizer": {"tcp": {"enabled": False}},
            },
            "extAuthz.enabled needs a TCP listener",
        ),
        (
            {"extAuthz": {"enabled": True, "address": "0.0.0.0"}},
            "extAuthz.address=0.0.0.0 needs extAuthz.port",
        ),
        (
            {"extAuthz": {"enabled": True, "port": 50054, "existingConfigMap": "routes"}},
            "with extAuthz.existingConfigMap, unset it",
        ),
        ({"extAuthz": {"enabled": True, "port": 50053}}, "the sidecar's ports must differ"),
    ],
)
def test_combinations_the_schema_cannot_express_fail_with_the_fix(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError) as caught:
        render(values)
    assert message in str(caught.value)
