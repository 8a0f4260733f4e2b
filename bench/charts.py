"""PNG charts (matplotlib) and the markdown section for a soak run (``bench.soak`` results).

Three figures, each captioned with the machine and PostgreSQL it ran on: events applied and
offered per second with the faults marked, end-to-end latency percentiles per second, and the
queue (pending, processing) with the lag. ``soak_markdown`` writes the report's section,
throughput given as a ratio to the raw batched-upsert ceiling of the same ``make bench`` run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display here
import matplotlib.pyplot as plt

WORKER_KILL_RECOVERY_TARGET = 5.0  # s, issue 6: recovery after a worker SIGKILL, at most
FAULT_COLOURS = {
    "worker SIGKILL": "tab:red",
    "API SIGKILL": "tab:purple",
    "PostgreSQL restart": "tab:brown",
    "ERP failure": "tab:orange",
}


def caption(results: dict[str, Any]) -> str:
    m = results["machine"]
    plan = results["plan"]
    return (
        f"{m['cpus']} cores, {m['memory_gib']} GiB, {m['platform']}; PostgreSQL {m.get('postgresql', '?')} "
        f"(own cluster, fsync on) on the same machine; {plan['apis']} API + {plan['workers']} worker "
        f"processes + scheduler; {plan['rate']:.1f} changes/s offered"
    )


def _faults(axis: Any, results: dict[str, Any]) -> None:
    seen: set[str] = set()
    for fault in results["faults"]:
        colour = FAULT_COLOURS.get(fault["kind"], "grey")
        label = fault["kind"] if fault["kind"] not in seen else None
        seen.add(fault["kind"])
        if fault["ended"] - fault["started"] > 1:
            axis.axvspan(fault["started"], fault["ended"], color=colour, alpha=0.15, label=label)
        else:
            axis.axvline(fault["started"], color=colour, linestyle="--", linewidth=1, label=label)


def _figure(title: str, results: dict[str, Any]) -> tuple[Any, Any]:
    figure, axis = plt.subplots(figsize=(10, 4.2), dpi=100)
    axis.set_title(title, fontsize=11)
    figure.text(0.01, 0.01, caption(results), fontsize=7, color="dimgray")
    axis.set_xlabel("seconds since the traffic started")
    axis.grid(True, alpha=0.3)
    return figure, axis


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout(rect=(0, 0.04, 1, 1))  # room for the caption
    figure.savefig(path)
    plt.close(figure)
    return path


def draw(results: dict[str, Any], directory: Path, prefix: str = "soak") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    series = results["series"]
    paths = []

    figure, axis = _figure(
        "Throughput: events applied and changes offered per second, faults marked", results
    )
    applied = series["applied_per_second"]
    offered = series["offered_per_second"]
    axis.plot([t for t, _ in applied], [n for _, n in applied], label="applied (completed or skipped)", lw=1)
    axis.plot([t for t, _ in offered], [n for _, n in offered], label="changes offered", lw=1, alpha=0.7)
    axis.set_ylabel("per second")
    _faults(axis, results)
    axis.legend(fontsize=7, loc="upper right", ncol=2)
    paths.append(_save(figure, directory / f"{prefix}-throughput.png"))

    figure, axis = _figure("End-to-end latency (receipt → ERP write), percentiles per second", results)
    latency = [row for row in series["latency_ms"] if row[1] is not None]
    for index, name in ((1, "p50"), (2, "p95"), (3, "p99")):
        axis.plot([row[0] for row in latency], [row[index] for row in latency], label=name, lw=1)
    axis.set_yscale("log")
    axis.set_ylabel("milliseconds (log scale)")
    _faults(axis, results)
    axis.legend(fontsize=7, loc="upper right", ncol=2)
    paths.append(_save(figure, directory / f"{prefix}-latency.png"))

    figure, axis = _figure("Queue depth and lag (age of the oldest unfinished event)", results)
    queue = [s for s in series["queue"] if s["pending"] is not None]
    axis.plot([s["t"] for s in queue], [s["pending"] for s in queue], label="pending", lw=1)
    axis.plot([s["t"] for s in queue], [s["processing"] for s in queue], label="processing", lw=1)
    axis.set_ylabel("events")
    _faults(axis, results)
    lag_axis = axis.twinx()
    lag_axis.plot([s["t"] for s in queue], [s["lag"] for s in queue], color="black", lw=0.8, label="lag (s)")
    lag_axis.set_ylabel("lag, seconds")
    handles, labels = axis.get_legend_handles_labels()
    more_handles, more_labels = lag_axis.get_legend_handles_labels()
    axis.legend(handles + more_handles, labels + more_labels, fontsize=7, loc="upper right", ncol=2)
    paths.append(_save(figure, directory / f"{prefix}-queue.png"))
    return paths


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def soak_markdown(results: dict[str, Any], images: list[str], ceiling_rows_per_s: float | None) -> str:
    """The report's soak section; ``images`` are paths relative to the report."""
    plan, traffic, inv = results["plan"], results["traffic"], results["invariants"]
    applied = sum(n for _, n in results["series"]["applied_per_second"])
    seconds = max(results["timings"].get("traffic_seconds", 0.0), 1e-9)
    rate = applied / seconds
    ratio = f"{rate / ceiling_rows_per_s:.1%}" if ceiling_rows_per_s else "n/a"
    lines = [
        "## Soak: scale-out under load and faults",
        "",
        f"`python -m bench.soak --duration {plan['duration']:.0f}` (`make soak`): {plan['apis']} `tds api` "
        f"processes, {plan['workers']} `tds worker` processes (concurrency {plan['worker_concurrency']}) "
        "and `tds scheduler` on a PostgreSQL cluster of the soak's own; the built-in simulator changes "
        f"records at {plan['rate']:.1f}/s (500,000 an hour, ten times the seed's peak) and sends each as "
        f"a webhook with {plan['duplicate_percent']:.0f}% duplicates, {plan['reorder_percent']:.0f}% "
        f"reordered and {plan['drop_percent']:.0f}% dropped. Faults: a random worker (one is spared, "
        "to measure its memory over the run) SIGKILLed every "
        f"{plan['worker_kill_every']:.0f} s, one API process SIGKILLed, PostgreSQL restarted "
        "(`pg_ctl restart -m fast`), and every ERP table refusing writes for "
        f"{min(plan['erp_failure_seconds'], plan['duration'] * 0.2):.0f} s. Killed processes are "
        "restarted after 1 s (as systemd would). At the end: drained, `tds reconcile all --heal`, full "
        "scans of the entities Zoho gives no version (items, price lists), drained, then checked.",
        "",
        f"Machine: {caption(results)}.",
        "",
        "| invariant | result | holds |",
        "|---|---|---|",
    ]
    for name, check in inv.items():
        value = check["value"]
        shown = "none" if value == [] else value
        if "of" in check:
            shown = f"{value} of {check['of']}"
        lines.append(f"| {name.replace('_', ' ')} | {shown} | {'yes' if check['ok'] else '**NO**'} |")
    lines += [
        "",
        "| measure | result |",
        "|---|---|",
        f"| changes offered | {_n(traffic['changes_made'])} ({traffic['offered_per_second']}/s) |",
        f"| webhook deliveries | {_n(traffic['sent'])}: {_n(traffic['dropped'])} dropped, "
        f"{_n(traffic['duplicates'])} duplicated, {_n(traffic['reordered'])} reordered, "
        f"{_n(traffic['retries'])} retried while no API answered, {_n(traffic['failed'])} failed |",
        f"| events applied or skipped | {_n(applied)} ({rate:,.1f}/s; {ratio} of the 4-connection "
        "raw upsert ceiling of this run; the offered rate, not TDS, is the limit here) |",
        f"| end-to-end latency p50 / p95 / p99 (whole run, faults included) | "
        f"{results['latency_ms'].get('p50')} / {results['latency_ms'].get('p95')} / "
        f"{results['latency_ms'].get('p99')} ms |",
        f"| queue at the end | {results['queue']} |",
        f"| reconciliation at the end | healed {results['reconcile'].get('healed')}, "
        f"drift {results['reconcile'].get('drift')} |",
        "",
        "Recovery: from the fault's end (a kill ends at once) to the first moment the lag (age of "
        "the oldest unfinished event) is under 1 s again; for a killed worker also when the events "
        "it held were finished by the others.",
        "",
        "| at (s) | fault | recovery (s) | peak lag (s) | killed worker's events |",
        "|---|---|---|---|---|",
    ]
    for fault in results["faults"]:
        orphans = (
            f"{fault['orphans']} finished after {fault['orphans_seconds']} s"
            if fault["orphans"] is not None
            else ""
        )
        lines.append(
            f"| {fault['started']:.1f} | {fault['kind']} ({fault['target']}) | "
            f"{fault['recovery_seconds']} | {fault['peak_lag']} | {orphans} |"
        )
    kills = [
        fault["recovery_seconds"]
        for fault in results["faults"]
        if fault["kind"] == "worker SIGKILL" and fault["recovery_seconds"] is not None
    ]
    if kills:
        worst = max(kills)
        meets = "meets" if worst <= WORKER_KILL_RECOVERY_TARGET else "**NO**"
        lines += [
            "",
            f"Recovery after a worker SIGKILL: worst {worst} s over {len(kills)} kills "
            f"(target ≤ {WORKER_KILL_RECOVERY_TARGET:.0f} s: {meets}).",
        ]
    lines += [
        "",
        "| process role | processes | RSS growth after warm-up (largest) | peak RSS |",
        "|---|---|---|---|",
    ]
    for role, entry in results["memory"].items():
        lines.append(
            f"| {role} | {entry['processes']} | {entry['max_growth_mb']} MB "
            f"({entry.get('from_mb')} → {entry.get('to_mb')}) | {entry['peak_mb']} MB |"
        )
    lines.append("")
    lines += [f"![{Path(image).stem}]({image})" for image in images]
    lines.append("")
    return "\n".join(lines)
