/** Queue: rows by state, filtered and searched by entity / Zoho id / error; each event's trace. */
import {
  Box,
  Button,
  Chip,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
  useMediaQuery,
  useTheme,
} from "@mui/material";
import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { useQueue, useQueueSummary, useQueueTrace, type QueueFilter } from "../../api/queries";
import { DetailDialog } from "../../components/DetailDialog";
import { EntitySelect, OptionSelect } from "../../components/EntitySelect";
import { EventTraceView } from "../../components/EventTraceView";
import { formatNumber, formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager, useCursorPages } from "../../components/Pager";
import { EmptyState, ErrorState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

const STATES: Schemas["QueueState"][] = [
  "pending",
  "processing",
  "completed",
  "skipped_stale",
  "skipped_unchanged",
  "dead",
  "held",
];
const PAGE = 50;

function TraceDialog({ queueId, onClose }: { queueId: number | null; onClose: () => void }) {
  const trace = useQueueTrace(queueId, true);
  const theme = useTheme();
  const phone = useMediaQuery(theme.breakpoints.down("sm"));
  return (
    <DetailDialog
      open={queueId !== null}
      title={`Trace of queue row ${queueId}`}
      titleId="trace-title"
      onClose={onClose}
      maxWidth="lg"
      fullScreen={phone}
      dividers
    >
      <QueryView query={trace} loadingLabel="Following the event…">
        {(data) => <EventTraceView trace={data} />}
      </QueryView>
    </DetailDialog>
  );
}

export function QueuePage() {
  const [params, setParams] = useSearchParams();
  const summary = useQueueSummary();
  const [state, setState] = useState<Schemas["QueueState"] | "">("");
  const [entity, setEntity] = useState("");
  const [zohoId, setZohoId] = useState("");
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState({ zohoId: "", search: "" });
  const pages = useCursorPages();
  const filter: QueueFilter = {
    state: state || undefined,
    entity: (entity || undefined) as QueueFilter["entity"],
    zoho_id: applied.zohoId || undefined,
    search: applied.search || undefined,
    before_id: pages.beforeId,
    limit: PAGE,
  };
  const queue = useQueue(filter);
  const traceId = params.get("trace") ? Number(params.get("trace")) : null;

  function openTrace(id: number | null) {
    const next = new URLSearchParams(params);
    if (id === null) next.delete("trace");
    else next.set("trace", String(id));
    setParams(next);
  }

  function apply(event: FormEvent) {
    event.preventDefault();
    setApplied({ zohoId: zohoId.trim(), search: search.trim() });
    pages.reset();
  }

  function pickState(next: Schemas["QueueState"] | "") {
    setState(next);
    pages.reset();
  }

  return (
    <>
      <PageHeader title="Queue" subtitle="Every event TDS queued, newest first. Pick a row to follow it end to end." />
      <Box sx={{ display: "flex", gap: 1, flexWrap: "wrap", mb: 2 }} aria-label="Queue by state" role="group">
        {summary.data ? (
          <>
            <Chip
              label={`all ${formatNumber(summary.data.total)}`}
              color={state === "" ? "primary" : "default"}
              onClick={() => pickState("")}
            />
            {STATES.map((name) => (
              <Chip
                key={name}
                label={`${name.replace(/_/g, " ")} ${formatNumber((summary.data.by_state as Record<string, number>)[name] ?? 0)}`}
                color={state === name ? "primary" : "default"}
                onClick={() => pickState(name)}
                aria-pressed={state === name}
              />
            ))}
          </>
        ) : summary.isError ? (
          <ErrorState error={summary.error} />
        ) : (
          <Typography color="text.secondary">Counting…</Typography>
        )}
      </Box>
      <Paper variant="outlined" sx={{ p: 2, mb: 2 }}>
        <Box component="form" onSubmit={apply} sx={{ display: "flex", gap: 2, flexWrap: "wrap" }} aria-label="Filter the queue">
          <OptionSelect label="State" value={state} options={STATES} minWidth={170} onChange={pickState} />
          <EntitySelect
            value={entity}
            onChange={(value) => {
              setEntity(value);
              pages.reset();
            }}
          />
          <TextField size="small" label="Zoho id" value={zohoId} onChange={(event) => setZohoId(event.target.value)} />
          <TextField size="small" label="Search errors" value={search} onChange={(event) => setSearch(event.target.value)} />
          <Button type="submit" variant="outlined">
            Search
          </Button>
        </Box>
      </Paper>
      <QueryView query={queue} loadingLabel="Loading the queue…">
        {({ items }) =>
          items.length === 0 ? (
            <EmptyState title="No queue row matches">Change the filter, or wait for traffic.</EmptyState>
          ) : (
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Queue rows">
                <TableHead>
                  <TableRow>
                    <TableCell>Id</TableCell>
                    <TableCell>Entity</TableCell>
                    <TableCell>Zoho id</TableCell>
                    <TableCell>Operation</TableCell>
                    <TableCell>State</TableCell>
                    <TableCell align="right">Attempts</TableCell>
                    <TableCell>Received</TableCell>
                    <TableCell>Last error</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {items.map((row) => (
                    <TableRow key={row.id} hover>
                      <TableCell>
                        <Button size="small" onClick={() => openTrace(row.id)} aria-label={`Trace queue row ${row.id}`} sx={{ minWidth: 0, p: 0 }}>
                          {row.id}
                        </Button>
                      </TableCell>
                      <TableCell>{row.entity}</TableCell>
                      <TableCell sx={{ fontFamily: "monospace" }}>{row.zoho_id}</TableCell>
                      <TableCell>{row.operation}</TableCell>
                      <TableCell>
                        <StatusChip status={row.status} />
                      </TableCell>
                      <TableCell align="right">{row.attempts}</TableCell>
                      <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(row.received_at)}</TableCell>
                      <TableCell sx={{ maxWidth: 280 }}>
                        <Typography variant="body2" noWrap title={row.last_error ?? ""}>
                          {row.last_error ?? ""}
                        </Typography>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )
        }
      </QueryView>
      <Pager pages={pages} next={queue.data?.next_before_id} />
      <TraceDialog queueId={traceId} onClose={() => openTrace(null)} />
    </>
  );
}
