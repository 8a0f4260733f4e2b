/** One dead letter: error, payload, every attempt; replay or discard it and watch the outcome. */
import {
  Alert,
  Box,
  Breadcrumbs,
  Button,
  Grid,
  Link,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { Link as RouterLink, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { useDeadLetter, useQueueTrace } from "../../api/queries";
import { RequireRole } from "../../auth/AuthProvider";
import { CodeBlock } from "../../components/CodeBlock";
import { ConfirmDialog, NoteField } from "../../components/ConfirmDialog";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

interface Attempt {
  attempt?: number;
  at?: string;
  worker?: string;
  class?: string;
  error_class?: string;
  error?: string;
}

function AttemptTable({ history }: { history: unknown[] }) {
  if (history.length === 0) return <Typography color="text.secondary">No attempt was recorded.</Typography>;
  return (
    <Table size="small" aria-label="Attempts">
      <TableHead>
        <TableRow>
          <TableCell>#</TableCell>
          <TableCell>When</TableCell>
          <TableCell>Worker</TableCell>
          <TableCell>Class</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {history.map((item, index) => {
          const attempt = (item && typeof item === "object" ? item : { error: String(item) }) as Attempt;
          return (
            <Fragment key={index}>
              <TableRow sx={{ "& td": { borderBottom: "none" } }}>
                <TableCell>{attempt.attempt ?? index + 1}</TableCell>
                <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(attempt.at)}</TableCell>
                <TableCell sx={{ fontFamily: "monospace", fontSize: 12 }}>{attempt.worker ?? "—"}</TableCell>
                <TableCell>{attempt.class ?? attempt.error_class ?? "—"}</TableCell>
              </TableRow>
              <TableRow>
                <TableCell />
                <TableCell colSpan={3} sx={{ pt: 0, color: "error.main", wordBreak: "break-word" }}>
                  {attempt.error ?? "no error recorded"}
                </TableCell>
              </TableRow>
            </Fragment>
          );
        })}
      </TableBody>
    </Table>
  );
}

/** After a replay: the queue row's state now, so you see the event complete (or fail again). */
function ReplayOutcome({ queueId }: { queueId: number }) {
  const trace = useQueueTrace(queueId, true);
  const row = trace.data?.queue.find((item) => item.id === queueId);
  return (
    <Alert severity={!row ? "info" : row.status === "completed" ? "success" : row.status === "dead" ? "error" : "info"} role="status" aria-live="polite">
      Event now: {row ? <StatusChip status={row.status} /> : "checking…"}{" "}
      {row?.status === "completed" ? "applied to the ERP." : row?.status === "dead" ? "dead-lettered again." : ""}
    </Alert>
  );
}

export function DeadLetterDetailPage() {
  const letterId = Number(useParams().letterId);
  const letter = useDeadLetter(letterId);
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<"replay" | "discard" | null>(null);
  const [note, setNote] = useState("");
  const [replayed, setReplayed] = useState(false);

  const act = useMutation({
    mutationFn: (kind: "replay" | "discard") =>
      kind === "replay"
        ? unwrap(api.POST("/api/v1/dlq/{letter_id}/replay", { params: { path: { letter_id: letterId } }, body: { note: note || null } }))
        : unwrap(api.POST("/api/v1/dlq/{letter_id}/discard", { params: { path: { letter_id: letterId } }, body: { note } })),
    onSuccess: (data, kind) => {
      queryClient.setQueryData(["dlq", "one", letterId], data);
      void queryClient.invalidateQueries({ queryKey: ["dlq", "list"] });
      if (kind === "replay") setReplayed(true);
      setDialog(null);
      setNote("");
    },
  });

  return (
    <>
      <Breadcrumbs sx={{ mb: 1 }} aria-label="Breadcrumb">
        <Link component={RouterLink} to="/dead-letters">
          Dead letters
        </Link>
        <Typography color="text.primary">#{letterId}</Typography>
      </Breadcrumbs>
      <QueryView query={letter} loadingLabel="Loading the dead letter…">
        {(data) => (
          <>
            <PageHeader
              title={`Dead letter #${data.id}`}
              subtitle={
                <>
                  {data.entity} <code>{data.zoho_id}</code> · {data.operation} · {data.attempts} attempts · dead since{" "}
                  {formatTime(data.created_at)}
                </>
              }
              actions={
                data.status === "open" ? (
                  <RequireRole least="operator">
                    <Button variant="contained" onClick={() => setDialog("replay")}>
                      Replay
                    </Button>
                    <Button variant="outlined" color="error" onClick={() => setDialog("discard")}>
                      Discard
                    </Button>
                  </RequireRole>
                ) : null
              }
            />
            <Box sx={{ display: "grid", gap: 2 }}>
              <Box sx={{ display: "flex", gap: 1, alignItems: "center", flexWrap: "wrap" }}>
                <StatusChip status={data.status} size="medium" />
                {data.resolved_at ? (
                  <Typography variant="body2" color="text.secondary">
                    {data.status} by {data.resolved_by ?? "?"} at {formatTime(data.resolved_at)}
                    {data.resolution_note ? `: ${data.resolution_note}` : ""}
                  </Typography>
                ) : null}
              </Box>
              {replayed || data.status === "replayed" ? <ReplayOutcome queueId={data.queue_id} /> : null}
              <Alert severity="error" icon={false}>
                <Typography variant="subtitle2" component="h2">
                  Last error ({data.error_class})
                </Typography>
                <Typography variant="body2" sx={{ wordBreak: "break-word" }}>
                  {data.error}
                </Typography>
              </Alert>
              <Grid container spacing={2}>
                <Grid size={{ xs: 12, lg: 6 }}>
                  <SectionCard title="Payload">
                    <CodeBlock value={data.payload} label="Payload" />
                    <Typography variant="caption" color="text.secondary">
                      Version {formatTime(data.source_version)}
                    </Typography>
                  </SectionCard>
                </Grid>
                <Grid size={{ xs: 12, lg: 6 }}>
                  <SectionCard title="Attempts">
                    <Box sx={{ overflowX: "auto" }}>
                      <AttemptTable history={data.attempt_history} />
                    </Box>
                  </SectionCard>
                </Grid>
              </Grid>
              <Box sx={{ display: "flex", gap: 2, flexWrap: "wrap" }}>
                <Link component={RouterLink} to={`/queue?trace=${data.queue_id}`}>
                  Trace the event (queue row {data.queue_id})
                </Link>
                <Link component={RouterLink} to={`/entities/${data.entity}/${encodeURIComponent(data.zoho_id)}`}>
                  History of {data.entity} {data.zoho_id}
                </Link>
              </Box>
            </Box>
          </>
        )}
      </QueryView>
      <ConfirmDialog
        open={dialog !== null}
        title={dialog === "replay" ? `Replay dead letter #${letterId}?` : `Discard dead letter #${letterId}?`}
        confirmLabel={dialog === "replay" ? "Replay" : "Discard"}
        color={dialog === "discard" ? "error" : "primary"}
        busy={act.isPending}
        confirmDisabled={dialog === "discard" && note.trim() === ""}
        error={act.isError ? act.error : null}
        onClose={() => {
          setDialog(null);
          act.reset();
        }}
        onConfirm={() => dialog && act.mutate(dialog)}
      >
        <Typography sx={{ mb: 2 }}>
          {dialog === "replay"
            ? "The event is queued again with its attempts reset; a worker applies it within moments."
            : "The event stays dead and is never applied. Say why."}
        </Typography>
        <NoteField value={note} onChange={setNote} required={dialog === "discard"} />
      </ConfirmDialog>
    </>
  );
}
