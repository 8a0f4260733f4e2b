import { Button, Dialog, DialogActions, DialogContent, DialogTitle, type DialogProps } from "@mui/material";
import type { ReactNode } from "react";

/** A read-only dialog (details of one row) with a title and a Close button. */
export function DetailDialog({
  open,
  title,
  titleId,
  onClose,
  children,
  maxWidth = "md",
  fullScreen = false,
  dividers = false,
}: {
  open: boolean;
  title: ReactNode;
  titleId: string;
  onClose: () => void;
  children: ReactNode;
  maxWidth?: DialogProps["maxWidth"];
  fullScreen?: boolean;
  dividers?: boolean;
}) {
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth={maxWidth} fullScreen={fullScreen} aria-labelledby={titleId}>
      <DialogTitle id={titleId}>{title}</DialogTitle>
      <DialogContent dividers={dividers}>{children}</DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}
