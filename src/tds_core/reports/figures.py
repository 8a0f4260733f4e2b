"""What the periodic reports say: the figures of the weekly dead-letter digest and of the
monthly performance summary, read from the same queries the dashboard and the admin API use,
and their two renderings (plain text for email and the generic webhook, short Markdown for Slack
and Telegram).

Weekly dead-letter digest, over ``[start, end)``: letters added, replayed and discarded in the
period (per entity) and how many of those added are still open; what is open now (the
overview's gauges: per entity, and the oldest letter's age), per error class, and the most
frequent errors with an example letter to open.

Monthly performance summary, over the month: events received, accepted, applied, skipped,
retried and failed, the success rate and latency p50/p95/p99 against the SLOs of docs/slo.md
(:func:`tds_core.observability.stats.period_stats`, the stats API's definitions over rolled
minutes), the busiest minute, dead letters added, alerts opened per rule, Zoho API calls and
the busiest day against the daily quota, and reconciliation runs with the drift they found.

Figures are plain JSON (times as ISO 8601 text) so the stored report, the webhook payload and
``tds reports ... --json`` carry the same document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tds_core.alerts.rules import duration
from tds_core.db import dead_letters, metrics
from tds_core.db import reports as stored_reports
from tds_core.db.connection import Executor, Pool, connected
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.observability import stats

#: The objectives of docs/slo.md the monthly summary measures against (as the dashboard does).
SUCCESS_SLO = 0.995
LATENCY_P95_SLO_MS = 100.0
ERROR_EXCERPT = 200


@dataclass(frozen=True)
class Period:
    """``[start, end)``, with the zone its calendar boundaries were taken in."""

    start: datetime
    end: datetime
    zone: ZoneInfo

    def as_dict(self, label: str) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": str(self.zone),
            "label": label,
        }


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    chat: str
    data: dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _link(base: str | None, path: str) -> str | None:
    return f"{base.rstrip('/')}{path}" if base else None


def _percent(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


# ---------------------------------------------------------------------------- weekly DLQ digest
async def dlq_digest(
    connection: Executor, period: Period, *, now: datetime, top_errors: int, dashboard_url: str | None
) -> Rendered:
    """The weekly dead-letter digest of ``period``, with what is open as of ``now``.
    Reads in the caller's transaction (one snapshot: run it in a repeatable-read one)."""
    moved = await dead_letters.period_by_entity(connection, since=period.start, until=period.end)
    gauges = await metrics.gauges(connection, now=now, entities=list(ENTITY_SLUGS))
    open_by_entity = {
        r["labels"]["entity"]: int(r["value"]) for r in gauges if r["name"] == "dlq_open" and r["value"]
    }
    by_class = {r["error_class"]: r["letters"] for r in await dead_letters.open_by_class(connection)}
    top = await dead_letters.open_top_errors(connection, limit=top_errors)
    oldest = await dead_letters.oldest_open(connection)
    oldest_age = max(
        (float(r["value"]) for r in gauges if r["name"] == "dlq_oldest_age_seconds"), default=None
    )

    per_entity: dict[str, dict[str, Any]] = {m["entity"]: dict(m) for m in moved}
    entities = [
        {
            "entity": entity,
            "added": per_entity.get(entity, {}).get("added", 0),
            "added_open": per_entity.get(entity, {}).get("added_open", 0),
            "replayed": per_entity.get(entity, {}).get("replayed", 0),
            "discarded": per_entity.get(entity, {}).get("discarded", 0),
            "open": open_by_entity.get(entity, 0),
        }
        for entity in ENTITY_SLUGS
        if entity in per_entity or entity in open_by_entity
    ]
    first_day = period.start.astimezone(period.zone)
    last_day = (period.end - timedelta(seconds=1)).astimezone(period.zone)
    label = f"{first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}"
    data: dict[str, Any] = {
        "kind": "dlq_digest",
        "period": period.as_dict(label),
        "generated_at": _iso(now),
        "added": sum(e["added"] for e in entities),
        "added_still_open": sum(e["added_open"] for e in entities),
        "replayed": sum(e["replayed"] for e in entities),
        "discarded": sum(e["discarded"] for e in entities),
        "by_entity": entities,
        "open": {
            "total": sum(open_by_entity.values()),
            "by_entity": open_by_entity,
            "by_error_class": by_class,
            "oldest": None
            if oldest is None
            else {
                "id": oldest["id"],
                "entity": oldest["entity"],
                "zoho_id": oldest["zoho_id"],
                "created_at": _iso(oldest["created_at"]),
                "age_seconds": oldest_age,
                "link": _link(dashboard_url, f"/dead-letters/{oldest['id']}"),
            },
        },
        "top_errors": [
            {
                "error": r["error"],
                "error_class": r["error_class"],
                "letters": r["letters"],
                "example_id": r["example_id"],
                "entities": list(r["entities"]),
                "oldest_at": _iso(r["oldest_at"]),
                "link": _link(dashboard_url, f"/dead-letters/{r['example_id']}"),
            }
            for r in top
        ],
        "link": _link(dashboard_url, "/dead-letters"),
    }
    subject = f"[TDS] Weekly dead-letter digest {label}: {data['added']} added, {data['open']['total']} open"
    return Rendered(subject, _dlq_text(subject, data), _dlq_chat(data), data)


