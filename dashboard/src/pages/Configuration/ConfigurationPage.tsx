/**
 * Configuration: every runtime key (live in workers without a restart). Admins edit a value in
 * place; the API validates it against the whole configuration and its reasons show by the field.
 */
import {
  Alert,
  Box,
  Button,
  Collapse,
  InputAdornment,
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
import { useMemo, useState, type FormEvent } from "react";

import { ApiError, api, unwrap, type Schemas } from "../../api/client";
import { useConfig, useConfigHistory } from "../../api/queries";
import { useAuth } from "../../auth/AuthProvider";
import { formatJson, formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { EmptyState, QueryView } from "../../components/States";

/** Strings edit as plain text; everything else (numbers, booleans, lists, objects) as JSON. */
function toText(value: unknown): string {
  return typeof value === "string" ? value : formatJson(value);
}

function parse(text: string, current: unknown): { value: unknown } | { error: string } {
  if (typeof current === "string") return { value: text };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: typeof current === "number" ? "Enter a number" : "Not valid JSON" };
  }
}

function KeyHistory({ configKey }: { configKey: string }) {
  const history = useConfigHistory(configKey);
  return (
    <QueryView query={history}>
      {(data) => (
        <Table size="small" aria-label={`History of ${configKey}`}>
          <TableBody>
            {data.map((version) => (
              <TableRow key={version.version}>
                <TableCell>v{version.version}</TableCell>
                <TableCell sx={{ fontFamily: "monospace", wordBreak: "break-word" }}>{toText(version.value)}</TableCell>
                <TableCell>
                  {version.updated_by}, {formatTime(version.updated_at)}
                </TableCell>
                <TableCell>{version.note ?? ""}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </QueryView>
  );
}

function ConfigRow({ entry, editable }: { entry: Schemas["ConfigEntry"]; editable: boolean }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(toText(entry.value));
  const [note, setNote] = useState("");
  const [localError, setLocalError] = useState<string | null>(null);
  const [showHistory, setShowHistory] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const multiline = typeof entry.value === "object" && entry.value !== null;
  const save = useMutation({
    mutationFn: (value: unknown) =>
      unwrap(api.PUT("/api/v1/config/{key}", { params: { path: { key: entry.key } }, body: { value, note: note || null } })),
    onSuccess: (changed) => {
      setEditing(false);
      setNote("");
      setSaved(changed.changed ? `Saved as version ${changed.version}.` : "Unchanged: that is already the value.");
      void queryClient.invalidateQueries({ queryKey: ["config"] });
    },
  });
  const fieldId = `config-${entry.key.replace(/\W/g, "-")}`;
  const serverReasons = save.error instanceof ApiError ? (save.error.reasons.length ? save.error.reasons : [save.error.message]) : [];
  const errorText = localError ?? (serverReasons.length ? serverReasons.join("; ") : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = parse(text, entry.value);
    if ("error" in parsed) {
      setLocalError(parsed.error);
      return;
    }
    setLocalError(null);
    save.mutate(parsed.value);
  }

  return (
    <>
      <TableRow hover>
        <TableCell sx={{ verticalAlign: "top" }}>
          <Typography component="label" htmlFor={fieldId} sx={{ fontFamily: "monospace", fontWeight: 600, fontSize: 14 }}>
            {entry.key}
          </Typography>
          <Typography variant="caption" color="text.secondary" component="div">
            {entry.description}
          </Typography>
        </TableCell>
        <TableCell sx={{ verticalAlign: "top", minWidth: 260 }}>
          {editing ? (
            <Box component="form" onSubmit={submit} aria-label={`Edit ${entry.key}`} sx={{ display: "grid", gap: 1 }}>
              <TextField
                id={fieldId}
                value={text}
                onChange={(event) => {
                  setText(event.target.value);
                  setLocalError(null);
                }}
                error={errorText !== null}
                helperText={errorText ?? (typeof entry.value === "string" ? "Text" : "JSON")}
                multiline={multiline}
                minRows={multiline ? 3 : undefined}
                size="small"
                fullWidth
                autoFocus
                slotProps={{ htmlInput: { "aria-label": `${entry.key} value`, style: { fontFamily: "monospace" } } }}
              />
              <TextField
                label="Why (optional)"
                value={note}
                onChange={(event) => setNote(event.target.value)}
                size="small"
                fullWidth
                slotProps={{ input: { startAdornment: <InputAdornment position="start">note</InputAdornment> } }}
              />
              <Box sx={{ display: "flex", gap: 1 }}>
                <Button type="submit" variant="contained" size="small" disabled={save.isPending}>
                  {save.isPending ? "Saving…" : "Save"}
                </Button>
                <Button
                  size="small"
                  onClick={() => {
                    setEditing(false);
                    setText(toText(entry.value));
                    setLocalError(null);
                    save.reset();
                  }}
                >
                  Cancel
                </Button>
              </Box>
            </Box>
          ) : (
            <Box
              component="pre"
              id={fieldId}
              sx={{ m: 0, fontFamily: "monospace", fontSize: 13, whiteSpace: "pre-wrap", wordBreak: "break-word", maxHeight: 160, overflow: "auto" }}
            >
              {toText(entry.value)}
            </Box>
          )}
          {saved && !editing ? (
            <Typography variant="caption" color="success.main" role="status">
              {saved}
            </Typography>
          ) : null}
        </TableCell>
        <TableCell sx={{ verticalAlign: "top", whiteSpace: "nowrap" }}>
          v{entry.version}
          <Typography variant="caption" color="text.secondary" component="div">
            {entry.updated_by}, {formatTime(entry.updated_at)}
          </Typography>
        </TableCell>
        <TableCell sx={{ verticalAlign: "top", whiteSpace: "nowrap" }} align="right">
          {editable && !editing ? (
            <Button
              size="small"
              onClick={() => {
                setText(toText(entry.value));
                setSaved(null);
                setEditing(true);
              }}
              aria-label={`Edit ${entry.key}`}
            >
              Edit
            </Button>
          ) : null}
          <Button size="small" onClick={() => setShowHistory((shown) => !shown)} aria-expanded={showHistory} aria-label={`History of ${entry.key}`}>
            History
          </Button>
        </TableCell>
      </TableRow>
      <TableRow>
        <TableCell colSpan={4} sx={{ p: 0, borderBottom: showHistory ? undefined : "none" }}>
          <Collapse in={showHistory} unmountOnExit>
            <Box sx={{ p: 2, bgcolor: "grey.50" }}>
              <KeyHistory configKey={entry.key} />
            </Box>
          </Collapse>
        </TableCell>
      </TableRow>
    </>
  );
}

export function ConfigurationPage() {
  const config = useConfig();
  const { can } = useAuth();
  const [search, setSearch] = useState("");
  const editable = can("admin");
  const term = search.trim().toLowerCase();
  const rows = useMemo(
    () => (config.data ?? []).filter((entry) => !term || entry.key.includes(term) || entry.description.toLowerCase().includes(term)),
    [config.data, term],
  );
  return (
    <>
      <PageHeader
        title="Configuration"
        subtitle="Runtime settings, versioned; a change reaches running workers within moments, without a restart."
        actions={<TextField size="small" label="Find a key" value={search} onChange={(event) => setSearch(event.target.value)} />}
      />
      {!editable ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          Read only: changing configuration needs the admin role.
        </Alert>
      ) : null}
      <QueryView query={config} loadingLabel="Loading the configuration…">
        {() =>
          rows.length === 0 ? (
            <EmptyState title="No key matches">Clear the search to see every key.</EmptyState>
          ) : (
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Configuration">
                <TableHead>
                  <TableRow>
                    <TableCell>Key</TableCell>
                    <TableCell>Value</TableCell>
                    <TableCell>Version</TableCell>
                    <TableCell align="right">Actions</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {rows.map((entry) => (
                    <ConfigRow key={entry.key} entry={entry} editable={editable} />
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )
        }
      </QueryView>
    </>
  );
}
