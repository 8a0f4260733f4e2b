/** Sync: pull and reconciliation runs, each entity's cursor, manual triggers, drift reports. */
import {
  Box,
  Button,
  Checkbox,
  FormControlLabel,
  Grid,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { ENTITIES, useCursors, useSyncRun, useSyncRuns, type RunFilter } from "../../api/queries";
import { RequireRole } from "../../auth/AuthProvider";
import { DetailDialog } from "../../components/DetailDialog";
import { EntitySelect, OptionSelect } from "../../components/EntitySelect";
import { formatNumber, formatSeconds, formatTime } from "../../components/format";
import { JobProgress } from "../../components/JobProgress";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { EmptyState, ErrorState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";
import { SyncPlan } from "./SyncPlan";

type Kind = NonNullable<RunFilter["kind"]>;
const KINDS: Kind[] = ["incremental", "full", "reconcile", "manual"];
const TRIGGER_ENTITIES = ["all", ...ENTITIES] as const;

function RunDetail({ runId, onClose }: { runId: number | null; onClose: () => void }) {
  const run = useSyncRun(runId);
  return (
    <DetailDialog open={runId !== null} title={`Run #${runId}`} titleId="run-title" onClose={onClose} dividers>
      <QueryView query={run}>
        {(data) => {
          const details = data.details as Record<string, unknown>;
          const kinds = ["missing", "stale", "extra", "conflicts"].filter((kind) => Array.isArray(details[kind]));
          return (
            <Box sx={{ display: "grid", gap: 2 }}>
              <Typography variant="body2">
                {data.kind} of {data.entity} · <StatusChip status={data.status} /> · {formatTime(data.started_at)} ·{" "}
                {formatSeconds(data.seconds)} · {data.api_calls} Zoho call(s) · fetched {data.fetched}, queued {data.queued}, unchanged{" "}
                {data.unchanged}, failed {data.failed} · {data.triggered_by}
              </Typography>
              {data.error ? <ErrorState error={new Error(data.error)} /> : null}
              {data.kind === "reconcile" ? (
                <>
                  <Typography variant="h6" component="h3">
                    Drift: {formatNumber(data.drift)}
                  </Typography>
                  {kinds.length === 0 ? <Typography color="text.secondary">No drift details.</Typography> : null}
                  {kinds.map((kind) => {
                    const ids = (details[kind] as unknown[]).map(String);
                    return (
                      <Box key={kind}>
                        <Typography variant="subtitle2" component="h4">
                          {kind} ({ids.length})
                        </Typography>
                        {ids.length === 0 ? (
                          <Typography variant="body2" color="text.secondary">
                            none
                          </Typography>
                        ) : (
                          <Box component="ul" sx={{ m: 0, pl: 2.5, columns: { xs: 1, sm: 2, md: 3 }, fontFamily: "monospace", fontSize: 13 }}>
                            {ids.map((id) => (
                              <li key={id}>
                                <RouterLink to={`/entities/${data.entity}/${encodeURIComponent(id)}`}>{id}</RouterLink>
                              </li>
                            ))}
                          </Box>
                        )}
                      </Box>
                    );
                  })}
                </>
              ) : (
                <Typography variant="body2">
                  Cursor {formatTime(data.cursor_from)} → {formatTime(data.cursor_to)}
                </Typography>
              )}
            </Box>
          );
        }}
      </QueryView>
    </DetailDialog>
  );
}

function Triggers({ onJob }: { onJob: (id: number) => void }) {
  const [entity, setEntity] = useState<(typeof TRIGGER_ENTITIES)[number]>("all");
  const [full, setFull] = useState(false);
  const [heal, setHeal] = useState(true);
  const sync = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/sync/{entity}", { params: { path: { entity }, query: { full } } })),
    onSuccess: (job) => onJob(job.id),
  });
  const reconcile = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/reconcile", { body: { entity, heal } })),
    onSuccess: (job) => onJob(job.id),
  });
  return (
    <SectionCard title="Run now">
      <Box sx={{ display: "flex", gap: 2, flexWrap: "wrap", alignItems: "center" }}>
        <OptionSelect label="Entity" value={entity} options={TRIGGER_ENTITIES} allowAll={false} onChange={(value) => setEntity(value || "all")} />
        <FormControlLabel control={<Checkbox checked={full} onChange={(event) => setFull(event.target.checked)} />} label="Full resync" />
        <Button variant="contained" onClick={() => sync.mutate()} disabled={sync.isPending}>
          Sync now
        </Button>
        <FormControlLabel control={<Checkbox checked={heal} onChange={(event) => setHeal(event.target.checked)} />} label="Heal drift" />
        <Button variant="outlined" onClick={() => reconcile.mutate()} disabled={reconcile.isPending}>
          Reconcile now
        </Button>
      </Box>
      {sync.isError ? <ErrorState error={sync.error} /> : null}
      {reconcile.isError ? <ErrorState error={reconcile.error} /> : null}
    </SectionCard>
  );
}

