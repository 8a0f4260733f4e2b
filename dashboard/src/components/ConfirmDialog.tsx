import { Box, Button, Dialog, DialogActions, DialogContent, DialogContentText, DialogTitle, TextField } from "@mui/material";
import type { ReactNode } from "react";

import { ErrorState } from "./States";

/**
 * A yes/no question before an action that changes something. `busy` (the action running) locks
 * the dialog; `confirmDisabled` only holds the confirm button (e.g. a required note is empty);
 * `error` (the action's failure) shows under the question.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  busy = false,
  confirmDisabled = false,
  error = null,
  onConfirm,
  onClose,
  color = "primary",
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  confirmDisabled?: boolean;
  error?: unknown;
  onConfirm: () => void;
  onClose: () => void;
  color?: "primary" | "error" | "warning";
}) {
  return (
    <Dialog open={open} onClose={busy ? undefined : onClose} aria-labelledby="confirm-title" fullWidth maxWidth="sm">
      <DialogTitle id="confirm-title">{title}</DialogTitle>
      <DialogContent>
        <DialogContentText component="div">{children}</DialogContentText>
        {error ? (
          <Box sx={{ mt: 2 }}>
            <ErrorState error={error} />
          </Box>
        ) : null}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose} disabled={busy}>
          Cancel
        </Button>
        <Button onClick={onConfirm} disabled={busy || confirmDisabled} variant="contained" color={color} autoFocus>
          {confirmLabel}
        </Button>
      </DialogActions>
    </Dialog>
  );
}

/** The note kept with an operator action: optional, or required (a discard, a silence). */
export function NoteField({
  value,
  onChange,
  required = false,
  label = required ? "Note (required)" : "Note (optional)",
}: {
  value: string;
  onChange: (value: string) => void;
  required?: boolean;
  label?: string;
}) {
  return (
    <TextField label={label} value={value} onChange={(event) => onChange(event.target.value)} fullWidth size="small" required={required} />
  );
}
