/** Entities: look up one Zoho record; its ERP row now and every audited change with a diff. */
import {
  Box,
  Button,
  Chip,
  Link,
  Paper,
  TextField,
  Typography,
} from "@mui/material";
import { useEffect, useState, type FormEvent } from "react";
import { Link as RouterLink, useNavigate, useParams } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { useEntityHistory } from "../../api/queries";
import { CodeBlock } from "../../components/CodeBlock";
import { DiffTable } from "../../components/DiffTable";
import { EntitySelect } from "../../components/EntitySelect";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { EmptyState, QueryView } from "../../components/States";

function CurrentRow({ current }: { current: Schemas["ErpState"] }) {
  if (!current.exists) {
    return <Typography color="text.secondary">No row in {current.erp_table}: never applied (or not yet).</Typography>;
  }
  return (
    <Box sx={{ display: "grid", gap: 1 }}>
      <Box sx={{ display: "flex", gap: 1, alignItems: "center" }}>
        <Typography variant="body2">
          Table <code>{current.erp_table}</code>
        </Typography>
        {current.deleted ? <Chip label="deleted (tombstone)" color="error" size="small" /> : <Chip label="live" color="success" size="small" />}
      </Box>
      <CodeBlock value={current.rows.length === 1 ? current.rows[0] : current.rows} label="ERP row now" maxHeight={280} />
      {current.lines.length > 0 ? (
        <>
          <Typography variant="subtitle2" component="h3">
            {current.lines.length} line item(s)
          </Typography>
          <CodeBlock value={current.lines} label="Line items now" maxHeight={200} />
        </>
      ) : null}
    </Box>
  );
}

function Change({ entry }: { entry: Schemas["AuditEntry"] }) {
  return (
    <Paper variant="outlined" sx={{ p: 2 }} component="article" aria-label={`Change ${entry.id}`}>
      <Box sx={{ display: "flex", gap: 1, flexWrap: "wrap", alignItems: "baseline", mb: 1 }}>
        <Chip label={entry.action} size="small" color={entry.action === "delete" ? "error" : entry.action === "insert" ? "success" : "primary"} />
        <Typography variant="subtitle2" component="h3">
          {formatTime(entry.created_at)}
        </Typography>
        <Typography variant="body2" color="text.secondary">
          version {formatTime(entry.source_version)} · {entry.erp_table} {entry.row_key} · by {entry.actor}
          {entry.worker_id ? ` (${entry.worker_id})` : ""}
        </Typography>
        <Link component={RouterLink} to={`/queue?trace=${entry.queue_id}`} variant="body2">
          trace event
        </Link>
      </Box>
      <Box sx={{ overflowX: "auto" }}>
        <DiffTable changes={entry.changes} caption={`Fields changed in change ${entry.id}`} />
      </Box>
    </Paper>
  );
}

export function EntitiesPage() {
  const params = useParams();
  const navigate = useNavigate();
  const [entity, setEntity] = useState(params.entity ?? "items");
  const [zohoId, setZohoId] = useState(params.zohoId ?? "");
  useEffect(() => {
    if (params.entity) setEntity(params.entity);
    if (params.zohoId) setZohoId(params.zohoId);
  }, [params.entity, params.zohoId]);
  const history = useEntityHistory(params.entity ?? "", params.zohoId ?? "");

  function lookUp(event: FormEvent) {
    event.preventDefault();
    if (zohoId.trim()) navigate(`/entities/${entity}/${encodeURIComponent(zohoId.trim())}`);
  }

  return (
    <>
      <PageHeader title="Entities" subtitle="Look up a Zoho record: its ERP row now and every change TDS made to it." />
      <Paper variant="outlined" sx={{ p: 2, mb: 2 }}>
        <Box component="form" onSubmit={lookUp} sx={{ display: "flex", gap: 2, flexWrap: "wrap" }} aria-label="Look up an entity">
          <EntitySelect value={entity} onChange={setEntity} allowAll={false} />
          <TextField
            size="small"
            label="Zoho id"
            value={zohoId}
            onChange={(event) => setZohoId(event.target.value)}
            required
            sx={{ minWidth: 240 }}
          />
          <Button type="submit" variant="contained" disabled={!zohoId.trim()}>
            Look up
          </Button>
        </Box>
      </Paper>
      {!params.zohoId ? (
        <EmptyState title="Pick an entity and a Zoho id">
          For example an item id from the Queue page. Every applied change shows here with its before and after.
        </EmptyState>
      ) : (
        <QueryView query={history} loadingLabel="Loading the history…">
          {(data) => (
            <Box sx={{ display: "grid", gap: 2 }}>
              <SectionCard title={`${data.entity} ${data.zoho_id} now`}>
                <CurrentRow current={data.current} />
              </SectionCard>
              <Typography variant="h6" component="h2">
                History ({data.history.length}
                {data.next_before_id ? "+" : ""} change{data.history.length === 1 ? "" : "s"}, newest first)
              </Typography>
              {data.history.length === 0 ? (
                <EmptyState title="No change recorded">TDS has not applied any change to this record.</EmptyState>
              ) : (
                data.history.map((entry) => <Change key={entry.id} entry={entry} />)
              )}
            </Box>
          )}
        </QueryView>
      )}
    </>
  );
}
