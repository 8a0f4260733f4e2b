"""Every metric name the Grafana dashboard and the Prometheus alert rules use is one that a running
TDS's ``GET /metrics`` exports (deploy/grafana, deploy/prometheus; their static checks are in
tests/deploy/test_monitoring.py)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.monitoring import (
    SCRAPE_SERIES,
    dashboard_expressions,
    load_dashboard,
    metric_names,
    rule_expressions,
)

#: The sample names prometheus-client writes for each family type.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
}


async def exported_names(client: httpx.AsyncClient) -> set[str]:
    """Every family and sample name of a scrape, with the suffix forms of each family's type (so a
    family with no sample yet, such as the pull lag before a pull succeeded, still counts)."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


async def test_dashboard_and_rules_use_only_exported_metrics(client: httpx.AsyncClient) -> None:
    exported = await exported_names(client)
    assert {"tds_webhooks_total", "tds_event_latency_seconds_bucket", "tds_queue_depth"} <= exported
    assert "tds_no_such_metric" not in exported

    used: dict[str, set[str]] = {}
    for source, exprs in (
        ("dashboard", dashboard_expressions(load_dashboard())),
        ("rules", rule_expressions()),
    ):
        for expr in exprs:
            for name in metric_names(expr):
                used.setdefault(name, set()).add(source)
    assert used, "found the expressions"
    unknown = {name: sorted(where) for name, where in used.items() if name not in exported | SCRAPE_SERIES}
    assert unknown == {}, f"not exported by /metrics: {unknown}"
    # both files are read (a guard against an extraction that silently finds nothing)
    assert {"dashboard", "rules"} <= set().union(*used.values())
