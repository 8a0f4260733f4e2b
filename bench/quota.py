"""The Zoho quota a sync spends: a first backfill and the steady state (pure arithmetic).

Zoho's daily quota, not TDS, bounds how fast a backfill can go (Standard 2,000 calls a day,
Premium 10,000, and 100 a minute). These figures come from the same code that ``tds sync
--plan`` runs (:mod:`tds_core.source.estimate` on today's pull plans, ``source/plans.py``),
so they change when the plans do:

1. A first backfill of 50,000 records: calls and days at Standard and Premium, with the
   default reserve (``sync.quota_reserve`` 0.2 of the quota kept for webhook hints and
   reconciliation). "Before" is the pull as the issue found it (a GET by id for every record of
   contacts, invoices, bills and credit notes); "after" is today's plans. A third column shows
   what contacts would cost from list rows alone (they lack ``credit_limit`` and
   ``pricebook_id``, so TDS does not do it).
2. The steady state: the default schedule (a pull every 15 minutes, a reconciliation a night)
   for an organization of 5,000 contacts, 20,000 invoices and 5,000 bills with 500 changes a day.
"""

from __future__ import annotations

from tds_core.config.runtime import RuntimeConfig
from tds_core.source import estimate
from tds_core.source.plans import plan_for

BACKFILL = {"contacts": 5_000, "invoices": 20_000, "bills": 5_000, "creditnotes": 5_000, "items": 15_000}
"""50,000 records, the mix of a mid-sized organization."""
STEADY = {"contacts": 5_000, "invoices": 20_000, "bills": 5_000}
CHANGES_PER_DAY = 500
BEFORE_DETAIL = {"contacts", "invoices", "bills", "creditnotes"}


def _backfill(detail: set[str]) -> estimate.SyncEstimate:
    return estimate.estimate(
        {entity: (records, "bench") for entity, records in BACKFILL.items()},
        daily_quota=estimate.STANDARD.daily,
        reserve_share=estimate.DEFAULT_RESERVE_SHARE,
        detail=lambda entity: entity in detail,
    )


def section() -> str:
    after_detail = {e for e in BACKFILL if plan_for(e).detail}
    columns = {
        "before": _backfill(BEFORE_DETAIL),
        "after (today's plans)": _backfill(after_detail),
        "contacts from list rows (not done)": _backfill(after_detail - {"contacts"}),
    }
    lines = [
        "",
        "## Zoho quota: backfill and steady state",
        "",
        f"A first backfill of {sum(BACKFILL.values()):,} records "
        f"({', '.join(f'{n:,} {e}' for e, n in BACKFILL.items())}), "
        f"reserve {estimate.DEFAULT_RESERVE_SHARE:.0%} of the quota, 100 calls a minute at most "
        "(`bench/quota.py`, the arithmetic of `tds sync --plan`).",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
        "| list pages | " + " | ".join(f"{c.list_calls:,}" for c in columns.values()) + " |",
        "| GETs by id | " + " | ".join(f"{c.detail_calls:,}" for c in columns.values()) + " |",
        "| calls | " + " | ".join(f"{c.calls:,}" for c in columns.values()) + " |",
    ]
    for index, name in ((1, "Standard (2,000/day)"), (2, "Premium (10,000/day)")):
        lines.append(
            f"| days at {name} | "
            + " | ".join(
                f"{c.durations[index].days:.1f} ({c.durations[index].calendar_days})"
                for c in columns.values()
            )
            + " |"
        )
    config = RuntimeConfig()
    total_records = sum(STEADY.values())
    organization = {
        entity: (records, round(CHANGES_PER_DAY * records / total_records))
        for entity, records in STEADY.items()
    }
    costs = estimate.steady_daily_calls(
        organization, pull_cron=config.schedule__pull_cron, reconcile_cron=config.schedule__reconcile_cron
    )
    lines += [
        "",
        "Days: quota days needed (and calendar days spanned: the pull pauses at the reserve and "
        'resumes after the reset). "Before" and "after" match for a first backfill: the audit of '
        "list rows against the ERP columns (`source/plans.py`) kept a GET for every new contact "
        "and document, whose list rows lack the credit limit and price book or the line items. "
        "What changed is around it: a GET only for a new or changed record, pacing at the "
        "reserve, and a resumed backfill that never fetches a record twice.",
        "",
        f"Steady state of the default schedule (`{config.schedule__pull_cron}` pulls, "
        f"`{config.schedule__reconcile_cron}` reconciliation) for "
        + ", ".join(f"{n:,} {e}" for e, n in STEADY.items())
        + f" with {CHANGES_PER_DAY} changes a day:",
        "",
        "| entity | records | changes a day | pull list pages | GETs | reconciliation pages | calls a day |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.entity} | {cost.records:,} | {cost.changes:,} | {cost.pull_list_calls:,} | "
            f"{cost.detail_calls:,} | {cost.reconcile_calls:,} | {cost.calls:,} |"
        )
    total = sum(c.calls for c in costs)
    lines += [
        f"| **total** | | | | | | **{total:,}** |",
        "",
        f"{total:,} calls a day: {total / estimate.FREE.daily:.0%} of the Free plan's 1,000, "
        f"{total / estimate.STANDARD.daily:.0%} of Standard's 2,000.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(section())
