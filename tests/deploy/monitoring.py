"""The monitoring files (deploy/prometheus, deploy/grafana) and a small PromQL reader for their checks.

No PromQL parser is installed here (promtool is used when it is on PATH), so :func:`promql_problems`
does what catches the usual slips: brackets balance outside string literals, every call is a
known PromQL function or aggregation, and :func:`metric_names` lists the metric names an
expression selects, which the integration test compares with what ``GET /metrics`` exports.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy.support import DEPLOY, DOCKER

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
RULES_FILE = PROMETHEUS / "tds-alerts.rules.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = GRAFANA / "tds-overview.json"
MONITORING_COMPOSE = DOCKER / "docker-compose.monitoring.yml"

#: Series Prometheus makes itself for every scrape (not exported by TDS).
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_AGGREGATIONS = (
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio"
)
_FUNCTIONS = """
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
    day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters
    double_exponential_smoothing hour idelta increase irate label_join label_replace ln log2 log10
    minute month predict_linear rate resets round scalar sgn sort sort_desc sort_by_label
    sort_by_label_desc sqrt time timestamp vector year avg_over_time min_over_time max_over_time
    sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time
    last_over_time present_over_time mad_over_time acos acosh asin asinh atan atanh cos cosh sin
    sinh tan tanh deg rad pi
"""
#: PromQL's aggregation operators and functions (Prometheus 2.x and 3.x).
FUNCTIONS = frozenset(_AGGREGATIONS.split()) | frozenset(_FUNCTIONS.split())
#: Words of PromQL's grammar that are neither metrics nor functions (atan2 is a binary operator).
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)")
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def load_rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    return loaded


def alerts() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file, across its groups."""
    return [rule for group in load_rules()["groups"] for rule in group["rules"] if "alert" in rule]


def load_dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """The PromQL of every panel target and of every query variable (``label_values(metric, label)``
    is reduced to its metric)."""
    exprs = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if t.get("expr")]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*", text)
        exprs.append(match.group(1) if match else text)
    return exprs


def rule_expressions() -> list[str]:
    return [rule["expr"] for group in load_rules()["groups"] for rule in group["rules"]]


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def promql_problems(expr: str) -> list[str]:
    """What is visibly wrong with ``expr`` (empty when nothing is). Grafana's ``$variables`` are allowed."""
    problems: list[str] = []
    text = _without_strings(expr)
    if re.search(r"[\"'`]", _STRING.sub("", expr)):
        problems.append("unterminated string literal")
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            problems.append(f"unbalanced {char!r}")
            break
    if stack:
        problems.append(f"unclosed {stack[-1]!r}")
    for selector in re.findall(r"\{([^{}]*)\}", text):
        for matcher in filter(None, (m.strip() for m in selector.split(","))):
            if not re.fullmatch(r'[a-zA-Z_]\w*\s*(=~|!~|!=|=)\s*""', matcher):
                problems.append(f"bad label matcher {matcher!r}")
    for duration in re.findall(r"\[([^\]]*)\]", text):
        parts = [p.strip() for p in duration.split(":")]
        if not all(_DURATION.match(p) or p.startswith("$") or p == "" for p in parts) or parts == [""]:
            problems.append(f"bad range {duration!r}")
    for name in re.findall(r"(?<![\w.$:])([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", _LABEL_LIST.sub("", text)):
        if name not in FUNCTIONS and name not in KEYWORDS:
            problems.append(f"unknown function {name!r}")
    if not metric_names(expr) and "vector(" not in text and "time()" not in text:
        problems.append("selects no metric")
    return problems


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (a selector written ``{__name__="..."}`` is not supported)."""
    text = _without_strings(expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _LABEL_LIST.sub(" ", text)  # by (...), on (...), group_left (...)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names
