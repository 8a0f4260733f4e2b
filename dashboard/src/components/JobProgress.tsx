/** A background job (bulk replay, sync, reconcile) followed live until it finishes. */
import { Alert, Box, Button, LinearProgress, Typography } from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";

import { RequireRole } from "../auth/AuthProvider";
import { api, unwrap } from "../api/client";
import { useJob } from "../api/queries";
import { formatNumber } from "./format";
import { StatusChip } from "./StatusChip";

const KIND: Record<string, string> = {
  dlq_replay: "Dead-letter replay",
  inbox_replay: "Inbox replay",
  sync: "Sync",
  reconcile: "Reconciliation",
};

export function JobProgress({ jobId, onDismiss }: { jobId: number; onDismiss?: () => void }) {
  const job = useJob(jobId);
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/jobs/{job_id}/cancel", { params: { path: { job_id: jobId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["jobs"] }),
  });
  if (!job.data) {
    return (
      <Alert severity={job.isError ? "error" : "info"}>
        {job.isError ? `Job ${jobId} cannot be read.` : `Job ${jobId} started…`}
      </Alert>
    );
  }
  const data = job.data;
  const finished = ["completed", "cancelled", "failed"].includes(data.status);
  const percent = data.progress === null ? null : Math.round(data.progress * 100);
  const severity = data.status === "failed" ? "error" : data.status === "completed" ? "success" : "info";
  return (
    <Alert
      severity={severity}
      role="status"
      aria-live="polite"
      data-testid={`job-${jobId}`}
      action={
        finished ? (
          onDismiss ? (
            <Button color="inherit" size="small" onClick={onDismiss}>
              Dismiss
            </Button>
          ) : undefined
        ) : (
          <RequireRole least="operator">
            <Button color="inherit" size="small" disabled={data.cancel_requested || cancel.isPending} onClick={() => cancel.mutate()}>
              {data.cancel_requested ? "Cancelling…" : "Cancel"}
            </Button>
          </RequireRole>
        )
      }
      sx={{ "& .MuiAlert-message": { flexGrow: 1 } }}
    >
      <Box sx={{ display: "flex", alignItems: "center", gap: 1, flexWrap: "wrap" }}>
        <Typography component="span" fontWeight={600}>
          {KIND[data.kind] ?? data.kind} job {data.id}
        </Typography>
        <StatusChip status={data.status} />
        <Typography component="span" variant="body2">
          {formatNumber(data.done)} of {formatNumber(data.total)} done
          {data.skipped ? `, ${formatNumber(data.skipped)} skipped` : ""}
          {percent !== null ? ` (${percent}%)` : ""}
        </Typography>
      </Box>
      <LinearProgress
        sx={{ mt: 1 }}
        variant={percent === null && !finished ? "indeterminate" : "determinate"}
        value={finished ? 100 : (percent ?? 0)}
        aria-label={`Job ${data.id} progress`}
      />
      {data.error ? <Typography variant="body2" sx={{ mt: 1 }}>{data.error}</Typography> : null}
    </Alert>
  );
}
