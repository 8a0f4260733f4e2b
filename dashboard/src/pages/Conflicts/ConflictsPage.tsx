/** ERP conflicts: rows changed outside TDS that a Zoho change met; held ones wait for an operator. */
import {
  Link,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Box,
} from "@mui/material";
import { useState } from "react";
import { Link as RouterLink } from "react-router-dom";

import { useConflicts, type ConflictFilter } from "../../api/queries";
import { EntitySelect, OptionSelect } from "../../components/EntitySelect";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager, useCursorPages } from "../../components/Pager";
import { EmptyState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

const PAGE = 50;
type Status = NonNullable<ConflictFilter["status"]>;
const STATUSES: Status[] = ["open", "resolved"];

export function ConflictsPage() {
  const [status, setStatus] = useState<Status | "">("open");
  const [entity, setEntity] = useState("");
  const pages = useCursorPages();
  const filter: ConflictFilter = {
    status: status || undefined,
    entity: entity || undefined,
    before_id: pages.beforeId,
    limit: PAGE,
  };
  const conflicts = useConflicts(filter);
  const rows = conflicts.data ?? [];

  return (
    <>
      <PageHeader
        title="Conflicts"
        subtitle="ERP rows changed outside TDS that a Zoho change met. Held ones wait for you: apply the source, or keep the local row."
      />
      <Paper variant="outlined" sx={{ p: 2, mb: 2 }}>
        <Box sx={{ display: "flex", gap: 2, flexWrap: "wrap", alignItems: "center" }} aria-label="Filter conflicts">
          <OptionSelect
            label="Status"
            value={status}
            options={STATUSES}
            minWidth={140}
            onChange={(value) => {
              setStatus(value);
              pages.reset();
            }}
          />
          <EntitySelect
            value={entity}
            onChange={(value) => {
              setEntity(value);
              pages.reset();
            }}
          />
        </Box>
      </Paper>
      <QueryView query={conflicts} loadingLabel="Loading conflicts…">
        {() =>
          rows.length === 0 ? (
            <EmptyState title={status === "open" && !entity ? "No open conflicts" : "No conflicts match"}>
              {status === "open" ? "Nothing is held: every ERP change met was handled by its policy." : "Change the filter to see more."}
            </EmptyState>
          ) : (
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Conflicts">
                <TableHead>
                  <TableRow>
                    <TableCell>Id</TableCell>
                    <TableCell>Entity</TableCell>
                    <TableCell>Row</TableCell>
                    <TableCell>Policy</TableCell>
                    <TableCell>Changed locally</TableCell>
                    <TableCell align="right">Held events</TableCell>
                    <TableCell>Status</TableCell>
                    <TableCell>Detected</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {rows.map((row) => (
                    <TableRow key={row.id} hover>
                      <TableCell>
                        <Link component={RouterLink} to={`/conflicts/${row.id}`}>
                          #{row.id}
                        </Link>
                      </TableCell>
                      <TableCell>{row.entity}</TableCell>
                      <TableCell sx={{ fontFamily: "monospace" }}>{row.row_key}</TableCell>
                      <TableCell>{row.policy}</TableCell>
                      <TableCell>{row.changed_columns.join(", ")}</TableCell>
                      <TableCell align="right">{row.held_events}</TableCell>
                      <TableCell>
                        <StatusChip status={row.resolution ?? row.status} />
                      </TableCell>
                      <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(row.detected_at)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )
        }
      </QueryView>
      <Pager pages={pages} next={rows.length === PAGE ? rows[rows.length - 1]?.id : null} />
    </>
  );
}
