import { Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";

import { useSyncPlan } from "../../api/queries";
import { formatNumber } from "../../components/format";
import { SectionCard } from "../../components/SectionCard";
import { QueryView } from "../../components/States";

const shown = (value: number | null | undefined) => (value === null || value === undefined ? "?" : formatNumber(value));

/** What a full sync would cost in Zoho API calls and how many days of quota it spans. */
export function SyncPlan() {
  const plan = useSyncPlan();
  return (
    <SectionCard title="Full sync plan">
      <QueryView query={plan}>
        {(data) => (
          <>
            <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
              {formatNumber(data.calls)} calls: {formatNumber(data.list_calls)} list pages and {formatNumber(data.detail_calls)} GETs by id
              {data.complete ? "" : " (some counts unknown: tds sync all --plan --count)"}
            </Typography>
            <Table size="small" aria-label="Sync plan by quota">
              <TableHead>
                <TableRow>
                  <TableCell>Quota</TableCell>
                  <TableCell align="right">Calls a day</TableCell>
                  <TableCell align="right">Reserve</TableCell>
                  <TableCell align="right">Days</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {data.durations.map((d) => (
                  <TableRow key={d.plan}>
                    <TableCell>{d.plan}</TableCell>
                    <TableCell align="right">{formatNumber(d.daily_quota)}</TableCell>
                    <TableCell align="right">{formatNumber(d.reserve)}</TableCell>
                    <TableCell align="right">{d.calendar_days === null || d.calendar_days === undefined ? "never" : d.calendar_days}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            <Table size="small" aria-label="Sync plan by entity" sx={{ mt: 1 }}>
              <TableBody>
                {data.entities.map((e) => (
                  <TableRow key={e.entity}>
                    <TableCell>{e.entity}</TableCell>
                    <TableCell align="right">{shown(e.records)} records</TableCell>
                    <TableCell align="right">{shown(e.calls)} calls</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </>
        )}
      </QueryView>
    </SectionCard>
  );
}
