/** Dead letters: filter, select, replay or discard one or many (with confirmation and progress). */
import {
  Alert,
  Box,
  Button,
  Checkbox,
  Link,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link as RouterLink } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useDeadLetters, type DeadLetterFilter } from "../../api/queries";
import { RequireRole, useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog, NoteField } from "../../components/ConfirmDialog";
import { EntitySelect, OptionSelect } from "../../components/EntitySelect";
import { formatNumber, formatTime } from "../../components/format";
import { JobProgress } from "../../components/JobProgress";
import { PageHeader } from "../../components/PageHeader";
import { Pager, useCursorPages } from "../../components/Pager";
import { EmptyState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

const PAGE = 50;
type Status = NonNullable<DeadLetterFilter["status"]>;
type ErrorClass = NonNullable<DeadLetterFilter["error_class"]>;
const STATUSES: Status[] = ["open", "replayed", "discarded"];
const ERROR_CLASSES: ErrorClass[] = ["retryable", "permanent", "unknown"];
type Bulk = { kind: "replay" | "discard"; scope: "selected" | "matching" };

/** What a bulk action acts on: the selected ids, or the filter as it stands ("all" when empty). */
function selection(scope: Bulk["scope"], ids: number[], filter: DeadLetterFilter): Schemas["BulkReplay"] {
  if (scope === "selected") return { ids };
  const chosen = {
    entity: filter.entity || undefined,
    zoho_id: filter.zoho_id || undefined,
    error: filter.error || undefined,
    error_class: filter.error_class || undefined,
  };
  const any = Object.values(chosen).some((value) => value !== undefined);
  return any ? chosen : { all: true };
}

export function DeadLettersPage() {
  const { can } = useAuth();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status | "">("open");
  const [entity, setEntity] = useState("");
  const [errorClass, setErrorClass] = useState<ErrorClass | "">("");
  const [zohoId, setZohoId] = useState("");
  const [errorText, setErrorText] = useState("");
  const [applied, setApplied] = useState({ zohoId: "", errorText: "" });
  const pages = useCursorPages();
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [bulk, setBulk] = useState<Bulk | null>(null);
  const [note, setNote] = useState("");
  const [jobId, setJobId] = useState<number | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const filter: DeadLetterFilter = {
    status: status || undefined,
    entity: entity || undefined,
    error_class: errorClass || undefined,
    zoho_id: applied.zohoId || undefined,
    error: applied.errorText || undefined,
    before_id: pages.beforeId,
    limit: PAGE,
  };
  const letters = useDeadLetters(filter);
  const rows = letters.data ?? [];
  const selectable = rows.filter((row) => row.status === "open");
  const selectedIds = [...selected];

  function resetPaging() {
    pages.reset();
    setSelected(new Set());
  }

  function applyText(event: FormEvent) {
    event.preventDefault();
    setApplied({ zohoId: zohoId.trim(), errorText: errorText.trim() });
    resetPaging();
  }

  const act = useMutation({
    mutationFn: async (action: Bulk) => {
      const body = selection(action.scope, selectedIds, filter);
      if (action.kind === "replay") {
        const job = await unwrap(api.POST("/api/v1/dlq/replay", { body: { ...body, note: note || undefined } }));
        return { job };
      }
      const done = await unwrap(api.POST("/api/v1/dlq/discard", { body: { ...body, note } }));
      return { discarded: done.discarded };
    },
    onSuccess: (result) => {
      if ("job" in result && result.job) setJobId(result.job.id);
      if ("discarded" in result) setMessage(`${formatNumber(result.discarded)} dead letter(s) discarded.`);
      setBulk(null);
      setNote("");
      setSelected(new Set());
      void queryClient.invalidateQueries({ queryKey: ["dlq"] });
    },
  });

  const toggle = (id: number) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allSelected = selectable.length > 0 && selectable.every((row) => selected.has(row.id));
  const bulkCount = bulk?.scope === "selected" ? selectedIds.length : null;
  const discardNeedsNote = bulk?.kind === "discard" && note.trim() === "";
  const filtered = Boolean(entity || errorClass || applied.zohoId || applied.errorText);

  return (
    <>
      <PageHeader
        title="Dead letters"
        subtitle="Events that failed every attempt. Replay them once the cause is fixed, or discard them with a note."
        actions={
          <RequireRole least="operator">
            <Button
              variant="contained"
              disabled={selectedIds.length === 0}
              onClick={() => setBulk({ kind: "replay", scope: "selected" })}
            >
              Replay selected ({selectedIds.length})
            </Button>
            <Button variant="outlined" onClick={() => setBulk({ kind: "replay", scope: "matching" })} disabled={status !== "open"}>
              {filtered ? "Replay all matching" : "Replay all open"}
            </Button>
            <Button
              variant="outlined"
              color="error"
              disabled={selectedIds.length === 0}
              onClick={() => setBulk({ kind: "discard", scope: "selected" })}
            >
              Discard selected
            </Button>
          </RequireRole>
        }
      />
      {jobId !== null ? (
        <Box sx={{ mb: 2 }}>
          <JobProgress jobId={jobId} onDismiss={() => setJobId(null)} />
        </Box>
      ) : null}
      {message ? (
        <Alert severity="success" sx={{ mb: 2 }} onClose={() => setMessage(null)}>
          {message}
        </Alert>
      ) : null}
      <Paper variant="outlined" sx={{ p: 2, mb: 2 }}>
        <Box component="form" onSubmit={applyText} sx={{ display: "flex", gap: 2, flexWrap: "wrap", alignItems: "center" }} aria-label="Filter dead letters">
          <OptionSelect
            label="Status"
            value={status}
            options={STATUSES}
            minWidth={140}
            onChange={(value) => {
              setStatus(value);
              resetPaging();
            }}
          />
          <EntitySelect
            value={entity}
            onChange={(value) => {
              setEntity(value);
              resetPaging();
            }}
          />
          <OptionSelect
            label="Error class"
            value={errorClass}
            options={ERROR_CLASSES}
            minWidth={150}
            onChange={(value) => {
              setErrorClass(value);
              resetPaging();
            }}
          />
          <TextField size="small" label="Zoho id" value={zohoId} onChange={(event) => setZohoId(event.target.value)} />
          <TextField size="small" label="Error contains" value={errorText} onChange={(event) => setErrorText(event.target.value)} />
          <Button type="submit" variant="outlined">
            Search
          </Button>
        </Box>
      </Paper>
      <QueryView query={letters} loadingLabel="Loading dead letters…">
        {() =>
          rows.length === 0 ? (
            <EmptyState title={filtered || status !== "open" ? "No dead letters match" : "No open dead letters"}>
              {filtered ? "Change the filter to see more." : "Every event was applied or skipped. Nice."}
            </EmptyState>
          ) : (
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Dead letters">
                <TableHead>
                  <TableRow>
                    {can("operator") ? (
                      <TableCell padding="checkbox">
                        <Checkbox
                          checked={allSelected}
                          indeterminate={selected.size > 0 && !allSelected}
                          disabled={selectable.length === 0}
                          onChange={() => setSelected(allSelected ? new Set() : new Set(selectable.map((row) => row.id)))}
                          slotProps={{ input: { "aria-label": "Select every open dead letter on this page" } }}
                        />
                      </TableCell>
                    ) : null}
                    <TableCell>Id</TableCell>
                    <TableCell>Entity</TableCell>
                    <TableCell>Zoho id</TableCell>
                    <TableCell>Error</TableCell>
                    <TableCell align="right">Attempts</TableCell>
                    <TableCell>Status</TableCell>
                    <TableCell>Dead since</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {rows.map((row) => (
                    <TableRow key={row.id} hover selected={selected.has(row.id)}>
                      {can("operator") ? (
                        <TableCell padding="checkbox">
                          <Checkbox
                            checked={selected.has(row.id)}
                            disabled={row.status !== "open"}
                            onChange={() => toggle(row.id)}
                            slotProps={{ input: { "aria-label": `Select dead letter ${row.id}` } }}
                          />
                        </TableCell>
                      ) : null}
                      <TableCell>
                        <Link component={RouterLink} to={`/dead-letters/${row.id}`}>
                          #{row.id}
                        </Link>
                      </TableCell>
                      <TableCell>{row.entity}</TableCell>
                      <TableCell sx={{ fontFamily: "monospace" }}>{row.zoho_id}</TableCell>
                      <TableCell sx={{ maxWidth: 380 }}>
                        <Typography variant="body2" noWrap title={row.error}>
                          {row.error}
                        </Typography>
                        <Typography variant="caption" color="text.secondary">
                          {row.error_class}
                        </Typography>
                      </TableCell>
                      <TableCell align="right">{row.attempts}</TableCell>
                      <TableCell>
                        <StatusChip status={row.status} />
                      </TableCell>
                      <TableCell>{formatTime(row.created_at)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )
        }
      </QueryView>
      <Pager pages={pages} next={rows.length < PAGE ? null : rows[rows.length - 1]?.id} />
      <ConfirmDialog
        open={bulk !== null}
        title={
          bulk?.kind === "replay"
            ? bulkCount !== null
              ? `Replay ${bulkCount} dead letter(s)?`
              : "Replay every matching open dead letter?"
            : `Discard ${bulkCount ?? 0} dead letter(s)?`
        }
        confirmLabel={bulk?.kind === "replay" ? "Replay" : "Discard"}
        color={bulk?.kind === "discard" ? "error" : "primary"}
        busy={act.isPending}
        confirmDisabled={discardNeedsNote}
        error={act.isError ? act.error : null}
        onClose={() => {
          setBulk(null);
          act.reset();
        }}
        onConfirm={() => bulk && act.mutate(bulk)}
      >
        <Typography sx={{ mb: 2 }}>
          {bulk?.kind === "replay"
            ? "Each event is queued again with its attempts reset, as a background job you can follow here."
            : "Discarded events stay dead and are never applied. The note is kept with each of them."}
        </Typography>
        <NoteField value={note} onChange={setNote} required={bulk?.kind === "discard"} />
      </ConfirmDialog>
    </>
  );
}