def _dlq_text(subject: str, data: dict[str, Any]) -> str:
    open_ = data["open"]
    lines = [
        subject,
        "",
        f"Period: {data['period']['label']} ({data['period']['timezone']}), "
        f"{data['period']['start']} to {data['period']['end']}",
        "",
        f"Added:     {data['added']} (still open: {data['added_still_open']})",
        f"Replayed:  {data['replayed']}",
        f"Discarded: {data['discarded']}",
        f"Open now:  {open_['total']}",
    ]
    if open_["oldest"] is not None:
        oldest = open_["oldest"]
        age = duration(oldest["age_seconds"]) if oldest["age_seconds"] is not None else "n/a"
        lines.append(
            f"Oldest open: #{oldest['id']} ({oldest['entity']} {oldest['zoho_id']}), waiting {age} "
            f"since {oldest['created_at']}"
        )
    if data["by_entity"]:
        lines += ["", "By entity:        added  still open  replayed  discarded  open now"]
        for e in data["by_entity"]:
            lines.append(
                f"  {e['entity']:<14} {e['added']:>7} {e['added_open']:>11} {e['replayed']:>9} "
                f"{e['discarded']:>10} {e['open']:>9}"
            )
    if open_["by_error_class"]:
        classes = ", ".join(f"{name} {count}" for name, count in open_["by_error_class"].items())
        lines += ["", f"Open by error class: {classes}"]
    if data["top_errors"]:
        lines += ["", "Most frequent open errors:"]
        for number, error in enumerate(data["top_errors"], 1):
            lines.append(
                f"  {number}. {error['letters']} x [{error['error_class']}] {error['error']}"
                f" ({', '.join(error['entities'])}; e.g. #{error['example_id']})"
            )
            if error["link"]:
                lines.append(f"     {error['link']}")
    lines += [
        "",
        "Review: " + (data["link"] or "tds dlq list --status open  (or the dashboard's Dead letters page)"),
    ]
    lines.append("Replay: tds dlq replay ID...  |  Discard: tds dlq discard ID... --note WHY")
    return "\n".join(lines)


