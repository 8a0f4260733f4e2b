import { Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";

import type { Schemas } from "../api/client";

function show(value: unknown): string {
  if (value === undefined) return "(absent)";
  if (value === null) return "null";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Field-by-field before → after of one audited change. */
export function DiffTable({ changes, caption }: { changes: Schemas["FieldChange"][]; caption: string }) {
  if (changes.length === 0) {
    return (
      <Typography variant="body2" color="text.secondary">
        No field changed.
      </Typography>
    );
  }
  return (
    <Table size="small" aria-label={caption}>
      <TableHead>
        <TableRow>
          <TableCell>Field</TableCell>
          <TableCell>Before</TableCell>
          <TableCell>After</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {changes.map((change) => (
          <TableRow key={change.field}>
            <TableCell sx={{ fontFamily: "monospace" }}>{change.field}</TableCell>
            <TableCell sx={{ color: "error.main", wordBreak: "break-word" }}>
              <del>{show(change.before)}</del>
            </TableCell>
            <TableCell sx={{ color: "success.main", wordBreak: "break-word" }}>
              <ins style={{ textDecoration: "none" }}>{show(change.after)}</ins>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
