/** The trace of one event: inbox → queue and attempts → logs → audit (diffs) → ERP row or DLQ. */
import { Box, Link, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import type { ReactNode } from "react";
import { Link as RouterLink } from "react-router-dom";

import type { Schemas } from "../api/client";
import { CodeBlock } from "./CodeBlock";
import { DiffTable } from "./DiffTable";
import { formatMs, formatTime } from "./format";
import { StatusChip } from "./StatusChip";

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Box component="section" aria-label={title}>
      <Typography variant="subtitle1" component="h3" sx={{ fontWeight: 600, mb: 1 }}>
        {title}
      </Typography>
      {children}
    </Box>
  );
}

export function EventTraceView({ trace }: { trace: Schemas["EventTrace"] }) {
  const inbox = trace.inbox;
  return (
    <Box sx={{ display: "grid", gap: 3 }}>
      <Box sx={{ display: "flex", gap: 1, alignItems: "center" }}>
        <Typography>Outcome:</Typography>
        <StatusChip status={trace.outcome} size="medium" />
      </Box>
      <Section title="Inbox">
        {inbox ? (
          <>
            <Typography variant="body2" sx={{ mb: 1 }}>
              Event {inbox.id} · {inbox.source} · {inbox.entity} {inbox.zoho_id ?? ""} · {inbox.operation ?? "upsert"} · received{" "}
              {formatTime(inbox.received_at)} · <StatusChip status={inbox.status} />
              {inbox.correlation_id ? ` · correlation ${inbox.correlation_id}` : ""}
            </Typography>
            <CodeBlock value={inbox.body} label="Raw body" maxHeight={220} />
          </>
        ) : (
          <Typography color="text.secondary">Not from the inbox (or past its 7-day retention).</Typography>
        )}
      </Section>
      <Section title="Queue">
        {trace.queue.length === 0 ? (
          <Typography color="text.secondary">Never queued.</Typography>
        ) : (
          trace.queue.map((row) => (
            <Box key={row.id} sx={{ mb: 1 }}>
              <Typography variant="body2">
                Row {row.id}: <StatusChip status={row.status} /> after {row.attempts} attempt(s) · version {formatTime(row.source_version)}
                {row.finished_at ? ` · finished ${formatTime(row.finished_at)}` : ""}
                {row.last_error ? ` · last error: ${row.last_error}` : ""}
              </Typography>
            </Box>
          ))
        )}
      </Section>
      <Section title="Log">
        {trace.logs.length === 0 ? (
          <Typography color="text.secondary">No log line yet.</Typography>
        ) : (
          <Box sx={{ overflowX: "auto" }}>
            <Table size="small" aria-label="Log">
              <TableHead>
                <TableRow>
                  <TableCell>When</TableCell>
                  <TableCell>Outcome</TableCell>
                  <TableCell>Attempt</TableCell>
                  <TableCell>Latency</TableCell>
                  <TableCell>Message</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {trace.logs.map((line) => (
                  <TableRow key={line.id}>
                    <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(line.created_at)}</TableCell>
                    <TableCell>
                      <StatusChip status={line.outcome} />
                    </TableCell>
                    <TableCell>{line.attempt ?? "—"}</TableCell>
                    <TableCell>{formatMs(line.latency_ms)}</TableCell>
                    <TableCell sx={{ wordBreak: "break-word" }}>{line.message ?? ""}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
        )}
      </Section>
      <Section title="Changes made">
        {trace.audit.length === 0 ? (
          <Typography color="text.secondary">No ERP row was changed by this event.</Typography>
        ) : (
          trace.audit.map((entry) => (
            <Box key={entry.id} sx={{ mb: 2, overflowX: "auto" }}>
              <Typography variant="body2" sx={{ mb: 1 }}>
                {entry.action} {entry.erp_table} {entry.row_key} at {formatTime(entry.created_at)} ·{" "}
                <Link component={RouterLink} to={`/entities/${entry.entity}/${encodeURIComponent(entry.zoho_id)}`}>
                  history
                </Link>
              </Typography>
              <DiffTable changes={entry.changes} caption={`Changes of ${entry.erp_table} ${entry.row_key}`} />
            </Box>
          ))
        )}
      </Section>
      {trace.dead_letters.length > 0 ? (
        <Section title="Dead letters">
          {trace.dead_letters.map((letter) => (
            <Typography key={letter.id} variant="body2">
              <Link component={RouterLink} to={`/dead-letters/${letter.id}`}>
                #{letter.id}
              </Link>{" "}
              <StatusChip status={letter.status} /> {letter.error}
            </Typography>
          ))}
        </Section>
      ) : null}
      {trace.erp ? (
        <Section title={`ERP row now (${trace.erp.erp_table})`}>
          {trace.erp.exists ? (
            <CodeBlock value={trace.erp.rows.length === 1 ? trace.erp.rows[0] : trace.erp.rows} label="ERP row now" maxHeight={220} />
          ) : (
            <Typography color="text.secondary">No row.</Typography>
          )}
        </Section>
      ) : null}
    </Box>
  );
}
