"""The Grafana dashboard (helm/iam-sidecar/dashboards/iam-sidecar.json) against a real scrape of a
real sidecar, and docs/operations.md's panel table against the dashboard.

Every metric a query names must be exposed by ``/metrics`` under that very name (a renamed or
dropped metric would leave a panel silently empty), counters and histogram series only through
``rate``/``increase``, gauges never, and every selector filtered by the ``pod`` variable.

``python -m tests.server.test_dashboard`` prints the panel table of docs/operations.md.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.api.v1 import authorizer_pb2 as pb

from .harness import REPO, running_sidecar
from .support import ALICE, ALLOW, BOB, OBJECT, QUEUE, authorizer, invalid_doc, push, request

DASHBOARD = REPO / "helm" / "iam-sidecar" / "dashboards" / "iam-sidecar.json"
OPERATIONS = REPO / "docs" / "operations.md"

# A metric name in PromQL: ours, and the process collector's.
METRIC = re.compile(r"\b(?:iam_sidecar|process)_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
TABLE_HEADER = "| panel | query |"
POD_FILTER = 'pod=~"$pod"'


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panel_table(dashboard: dict[str, Any]) -> str:
    """The panel table of docs/operations.md, rendered from the dashboard: one row per panel,
    its queries in order (``|`` escaped for Markdown)."""
    rows = [TABLE_HEADER, "|---|---|"]
    for panel in dashboard["panels"]:
        queries = "<br>".join(f"`{t['expr']}`".replace("|", "\\|") for t in panel["targets"])
        rows.append(f"| {panel['title']} | {queries} |")
    return "\n".join(rows)


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every target."""
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


# -- a real scrape -------------------------------------------------------------------------------


