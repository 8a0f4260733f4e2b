import { Chip, type ChipProps } from "@mui/material";

const COLORS: Record<string, ChipProps["color"]> = {
  completed: "success",
  succeeded: "success",
  applied: "success",
  closed: "success",
  resolved: "success",
  sent: "success",
  replayed: "success",
  open: "error",
  dead: "error",
  failed: "error",
  critical: "error",
  rejected: "error",
  pending: "warning",
  processing: "info",
  running: "info",
  queued: "info",
  half_open: "warning",
  warning: "warning",
  acknowledged: "info",
  silenced: "default",
  discarded: "default",
  skipped_stale: "default",
  skipped_unchanged: "default",
  held: "warning",
  paused: "warning",
  cancelled: "default",
  info: "info",
  active: "success",
  revoked: "default",
  disabled: "default",
};

/** A state (queue, job, alert, run, letter) as a coloured chip with the state's own name. */
export function StatusChip({ status, size = "small" }: { status: string; size?: ChipProps["size"] }) {
  return <Chip label={status.replace(/_/g, " ")} color={COLORS[status] ?? "default"} size={size} variant="outlined" />;
}
