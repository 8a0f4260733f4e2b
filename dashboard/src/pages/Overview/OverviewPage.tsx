/** Overview: the live state of the sync at a glance (polled every few seconds). */
import {
  Box,
  Grid,
  Link,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  ToggleButton,
  ToggleButtonGroup,
} from "@mui/material";
import { useState } from "react";
import { Link as RouterLink } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { useAlerts, useHistory, useStats, type StatsWindow } from "../../api/queries";
import { formatMs, formatNumber, formatPercent, formatSeconds } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { SeriesChart } from "../../components/SeriesChart";
import { LATENCY_P95_SLO_MS, SUCCESS_SLO } from "../../components/slo";
import { StatCard } from "../../components/StatCard";
import { QueryView } from "../../components/States";

function circuitState(breakers: Record<string, number>, alive: number): { label: string; tone: "good" | "bad" | "warn" } {
  if (alive === 0) return { label: "no workers", tone: "bad" };
  if ((breakers.open ?? 0) > 0) return { label: "open", tone: "bad" };
  if ((breakers.half_open ?? 0) > 0) return { label: "half open", tone: "warn" };
  return { label: "closed", tone: "good" };
}

export function Headline({ stats, openAlerts }: { stats: Schemas["WindowStats"]; openAlerts: number | null }) {
  const total = stats.total;
  const successTone = total.success_rate === null ? "normal" : total.success_rate >= SUCCESS_SLO ? "good" : "bad";
  const p95 = total.latency.p95_ms;
  const latencyTone = p95 === null ? "normal" : p95 <= LATENCY_P95_SLO_MS ? "good" : "bad";
  const circuit = circuitState(stats.workers.breakers, stats.workers.alive);
  const quota = stats.zoho[0];
  const cards = [
    <StatCard
      key="throughput"
      testId="stat-throughput"
      label="Throughput"
      value={`${formatNumber(total.throughput_per_second, 2)} /s`}
      detail={`${formatNumber(total.applied)} applied, ${formatNumber(total.received)} received`}
    />,
    <StatCard
      key="success"
      testId="stat-success"
      label="Success rate"
      value={formatPercent(total.success_rate)}
      tone={successTone}
      detail={
        total.success_rate === null
          ? "no finished events in the window"
          : `SLO ${formatPercent(SUCCESS_SLO, 1)}: ${successTone === "good" ? "met" : "missed"}; ${formatNumber(total.failed)} failed`
      }
    />,
    <StatCard
      key="latency"
      testId="stat-latency"
      label="End-to-end latency p50 / p95 / p99"
      value={`${formatMs(total.latency.p50_ms)} / ${formatMs(p95)} / ${formatMs(total.latency.p99_ms)}`}
      tone={latencyTone}
      detail={`SLO p95 ≤ ${LATENCY_P95_SLO_MS} ms${p95 === null ? "" : latencyTone === "good" ? ": met" : ": missed"}; ${formatNumber(total.latency.samples)} samples`}
    />,
    <StatCard
      key="queue"
      testId="stat-queue"
      label="Queue depth"
      value={formatNumber(stats.queue.pending + stats.queue.processing)}
      detail={`${formatNumber(stats.queue.ready)} ready, ${formatNumber(stats.queue.pending - stats.queue.ready)} in backoff, ${formatNumber(stats.queue.processing)} processing`}
    />,
    <StatCard
      key="lag"
      testId="stat-lag"
      label="Lag"
      value={formatSeconds(stats.queue.oldest_ready_age_seconds)}
      tone={stats.queue.oldest_ready_age_seconds > 60 ? "warn" : "normal"}
      detail="oldest ready event's wait"
    />,
    <StatCard
      key="dlq"
      testId="stat-dlq"
      label="Dead letters"
      value={formatNumber(stats.dead_letters.open)}
      tone={stats.dead_letters.open > 0 ? "warn" : "good"}
      detail={
        stats.dead_letters.oldest_age_seconds === null
          ? "none open"
          : `oldest ${formatSeconds(stats.dead_letters.oldest_age_seconds)} old`
      }
    />,
    <StatCard
      key="circuit"
      testId="stat-circuit"
      label="Circuit breaker"
      value={circuit.label}
      tone={circuit.tone}
      detail={`${formatNumber(stats.workers.alive)} workers alive: ${Object.entries(stats.workers.breakers)
        .map(([state, count]) => `${count} ${state.replace("_", " ")}`)
        .join(", ")}`}
    />,
    <StatCard
      key="alerts"
      testId="stat-alerts"
      label="Open alerts"
      value={openAlerts === null ? "—" : formatNumber(openAlerts)}
      tone={openAlerts ? "bad" : "good"}
      detail={
        <Link component={RouterLink} to="/alerts">
          See alerts
        </Link>
      }
    />,
    <StatCard
      key="quota"
      testId="stat-quota"
      label="Zoho quota today"
      value={quota ? `${formatNumber(quota.calls_today)} / ${quota.daily_quota === null ? "∞" : formatNumber(quota.daily_quota)}` : "—"}
      tone={quota && quota.daily_quota && quota.remaining !== null && quota.remaining < quota.daily_quota * 0.1 ? "bad" : "normal"}
      detail={quota ? `${quota.remaining === null ? "no daily limit" : `${formatNumber(quota.remaining)} calls left`} (org ${quota.organization})` : "no Zoho organization yet"}
    />,
  ];
  return (
    <Grid container spacing={2}>
      {cards.map((card) => (
        <Grid key={card.key} size={{ xs: 12, sm: 6, lg: 4 }}>
          {card}
        </Grid>
      ))}
    </Grid>
  );
}