class Scrape:
    """One ``/metrics`` exposition: family types by family name, and the names of samples."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: set[str] = set()
        self.labels: dict[str, set[tuple[tuple[str, str], ...]]] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples.add(sample.name)
                self.labels.setdefault(sample.name, set()).add(tuple(sorted(sample.labels.items())))

    def family_of(self, name: str) -> tuple[str, str] | None:
        """(family name, type) a sample name belongs to, or None."""
        if self.types.get(name) in ("gauge", "untyped"):
            return name, self.types[name]
        if name.endswith("_total") and self.types.get(name[: -len("_total")]) == "counter":
            return name[: -len("_total")], "counter"
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base, "histogram"
        return None


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Scrape:
    """A sidecar with metrics on, after traffic that makes every labelled series exist: allows,
    denies, a refused call, a batch with repeated items (the memo), a refused AssumeRole and a
    refused push (a load failure)."""
    tmp_path = tmp_path_factory.mktemp("dashboard")
    with running_sidecar(tmp_path, metrics_listen="127.0.0.1:0") as sc:
        with authorizer(sc.authz_tcp) as stub:
            assert stub.Authorize(request(ALICE, "s3:GetObject", OBJECT), timeout=10).decision == ALLOW
            stub.Authorize(request(BOB, "sqs:SendMessage", QUEUE), timeout=10)
            with pytest.raises(grpc.RpcError):
                stub.Authorize(request(None, "s3:GetObject", OBJECT), timeout=10)
            item = request(ALICE, "s3:GetObject", OBJECT)
            batch = stub.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=[item] * 4), timeout=10)
            assert len(batch.responses) == 4
            assume = pb.AssumeRoleRequest(
                role_arn="arn:aws:iam::222222222222:role/NoSuchRole", role_session_name="dashboard"
            )
            assume.caller.principal_arn = ALICE
            with pytest.raises(grpc.RpcError):
                stub.AssumeRole(assume, timeout=10)
        assert not push(sc.control, sc.token, invalid_doc(2)).accepted
        url = f"http://{sc.sidecar.addresses['metrics'][0]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return Scrape(response.read().decode("utf-8"))


# -- the dashboard itself --------------------------------------------------------------------------


def test_dashboard_identity_and_variables() -> None:
    dash = load_dashboard()
    assert dash["uid"] == "iam-sidecar"
    assert dash["title"] == "iam-sidecar"
    assert dash["schemaVersion"] == 39
    assert dash["id"] is None  # importable into any Grafana
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert set(variables) == {"datasource", "pod"}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    pod = variables["pod"]
    assert pod["type"] == "query"
    assert pod["datasource"]["uid"] == "${datasource}"
    assert pod["definition"] == "label_values(iam_sidecar_serving, pod)"
    assert pod["query"]["query"] == "label_values(iam_sidecar_serving, pod)"
    assert pod["includeAll"] and pod["multi"] and pod["allValue"] == ".*"


def test_every_panel_has_a_title_and_a_query() -> None:
    panels = load_dashboard()["panels"]
    assert panels
    titles = [p.get("title", "") for p in panels]
    assert all(t.strip() for t in titles), titles
    assert len(set(titles)) == len(titles), "panel titles must be unique (docs/operations.md lists them)"
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        targets = panel.get("targets", [])
        assert targets, f"{panel['title']}: no target"
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        for target in targets:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_panels_fit_the_grid_without_overlapping() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in load_dashboard()["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_queries_are_balanced_and_filter_by_pod() -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    for title, expr in queries(load_dashboard()):
        stack: list[str] = []
        for char in re.sub(r'"[^"]*"', '""', expr):  # brackets inside label values do not count
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], f"{title}: unbalanced {expr}"
        assert not stack, f"{title}: unbalanced {expr}"
        assert expr.count('"') % 2 == 0, f"{title}: unbalanced quotes in {expr}"
        names = list(METRIC.finditer(expr))
        assert names, f"{title}: no metric in {expr}"
        for m in names:
            selector = re.match(r"\{([^}]*)\}", expr[m.end() :])
            assert selector and POD_FILTER in selector.group(1), f"{title}: {m.group()} not filtered by pod"


# -- the dashboard against a real scrape ---------------------------------------------------------


def test_every_metric_in_the_dashboard_is_exposed(scrape: Scrape) -> None:
    for title, expr in queries(load_dashboard()):
        for m in METRIC.finditer(expr):
            name = m.group()
            family = scrape.family_of(name)
            assert family is not None, f"{title}: {name} is not a metric of /metrics"
            assert name in scrape.samples, f"{title}: {name} has no sample after traffic"
            _, kind = family
            before = expr[: m.start()]
            in_rate = re.search(r"\b(?:rate|irate|increase)\(\s*$", before) is not None
            if kind in ("counter", "histogram"):
                assert in_rate, f"{title}: {name} is cumulative; read it through rate() or increase()"
            else:
                assert not in_rate, f"{title}: {name} is a gauge; rate() of it means nothing"
            if name.endswith("_bucket"):
                assert re.search(r"histogram_quantile\(\s*0?\.\d+,", before), f"{title}: {name} raw"


def test_labels_the_dashboard_groups_by_are_exposed(scrape: Scrape) -> None:
    """``by (...)`` and ``{{label}}`` name labels the sidecar really attaches (``pod`` and
    ``instance`` come from the Prometheus scrape, ``le`` from histograms)."""
    scraped: set[str] = {k for sets in scrape.labels.values() for labels in sets for k, _ in labels}
    external = {"pod", "instance"}
    for panel in load_dashboard()["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")))
            for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", target["expr"]):
                used |= {label.strip() for label in group.split(",") if label.strip()}
            assert used <= scraped | external, f"{panel['title']}: {used - scraped - external}"


def test_the_scrape_has_the_series_the_panels_split_by(scrape: Scrape) -> None:
    """The traffic of the fixture made the labelled series exist (so the test above means it)."""
    labels = scrape.labels
    assert (("decision", "Allow"),) in labels["iam_sidecar_decisions_total"]
    assert (("decision", "ImplicitDeny"),) in labels["iam_sidecar_decisions_total"]
    assert {dict(x)["code"] for x in labels["iam_sidecar_rpc_duration_seconds_count"]} >= {
        "OK",
        "INVALID_ARGUMENT",
    }
    assert {dict(x)["result"] for x in labels["iam_sidecar_cache_requests_total"]} == {"hit", "miss", "memo"}
    assert {dict(x)["reason"] for x in labels["iam_sidecar_snapshot_load_failures_total"]} == {
        "ValidationFailed"
    }
    assert labels["iam_sidecar_assume_role_total"]


# -- docs/operations.md ----------------------------------------------------------------------------


def _doc_table_rows(text: str) -> list[str]:
    lines = text.splitlines()
    assert TABLE_HEADER in lines, f"docs/operations.md has no table headed {TABLE_HEADER!r}"
    start = lines.index(TABLE_HEADER)
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_operations_doc_lists_exactly_the_dashboard_panels() -> None:
    dash = load_dashboard()
    rows = _doc_table_rows(OPERATIONS.read_text(encoding="utf-8"))
    titles = [re.split(r"(?<!\\)\|", row)[1].strip() for row in rows[2:]]
    assert titles == [p["title"] for p in dash["panels"]]
    assert "\n".join(rows) == panel_table(dash), (
        "docs/operations.md's panel table is stale: regenerate it with "
        "`.venv/bin/python -m tests.server.test_dashboard`"
    )


def test_operations_doc_lists_every_metric(scrape: Scrape) -> None:
    """The metrics table of docs/operations.md names every iam_sidecar_* metric exposed, as
    exposed (counters with ``_total``), and no other."""
    text = OPERATIONS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(iam_sidecar_[a-z_]+)`", text, flags=re.MULTILINE))
    exposed = {
        f"{name}_total" if kind == "counter" else name
        for name, kind in scrape.types.items()
        if name.startswith("iam_sidecar_")
    }
    assert documented == exposed


if __name__ == "__main__":  # pragma: no cover
    print(panel_table(load_dashboard()))
