/** Loading, error and empty states: every view says what is happening instead of going blank. */
import { Alert, AlertTitle, Box, Button, CircularProgress, Paper, Typography } from "@mui/material";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { ApiError } from "../api/client";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <Box role="status" aria-live="polite" sx={{ display: "flex", alignItems: "center", gap: 2, p: 3 }}>
      <CircularProgress size={24} aria-hidden />
      <Typography color="text.secondary">{label}</Typography>
    </Box>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const apiError = error instanceof ApiError ? error : null;
  const message = apiError?.message ?? (error instanceof Error ? error.message : "Something went wrong");
  return (
    <Alert
      severity="error"
      action={
        onRetry ? (
          <Button color="inherit" size="small" onClick={onRetry}>
            Retry
          </Button>
        ) : undefined
      }
    >
      <AlertTitle>{apiError?.status ? `Error ${apiError.status}` : "Error"}</AlertTitle>
      {message}
      {apiError && apiError.reasons.length > 0 && apiError.reasons[0] !== message ? (
        <Box component="ul" sx={{ m: 0, pl: 2 }}>
          {apiError.reasons.map((reason) => (
            <li key={reason}>{reason}</li>
          ))}
        </Box>
      ) : null}
    </Alert>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Paper variant="outlined" sx={{ p: 3, textAlign: "center", borderStyle: "dashed" }}>
      <Typography variant="subtitle1" component="p" gutterBottom>
        {title}
      </Typography>
      {children ? (
        <Typography variant="body2" color="text.secondary" component="div">
          {children}
        </Typography>
      ) : null}
    </Paper>
  );
}

/** Renders a query's loading and error states, then `children(data)`. */
export function QueryView<T>({
  query,
  children,
  loadingLabel,
}: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
  loadingLabel?: string;
}) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  return <>{children(query.data)}</>;
}