export function SyncPage() {
  const [entity, setEntity] = useState("");
  const [kind, setKind] = useState<Kind | "">("");
  const runs = useSyncRuns({ entity: entity || undefined, kind: kind || undefined, limit: 50 });
  const cursors = useCursors();
  const [runId, setRunId] = useState<number | null>(null);
  const [jobs, setJobs] = useState<number[]>([]);
  return (
    <>
      <PageHeader title="Sync" subtitle="Incremental pulls follow a cursor per entity; reconciliation compares every record with Zoho." />
      <Grid container spacing={2}>
        <RequireRole least="operator">
          <Grid size={12}>
            <Triggers onJob={(id) => setJobs((current) => [id, ...current])} />
          </Grid>
        </RequireRole>
        {jobs.map((id) => (
          <Grid size={12} key={id}>
            <JobProgress jobId={id} onDismiss={() => setJobs((current) => current.filter((job) => job !== id))} />
          </Grid>
        ))}
        <Grid size={{ xs: 12, lg: 8 }}>
          <Box sx={{ display: "flex", gap: 2, mb: 2, flexWrap: "wrap", alignItems: "center" }}>
            <Typography variant="h6" component="h2" sx={{ flexGrow: 1 }}>
              Runs
            </Typography>
            <EntitySelect value={entity} onChange={setEntity} />
            <OptionSelect label="Kind" value={kind} options={KINDS} minWidth={150} onChange={setKind} />
          </Box>
          <QueryView query={runs} loadingLabel="Loading runs…">
            {(data) =>
              data.length === 0 ? (
                <EmptyState title="No run yet">The scheduler pulls every 15 minutes; or run one now.</EmptyState>
              ) : (
                <TableContainer component={Paper} variant="outlined">
                  <Table size="small" aria-label="Runs">
                    <TableHead>
                      <TableRow>
                        <TableCell>Run</TableCell>
                        <TableCell>Status</TableCell>
                        <TableCell>Started</TableCell>
                        <TableCell align="right">Fetched</TableCell>
                        <TableCell align="right">Queued</TableCell>
                        <TableCell align="right">Drift</TableCell>
                      </TableRow>
                    </TableHead>
                    <TableBody>
                      {data.map((run) => (
                        <TableRow key={run.id} hover>
                          <TableCell>
                            <Button size="small" onClick={() => setRunId(run.id)} sx={{ textTransform: "none", p: 0 }} aria-label={`Run ${run.id}: ${run.kind} of ${run.entity}`}>
                              #{run.id} {run.kind} {run.entity}
                            </Button>
                          </TableCell>
                          <TableCell>
                            <StatusChip status={run.status} />
                          </TableCell>
                          <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(run.started_at)}</TableCell>
                          <TableCell align="right">{formatNumber(run.fetched)}</TableCell>
                          <TableCell align="right">{formatNumber(run.queued)}</TableCell>
                          <TableCell align="right">{run.drift === null || run.drift === undefined ? "—" : formatNumber(run.drift)}</TableCell>
                        </TableRow>
                      ))}
                    </TableBody>
                  </Table>
                </TableContainer>
              )
            }
          </QueryView>
        </Grid>
        <Grid size={{ xs: 12, lg: 4 }}>
          <SectionCard title="Cursors">
            <QueryView query={cursors}>
              {(data) =>
                data.length === 0 ? (
                  <Typography color="text.secondary">No entity has been pulled yet.</Typography>
                ) : (
                  <Table size="small" aria-label="Cursors">
                    <TableBody>
                      {data.map((cursor) => (
                        <TableRow key={cursor.entity}>
                          <TableCell>
                            <strong>{cursor.entity}</strong>
                            <Typography variant="caption" color="text.secondary" component="div">
                              {cursor.strategy}
                              {cursor.last_full_scan_at ? ` · full scan ${formatTime(cursor.last_full_scan_at)}` : ""}
                            </Typography>
                          </TableCell>
                          <TableCell>
                            {formatTime(cursor.watermark)}
                            <Typography variant="caption" color="text.secondary" component="div">
                              updated {formatTime(cursor.updated_at)}
                            </Typography>
                          </TableCell>
                        </TableRow>
                      ))}
                    </TableBody>
                  </Table>
                )
              }
            </QueryView>
          </SectionCard>
          <Box sx={{ mt: 2 }}>
            <SyncPlan />
          </Box>
        </Grid>
      </Grid>
      <RunDetail runId={runId} onClose={() => setRunId(null)} />
    </>
  );
}
