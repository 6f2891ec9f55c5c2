"""The dashboard and the alert rules name only metrics the code defines, with the right types."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import (
    alert_expressions,
    alert_rules,
    dashboard,
    dashboard_expressions,
    defined_metrics,
    exported_family,
    metric_names,
    promql_from_grafana,
    variable_metrics,
)

# Metrics the issue asks for that no service defines yet; their panels wait for them. When the
# code defines one, the test below fails until it is taken off this list.
PENDING_METRICS: set[str] = set()


def _used_metrics() -> list[tuple[str, str]]:
    used = [
        (where, name)
        for where, expr in dashboard_expressions() + alert_expressions()
        for name in metric_names(expr)
    ]
    used += [(f"variable {variable}", metric) for variable, metric in variable_metrics()]
    return used


def test_every_promql_metric_is_defined_by_the_code() -> None:
    defined = defined_metrics()
    unknown = []
    for where, name in _used_metrics():
        if not name.startswith("vigil_"):
            continue  # Prometheus's own series, such as `up`
        family, suffix = exported_family(name)
        if family in PENDING_METRICS:
            continue
        kind = defined.get(family)
        if kind is None:
            unknown.append(f"{where}: {name}")
        elif suffix is not None:
            assert kind == "Histogram", f"{where}: {name} needs a histogram, {family} is a {kind}"
        else:
            assert kind != "Histogram", f"{where}: {name} is a histogram: use _bucket/_sum/_count"
    assert not unknown, f"metrics no code defines: {unknown}"


def test_pending_metrics_are_still_missing() -> None:
    assert not PENDING_METRICS & set(defined_metrics()), (
        "the code defines it now: take it off PENDING_METRICS"
    )


def test_counters_are_only_read_as_rates() -> None:
    """A counter's raw value restarts with the process: rate() or increase() it."""
    counters = {n for n, kind in defined_metrics().items() if kind == "Counter"}
    for where, expr in dashboard_expressions() + alert_expressions():
        for name in metric_names(expr) & counters:
            assert f"rate({name}" in expr or f"increase({name}" in expr, f"{where}: {name}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(vigil_a_bucket{x="1"}[5m]))', {"vigil_a_bucket"}),
        ("vigil_a unless on (c) (rate(vigil_b_total[5m]) > 0)", {"vigil_a", "vigil_b_total"}),
        ('count({__name__="vigil_c"}) + -vigil_d', {"vigil_c", "vigil_d"}),
        ("histogram_quantile(0.9, sum by (le) (rate(vigil_e_bucket[$__rate_interval])))",
         {"vigil_e_bucket"}),
        ('max(vigil_f{camera=~"$camera"})', {"vigil_f"}),
    ],
)
def test_metric_names_come_from_the_syntax_tree(expr: str, names: set[str]) -> None:
    assert metric_names(promql_from_grafana(expr)) == names


def test_metric_definitions_are_found() -> None:
    defined = defined_metrics()
    assert defined["vigil_messages_consumed_total"] == "Counter"
    assert defined["vigil_handle_seconds"] == "Histogram"
    assert defined["vigil_consumer_lag_records"] == "Gauge"


def test_alerts_cover_the_issues_conditions() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    needed = {
        "VigilCameraNoFrames": "vigil_frames_ingested_total",
        "VigilConsumerLagGrowing": "vigil_consumer_lag_records",
        "VigilHandlerErrorRate": "vigil_handler_errors_total",
        "VigilRepositoryWriteFailures": "vigil_repository_write_failures_total",
    }
    for alert, metric in needed.items():
        assert metric in metric_names(rules[alert]["expr"]), alert
        assert rules[alert]["labels"]["severity"] in {"info", "warning", "critical"}
    assert _seconds(rules["VigilConsumerLagGrowing"]["for"]) >= 600  # growing, not a spike


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def test_dashboard_panels_are_laid_out_without_overlap() -> None:
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(box["x"], box["x"] + box["w"])
                 for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize(
    "topic",
    ["Frames ingested per camera", "Records consumed per stage", "End-to-end latency",
     "Lag per consumer group", "inference time", "Event updates over time", "Handler errors",
     "Dead letters", "Camera state", "Repository storage"],
)
def test_dashboard_shows_what_the_issue_asks(topic: str) -> None:
    titles = [p["title"] for p in dashboard()["panels"]]
    assert any(topic.lower() in title.lower() for title in titles), topic
