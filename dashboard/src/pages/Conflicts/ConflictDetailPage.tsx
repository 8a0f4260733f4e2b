/** One conflict: the ERP row against the Zoho change, column by column; resolve a held one. */
import { Alert, Box, Breadcrumbs, Button, Grid, Link, Typography } from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink, useParams } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useConflict } from "../../api/queries";
import { RequireRole } from "../../auth/AuthProvider";
import { CodeBlock } from "../../components/CodeBlock";
import { ConfirmDialog, NoteField } from "../../components/ConfirmDialog";
import { DiffTable } from "../../components/DiffTable";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

type Resolution = Schemas["ResolveBody"]["resolution"];

const EXPLAIN: Record<Resolution, string> = {
  apply_source:
    "The held Zoho change(s) are queued again and applied over the local edit (an older one never overwrites a newer version).",
  keep_local: "The held Zoho change(s) are discarded; the ERP row as it is now is kept and accepted as TDS's.",
};

/** Local (before) against source (after), for the columns where they differ. */
function differences(diff: Schemas["DiffRow"][]): Schemas["FieldChange"][] {
  return diff
    .filter((row) => row.differs)
    .map((row) => ({ field: row.changed_locally ? `${row.column} (changed locally)` : row.column, before: row.local, after: row.source }));
}

export function ConflictDetailPage() {
  const conflictId = Number(useParams().conflictId);
  const conflict = useConflict(conflictId);
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<Resolution | null>(null);
  // the choice stays while the dialog fades out, so its words do not flip on closing
  const [choice, setChoice] = useState<Resolution>("apply_source");
  const ask = (resolution: Resolution) => {
    setChoice(resolution);
    setDialog(resolution);
  };
  const [note, setNote] = useState("");

  const resolve = useMutation({
    mutationFn: (resolution: Resolution) =>
      unwrap(
        api.POST("/api/v1/conflicts/{conflict_id}/resolve", {
          params: { path: { conflict_id: conflictId } },
          body: { resolution, note: note || null },
        }),
      ),
    onSuccess: (data) => {
      queryClient.setQueryData(["conflicts", "one", conflictId], data);
      void queryClient.invalidateQueries({ queryKey: ["conflicts", "list"] });
      setDialog(null);
      setNote("");
    },
  });

  return (
    <>
      <Breadcrumbs sx={{ mb: 1 }} aria-label="Breadcrumb">
        <Link component={RouterLink} to="/conflicts">
          Conflicts
        </Link>
        <Typography color="text.primary">#{conflictId}</Typography>
      </Breadcrumbs>
      <QueryView query={conflict} loadingLabel="Loading the conflict…">
        {(data) => (
          <>
            <PageHeader
              title={`Conflict #${data.id}`}
              subtitle={
                <>
                  {data.entity} <code>{data.row_key}</code> ({data.erp_table}) · policy {data.policy} · {data.held_events} held
                  event(s) · detected {formatTime(data.detected_at)}
                </>
              }
              actions={
                data.status === "open" ? (
                  <RequireRole least="operator">
                    <Button variant="contained" onClick={() => ask("apply_source")}>
                      Apply source
                    </Button>
                    <Button variant="outlined" onClick={() => ask("keep_local")}>
                      Keep local
                    </Button>
                  </RequireRole>
                ) : null
              }
            />
            <Box sx={{ display: "grid", gap: 2 }}>
              <Box sx={{ display: "flex", gap: 1, alignItems: "center", flexWrap: "wrap" }}>
                <StatusChip status={data.resolution ?? data.status} size="medium" />
                {data.resolved_at ? (
                  <Typography variant="body2" color="text.secondary">
                    {data.resolution} by {data.resolved_by ?? "?"} at {formatTime(data.resolved_at)}
                    {data.note ? `: ${data.note}` : ""}
                  </Typography>
                ) : null}
              </Box>
              {data.changed_columns.length > 0 ? (
                <Alert severity="warning">Changed in the ERP since TDS wrote the row: {data.changed_columns.join(", ")}.</Alert>
              ) : null}
              <SectionCard title="Local (ERP) → source (Zoho)">
                <DiffTable changes={differences(data.diff)} caption="Local against source" />
              </SectionCard>
              <Grid container spacing={2}>
                <Grid size={{ xs: 12, lg: 6 }}>
                  <SectionCard title="The Zoho change">
                    <CodeBlock value={data.payload} label="Payload" />
                    <Typography variant="caption" color="text.secondary">
                      {data.operation} · version {formatTime(data.source_version)} · queue row {data.queue_id}
                    </Typography>
                  </SectionCard>
                </Grid>
                <Grid size={{ xs: 12, lg: 6 }}>
                  <SectionCard title="The ERP row when detected">
                    <CodeBlock value={data.local_row} label="Local row" />
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
        title={choice === "apply_source" ? `Apply the source for conflict #${conflictId}?` : `Keep the local row for conflict #${conflictId}?`}
        confirmLabel={choice === "apply_source" ? "Apply source" : "Keep local"}
        busy={resolve.isPending}
        error={resolve.isError ? resolve.error : null}
        onClose={() => {
          setDialog(null);
          resolve.reset();
        }}
        onConfirm={() => dialog && resolve.mutate(dialog)}
      >
        <Typography sx={{ mb: 2 }}>{EXPLAIN[choice]}</Typography>
        <NoteField value={note} onChange={setNote} />
      </ConfirmDialog>
    </>
  );
}
