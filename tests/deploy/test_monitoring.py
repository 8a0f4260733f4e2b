"""deploy/prometheus and deploy/grafana, statically: the alert rules against a schema (and
``promtool check rules`` where promtool is installed; here it is not), their PromQL, their
equivalence with TDS's own rules (src/tds_core/alerts/rules.py) and its thresholds, the
dashboard's structure, and the compose file that runs both. That every metric name they use is
one ``GET /metrics`` exports is checked against a running app in
tests/integration/test_monitoring_names.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml
from compose_spec import PyCompose

from tds_core.alerts.rules import RULES, RULES_BY_NAME
from tds_core.config.runtime import RuntimeConfig
from tests.deploy.monitoring import (
    DASHBOARD,
    GRAFANA,
    MONITORING_COMPOSE,
    PROMETHEUS_CONFIG,
    RULES_FILE,
    alerts,
    dashboard_expressions,
    load_dashboard,
    load_rules,
    metric_names,
    panels,
    promql_problems,
)
from tests.deploy.support import DOCS
from tests.deploy.test_compose import COMPOSE, TEST_ENV, interpolate

DURATION = r"^(\d+(ms|s|m|h|d|w|y))+$"
RULES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string", "pattern": DURATION},
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["alert", "expr", "for", "labels", "annotations"],
                            "additionalProperties": False,
                            "properties": {
                                "alert": {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": {
                                    "type": "object",
                                    "required": ["severity"],
                                    "properties": {
                                        "severity": {"enum": ["critical", "warning", "info"]},
                                        "tds_rule": {"enum": sorted(RULES_BY_NAME)},
                                    },
                                    "additionalProperties": {"type": "string"},
                                },
                                "annotations": {
                                    "type": "object",
                                    "required": ["summary"],
                                    "properties": {"summary": {"type": "string", "minLength": 1}},
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
#: The "not expressible" comments of the rules file: TDS rule → reason.
NOT_EXPRESSIBLE = dict(re.findall(r"^# not expressible: (\w+): (.+)$", RULES_FILE.read_text(), re.MULTILINE))
#: Thresholds of TDS's rules with no number in the PromQL, and why.
NOT_IN_PROMQL = {
    "heartbeat_missing_seconds": "the gauges count a worker live for 30 s, fixed in /metrics",
}


# ---------------------------------------------------------------------------- the rules file
def test_rules_file_matches_the_schema() -> None:
    jsonschema.validate(load_rules(), RULES_SCHEMA)
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)), "alert names are unique"


def test_the_schema_rejects_a_rule_without_severity() -> None:
    """A guard that the schema checks something."""
    broken = load_rules()
    del broken["groups"][0]["rules"][0]["labels"]["severity"]
    with pytest.raises(jsonschema.ValidationError, match="severity"):
        jsonschema.validate(broken, RULES_SCHEMA)


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_each_rule_expression_reads_as_promql(rule: dict[str, Any]) -> None:
    assert promql_problems(rule["expr"]) == []
    for text in [*rule["annotations"].values()]:
        assert text.count("{{") == text.count("}}"), "template braces balance"


def test_the_promql_reader_catches_slips() -> None:
    """Guards that :func:`promql_problems` and :func:`metric_names` do what the tests rely on."""
    assert promql_problems("sum(rate(tds_webhooks_total[5m])") == ["unclosed '('"]
    assert promql_problems("histogram_quantle(0.9, tds_x)") == ["unknown function 'histogram_quantle'"]
    assert promql_problems('tds_x{a="b}') != []
    assert promql_problems("rate(tds_x[5 m])") == ["bad range '5 m'"]
    assert metric_names(
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{le="0.1", x=~"$entity"}[$__rate_interval])))'
        " / on (instance) group_left (org) b offset 5m > 1e3 and c"
    ) == {"a_bucket", "b", "c"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed here")
def test_promtool_checks_rules_and_config() -> None:
    for arguments in (["check", "rules", str(RULES_FILE)], ["check", "config", str(PROMETHEUS_CONFIG)]):
        result = subprocess.run(["promtool", *arguments], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------- equal to TDS's rules
def test_every_tds_rule_has_a_prometheus_alert_or_a_reason() -> None:
    mapped = {rule["labels"].get("tds_rule") for rule in alerts()} - {None}
    assert set(NOT_EXPRESSIBLE) <= set(RULES_BY_NAME), "comments name real rules"
    assert not mapped & set(NOT_EXPRESSIBLE), "a rule is either mapped or not expressible"
    for rule in RULES:
        assert rule.name in mapped or NOT_EXPRESSIBLE.get(rule.name, "").strip(), (
            f"{RULES_FILE.name}: no alert with tds_rule: {rule.name}, and no "
            f"'# not expressible: {rule.name}: <why>' comment"
        )


def test_mapped_alerts_carry_the_tds_rules_severity() -> None:
    by_rule: dict[str, set[str]] = {}
    for rule in alerts():
        if "tds_rule" in rule["labels"]:
            by_rule.setdefault(rule["labels"]["tds_rule"], set()).add(rule["labels"]["severity"])
    for name, severities in by_rule.items():
        assert RULES_BY_NAME[name].severity.value in severities, name


def renderings(key: str, value: float) -> set[str]:
    """How a threshold can be written in PromQL: the number in its unit, or as seconds, or as a range."""

    def number(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else repr(float(v))

    seconds = value * {"minutes": 60, "hours": 3600}.get(key.rsplit("_", 1)[-1], 1)
    if not key.endswith(("_seconds", "_minutes", "_hours")):
        return {number(value)}
    forms = {number(seconds), f"{number(seconds)}s"}
    for unit, size in (("m", 60), ("h", 3600), ("d", 86400)):
        if (seconds / size).is_integer():
            forms.add(f"{number(seconds / size)}{unit}")
    return forms


def test_thresholds_are_the_code_defaults() -> None:
    """Each alert's ``tds_thresholds`` annotation is its TDS rule's thresholds at the defaults of
    ``alerts.*``, and the expression uses each number (a changed default fails here)."""
    config = RuntimeConfig()
    annotated: set[str] = set()
    for rule in alerts():
        name = rule["labels"].get("tds_rule")
        if name is None or "tds_thresholds" not in rule["annotations"]:
            continue
        annotated.add(name)
        expected = RULES_BY_NAME[name].thresholds(config)
        pairs = (part.partition("=") for part in rule["annotations"]["tds_thresholds"].split(","))
        written = {key.strip(): float(value) for key, _, value in pairs}
        assert written == {k: float(v) for k, v in expected.items()}, rule["alert"]
        for key, value in expected.items():
            if key in NOT_IN_PROMQL:
                continue
            forms = renderings(key, float(value))
            found = [f for f in forms if re.search(rf"(?<![\w.]){re.escape(f)}(?![\w.])", rule["expr"])]
            assert found, f"{rule['alert']}: {key}={value} as one of {sorted(forms)} in its expr"
    with_thresholds = {rule.name for rule in RULES if rule.thresholds(config)}
    assert with_thresholds - set(NOT_EXPRESSIBLE) <= annotated


def test_renderings() -> None:
    assert renderings("failure_window_seconds", 300) == {"300", "300s", "5m"}
    assert renderings("dlq_max_age_hours", 24) == {"86400", "86400s", "1440m", "24h", "1d"}
    assert renderings("failure_rate", 0.05) == {"0.05"}


# ---------------------------------------------------------------------------- Prometheus config
def test_prometheus_scrapes_one_tds_target_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    for path in config["rule_files"]:
        assert (PROMETHEUS_CONFIG.parent / path).is_file(), path
    assert RULES_FILE.name in config["rule_files"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "tds" and job["metrics_path"] == "/metrics"
    # every API process answers for the whole cluster: more targets would count every series twice
    (targets,) = job["static_configs"]
    assert len(targets["targets"]) == 1
    assert 'up{job="tds"}' in RULES_FILE.read_text()


# ---------------------------------------------------------------------------- the dashboard
def test_dashboard_loads_with_unique_ids_titles_and_the_datasource_variable() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    all_panels = panels(dashboard)
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in all_panels:
        assert panel.get("title", "").strip(), f"panel {panel['id']} has a title"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in all_panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert promql_problems(target["expr"]) == [], (panel["title"], target["expr"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
    assert "${datasource}" in json.dumps(variables["entity"]["datasource"])


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels(load_dashboard()):
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_dashboard_covers_the_operators_questions() -> None:
    """Throughput, latency percentiles, queue depth and lag, DLQ, circuit state and Zoho quota."""
    used = set().union(*(metric_names(e) for e in dashboard_expressions(load_dashboard())))
    for needed in (
        "tds_sync_outcomes_total",
        "tds_webhooks_total",
        "tds_event_latency_seconds_bucket",
        "tds_queue_depth",
        "tds_queue_oldest_ready_age_seconds",
        "tds_dlq_open",
        "tds_dead_lettered_total",
        "tds_circuit_breakers",
        "tds_zoho_quota_remaining",
        "tds_zoho_daily_quota",
    ):
        assert needed in used, needed
    exprs = " ".join(dashboard_expressions(load_dashboard()))
    for quantile in ("0.50", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, " in exprs


def test_dashboard_marks_the_slos_of_docs_slo_md() -> None:
    slo = (DOCS / "slo.md").read_text()
    assert "≥ 99.5% of finished events" in slo and "p95 ≤ 100 ms" in slo
    by_title = {p["title"]: p for p in panels(load_dashboard())}

    def steps(title: str) -> list[float | None]:
        return [s["value"] for s in by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert 0.995 in steps("Processing success (1 h)") and 0.995 in steps("Processing success rate")
    assert 0.1 in steps("Latency p95 (5 min)") and 0.1 in steps("End-to-end latency (receipt → applied)")
    # the same PromQL as docs/slo.md
    assert (
        "histogram_quantile(0.95, sum by (le) (rate(tds_event_latency_seconds_bucket[5m])))"
        in dashboard_expressions(load_dashboard())
    )
    assert "histogram_quantile(0.95, sum by (le) (rate(tds_event_latency_seconds_bucket[5m])))" in slo


# ---------------------------------------------------------------------------- provisioning, compose
def test_grafana_provisioning() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert datasources["apiVersion"] == 1 and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    dashboards = yaml.safe_load((GRAFANA / "provisioning/dashboards/tds.yml").read_text())
    (provider,) = dashboards["providers"]
    assert dashboards["apiVersion"] == 1 and provider["type"] == "file"
    mounts = yaml.safe_load(MONITORING_COMPOSE.read_text())["services"]["grafana"]["volumes"]
    assert f"../grafana/{DASHBOARD.name}:{provider['options']['path']}/{DASHBOARD.name}:ro" in mounts


def merged_compose() -> dict[str, Any]:
    """The main compose file with the monitoring one layered on (both only add keys here)."""
    env = {**TEST_ENV, "GRAFANA_ADMIN_PASSWORD": "pw0123456789"}
    main = interpolate(yaml.safe_load(COMPOSE.read_text()), env)
    extra = interpolate(yaml.safe_load(MONITORING_COMPOSE.read_text()), env)
    assert not set(extra["services"]) & set(main["services"]), "the monitoring file only adds services"
    return {
        **main,
        "services": {**main["services"], **extra["services"]},
        "volumes": {**main.get("volumes", {}), **extra.get("volumes", {})},
    }


def test_monitoring_compose_is_valid_and_behind_a_profile() -> None:
    merged = merged_compose()
    parsed = PyCompose.from_json(json.dumps(merged))
    assert {"prometheus", "grafana"} <= set(parsed.service_names())
    extra = yaml.safe_load(MONITORING_COMPOSE.read_text())
    for name, service in extra["services"].items():
        assert service["profiles"] == ["monitoring"], name
        assert re.search(r":v?\d+\.\d+\.\d+$", service["image"]), f"{name}: pin an exact version"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: published on loopback only"
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (MONITORING_COMPOSE.parent / source).exists(), source
    with pytest.raises(KeyError, match="GRAFANA_ADMIN_PASSWORD"):
        interpolate(yaml.safe_load(MONITORING_COMPOSE.read_text()), TEST_ENV)


def test_prometheus_target_is_the_compose_api_service() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (target,) = config["scrape_configs"][0]["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    api = merged_compose()["services"][host]
    assert port in api["expose"]