function EntityTable({ entities }: { entities: Schemas["EntityStats"][] }) {
  return (
    <TableContainer>
      <Table size="small" aria-label="Per entity">
        <TableHead>
          <TableRow>
            <TableCell>Entity</TableCell>
            <TableCell align="right">Received</TableCell>
            <TableCell align="right">Applied</TableCell>
            <TableCell align="right">Skipped</TableCell>
            <TableCell align="right">Retried</TableCell>
            <TableCell align="right">Failed</TableCell>
            <TableCell align="right">Success</TableCell>
            <TableCell align="right">p95</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {entities.map((row) => (
            <TableRow key={row.entity}>
              <TableCell component="th" scope="row">
                {row.entity}
              </TableCell>
              <TableCell align="right">{formatNumber(row.received)}</TableCell>
              <TableCell align="right">{formatNumber(row.applied)}</TableCell>
              <TableCell align="right">{formatNumber(row.skipped)}</TableCell>
              <TableCell align="right">{formatNumber(row.retried)}</TableCell>
              <TableCell align="right">{formatNumber(row.failed)}</TableCell>
              <TableCell align="right">{formatPercent(row.success_rate)}</TableCell>
              <TableCell align="right">{formatMs(row.latency.p95_ms)}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function ThroughputChart() {
  const history = useHistory({ name: "events_applied", step: 60 });
  return (
    <SectionCard title="Events applied per minute, last hour">
      <QueryView query={history}>{(data) => <SeriesChart history={data} height={200} />}</QueryView>
    </SectionCard>
  );
}

export function OverviewPage() {
  const [window, setWindow] = useState<StatsWindow>("5m");
  const stats = useStats(window);
  const alerts = useAlerts({ status: "open", limit: 100 });
  return (
    <>
      <PageHeader
        title="Overview"
        subtitle={
          stats.data
            ? `Live: the last ${{ "5m": "5 minutes", "1h": "hour", "24h": "24 hours" }[window]}, refreshed every few seconds`
            : "Live numbers of the whole cluster"
        }
        actions={
          <ToggleButtonGroup
            size="small"
            exclusive
            value={window}
            onChange={(_, value: StatsWindow | null) => value && setWindow(value)}
            aria-label="Window"
          >
            <ToggleButton value="5m">5 min</ToggleButton>
            <ToggleButton value="1h">1 hour</ToggleButton>
            <ToggleButton value="24h">24 hours</ToggleButton>
          </ToggleButtonGroup>
        }
      />
      <QueryView query={stats} loadingLabel="Loading the numbers…">
        {(data) => (
          <Box sx={{ display: "grid", gap: 3 }}>
            <Headline stats={data} openAlerts={alerts.data ? alerts.data.length : null} />
            <ThroughputChart />
            <SectionCard title="Per entity">
              <EntityTable entities={data.entities} />
            </SectionCard>
          </Box>
        )}
      </QueryView>
    </>
  );
}