def _dlq_chat(data: dict[str, Any]) -> str:
    open_ = data["open"]
    lines = [
        f"*TDS weekly dead-letter digest* ({data['period']['label']})",
        f"• added *{data['added']}* (still open {data['added_still_open']}), replayed {data['replayed']}, "
        f"discarded {data['discarded']}",
        f"• open now *{open_['total']}*"
        + (
            f", oldest #{open_['oldest']['id']} waiting {duration(open_['oldest']['age_seconds'])}"
            if open_["oldest"] is not None and open_["oldest"]["age_seconds"] is not None
            else ""
        ),
    ]
    if open_["by_entity"]:
        lines.append("• by entity: " + ", ".join(f"{k} {v}" for k, v in open_["by_entity"].items()))
    for error in data["top_errors"][:3]:
        lines.append(f"• {error['letters']} x `{error['error'][:80]}` (e.g. #{error['example_id']})")
    if data["link"]:
        lines.append(f"Dead letters page: {data['link']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- monthly summary
async def performance(
    pool: Pool,
    period: Period,
    *,
    now: datetime,
    daily_quota: int | None,
    dashboard_url: str | None,
    retention: timedelta = timedelta(days=30),
) -> Rendered:
    """The performance summary of ``period`` (the previous calendar month)."""
    span = await stats.period_stats(pool, period.start, period.end, now=now, retention=retention)
    async with connected(pool) as connection:
        alerts = await stored_reports.alerts_opened(connection, since=period.start, until=period.end)
        runs = await stored_reports.reconciliations(connection, since=period.start, until=period.end)
        days = await stored_reports.zoho_calls_by_day(connection, since=period.start, until=period.end)

    total = span.total
    busiest_day = max(days, key=lambda r: r["calls"], default=None)  # the first of equals
    busiest_calls = int(busiest_day["calls"]) if busiest_day is not None else 0
    p95 = total.latency.p95_ms
    label = period.start.astimezone(period.zone).strftime("%B %Y")
    data: dict[str, Any] = {
        "kind": "performance",
        "period": period.as_dict(label),
        "generated_at": _iso(now),
        "events": {
            "received": total.received,
            "rejected": total.rejected,
            "accepted": total.received - total.rejected,
            "applied": total.applied,
            "skipped": total.skipped,
            "retried": total.retried,
            "failed": total.failed,
        },
        "success_rate": total.success_rate,
        "success_slo": SUCCESS_SLO,
        "success_met": None if total.success_rate is None else total.success_rate >= SUCCESS_SLO,
        "latency": {
            "p50_ms": total.latency.p50_ms,
            "p95_ms": p95,
            "p99_ms": total.latency.p99_ms,
            "samples": total.latency.samples,
            "p95_slo_ms": LATENCY_P95_SLO_MS,
            "p95_met": None if p95 is None else p95 <= LATENCY_P95_SLO_MS,
        },
        "throughput": {
            "finished": total.applied + total.skipped + total.failed,
            "average_per_second": total.throughput_per_second,
            "average_per_day": total.throughput_per_second * 86400,
            "busiest_minute": _iso(span.busiest_minute),
            "busiest_minute_events": span.busiest_minute_events,
            "busiest_per_second": span.busiest_minute_events / 60.0,
        },
        "by_entity": [
            {
                "entity": e.entity,
                "applied": e.applied,
                "skipped": e.skipped,
                "failed": e.failed,
                "success_rate": e.success_rate,
                "p95_ms": e.latency.p95_ms,
            }
            for e in span.entities
            if e.applied or e.skipped or e.failed or e.received
        ],
        "dead_letters_added": total.failed,
        "alerts_opened": {"total": sum(a["opened"] for a in alerts), "by_rule": alerts},
        "zoho": {
            "calls": int(sum(r["calls"] for r in days)),
            "busiest_day": busiest_day["day"].date().isoformat() if busiest_day is not None else None,
            "busiest_day_calls": busiest_calls,
            "daily_quota": daily_quota,
            "busiest_day_quota_share": busiest_calls / daily_quota if daily_quota else None,
        },
        "reconciliation": {
            "runs": sum(r["runs"] for r in runs),
            "succeeded": sum(r["succeeded"] for r in runs),
            "failed": sum(r["failed"] for r in runs),
            "with_drift": sum(r["with_drift"] for r in runs),
            "drift": sum(r["drift"] for r in runs),
            "by_entity": runs,
        },
        "coverage": {
            "read_live_before": _iso(span.read_live_before),
            "rolled_through": _iso(span.rolled_through),
        },
        "link": _link(dashboard_url, "/performance"),
    }
    verdict = (
        "SLOs met"
        if data["success_met"] is not False and data["latency"]["p95_met"] is not False
        else "SLO missed"
    )
    success = _percent(total.success_rate)
    subject = f"[TDS] Monthly performance {label}: success {success}, p95 {_ms(p95)} ({verdict})"
    return Rendered(subject, _performance_text(subject, data), _performance_chat(data), data)


def _met(value: bool | None) -> str:
    return "no data" if value is None else ("met" if value else "MISSED")


def _performance_text(subject: str, data: dict[str, Any]) -> str:
    events, latency, throughput = data["events"], data["latency"], data["throughput"]
    zoho, recon = data["zoho"], data["reconciliation"]
    lines = [
        subject,
        "",
        f"Period: {data['period']['label']} ({data['period']['timezone']}), "
        f"{data['period']['start']} to {data['period']['end']}",
        "",
        f"Events received {events['received']:,} (rejected {events['rejected']:,},"
        f" accepted {events['accepted']:,})",
        f"Applied {events['applied']:,}, skipped {events['skipped']:,},"
        f" failed (dead-lettered) {events['failed']:,}, retried attempts {events['retried']:,}",
        f"Success rate {_percent(data['success_rate'])} against the {_percent(data['success_slo'], 1)} SLO:"
        f" {_met(data['success_met'])}",
        f"Latency p50 {_ms(latency['p50_ms'])}, p95 {_ms(latency['p95_ms'])}, p99 {_ms(latency['p99_ms'])}"
        f" ({latency['samples']:,} events); p95 SLO {latency['p95_slo_ms']:.0f} ms:"
        f" {_met(latency['p95_met'])}",
        f"Finished events {throughput['finished']:,} ({throughput['average_per_day']:,.1f} a day on average);"
        " busiest minute "
        + (
            f"{throughput['busiest_minute']} with {throughput['busiest_minute_events']:,} events"
            f" ({throughput['busiest_per_second']:.1f}/s)"
            if throughput["busiest_minute"]
            else "n/a"
        ),
        f"Dead letters added {data['dead_letters_added']:,}",
    ]
    if data["by_entity"]:
        lines += ["", "By entity:        applied  skipped   failed  success      p95"]
        for e in data["by_entity"]:
            lines.append(
                f"  {e['entity']:<14} {e['applied']:>9,} {e['skipped']:>8,} {e['failed']:>8,}"
                f" {_percent(e['success_rate']):>8} {_ms(e['p95_ms']):>10}"
            )
    opened = data["alerts_opened"]
    lines += ["", f"Alerts opened {opened['total']}"]
    for a in opened["by_rule"]:
        lines.append(f"  {a['rule']} ({a['severity']}): {a['opened']}")
    quota = zoho["busiest_day_quota_share"]
    lines += [
        "",
        f"Zoho API calls {zoho['calls']:,}; busiest day (UTC) "
        + (
            f"{zoho['busiest_day']} with {zoho['busiest_day_calls']:,}"
            + (
                f" of {zoho['daily_quota']:,} ({_percent(quota, 1)} of the daily quota)"
                if quota is not None
                else ""
            )
            if zoho["busiest_day"]
            else "n/a"
        ),
        f"Reconciliation runs {recon['runs']} (succeeded {recon['succeeded']}, failed {recon['failed']});"
        f" runs that found drift {recon['with_drift']}, drift found {recon['drift']:,}",
    ]
    for r in recon["by_entity"]:
        lines.append(f"  {r['entity']}: {r['runs']} runs, drift {r['drift']:,}")
    live = data["coverage"]["read_live_before"]
    if live:
        lines += [
            "",
            f"Note: per-minute metrics are kept 30 days; before {live} the counts come from the sync logs"
            " and dead letters (inbox arrivals older than 7 days and Zoho calls are not counted there).",
        ]
    if data["link"]:
        lines += ["", f"Dashboard: {data['link']}"]
    return "\n".join(lines)


def _performance_chat(data: dict[str, Any]) -> str:
    events, latency = data["events"], data["latency"]
    lines = [
        f"*TDS monthly performance* ({data['period']['label']})",
        f"• success *{_percent(data['success_rate'])}* (SLO {_percent(data['success_slo'], 1)}:"
        f" {_met(data['success_met'])}); p95 *{_ms(latency['p95_ms'])}* (SLO {latency['p95_slo_ms']:.0f} ms:"
        f" {_met(latency['p95_met'])}), p50 {_ms(latency['p50_ms'])}, p99 {_ms(latency['p99_ms'])}",
        f"• events accepted {events['accepted']:,}, applied {events['applied']:,},"
        f" failed {events['failed']:,}",
        f"• busiest minute {data['throughput']['busiest_minute_events']:,} events;"
        f" alerts opened {data['alerts_opened']['total']}",
        f"• Zoho calls {data['zoho']['calls']:,}; reconciliation runs {data['reconciliation']['runs']},"
        f" drift found {data['reconciliation']['drift']:,}",
    ]
    if data["link"]:
        lines.append(f"Performance page: {data['link']}")
    return "\n".join(lines)
