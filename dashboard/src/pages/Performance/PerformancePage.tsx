/** Performance: per-minute series from the metrics history, over the last hour, day or week. */
import { Box, Card, CardContent, Grid, MenuItem, TextField, ToggleButton, ToggleButtonGroup, Typography } from "@mui/material";
import { useState } from "react";

import type { Schemas } from "../../api/client";
import { useHistory, useSeriesNames, type Entity, type HistoryQuery } from "../../api/queries";
import { EntitySelect } from "../../components/EntitySelect";
import { PageHeader } from "../../components/PageHeader";
import { SeriesChart } from "../../components/SeriesChart";
import { QueryView } from "../../components/States";

type Range = "1h" | "24h" | "7d";
type SeriesName = HistoryQuery["name"];
const RANGES: Record<Range, { seconds: number; step: number; label: string }> = {
  "1h": { seconds: 3_600, step: 60, label: "1 hour" },
  "24h": { seconds: 86_400, step: 300, label: "24 hours" },
  "7d": { seconds: 604_800, step: 1_800, label: "7 days" },
};
const DEFAULT_CHARTS: SeriesName[] = ["events_applied", "latency_p95_ms", "queue_pending", "dlq_open"];
const COLORS = ["#1565c0", "#6a1b9a", "#ef6c00", "#c62828"];

function Chart({ initial, range, entity, names, color }: {
  initial: SeriesName;
  range: Range;
  entity: string;
  names: Schemas["SeriesInfo"][];
  color: string;
}) {
  const [name, setName] = useState(initial);
  const info = names.find((series) => series.name === name);
  // Anchored to the minute so the query key only changes once a minute.
  const until = Math.floor(Date.now() / 60_000) * 60_000;
  const history = useHistory({
    name,
    from: new Date(until - RANGES[range].seconds * 1000).toISOString(),
    to: new Date(until).toISOString(),
    step: RANGES[range].step,
    entity: info?.per_entity && entity ? (entity as Entity) : undefined,
  });
  return (
    <Card variant="outlined" sx={{ height: "100%" }}>
      <CardContent>
        <TextField select size="small" label="Series" value={name} onChange={(event) => setName(event.target.value as SeriesName)} fullWidth sx={{ mb: 1 }}>
          {names.map((series) => (
            <MenuItem key={series.name} value={series.name}>
              {series.name} ({series.unit})
            </MenuItem>
          ))}
        </TextField>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1, minHeight: 40 }}>
          {info?.description}
          {info && !info.per_entity && entity ? " (all entities)" : ""}
        </Typography>
        <QueryView query={history}>{(data) => <SeriesChart history={data} color={color} />}</QueryView>
      </CardContent>
    </Card>
  );
}

export function PerformancePage() {
  const [range, setRange] = useState<Range>("1h");
  const [entity, setEntity] = useState("");
  const names = useSeriesNames();
  return (
    <>
      <PageHeader
        title="Performance"
        subtitle="From the per-minute metrics history (kept 30 days)."
        actions={
          <Box sx={{ display: "flex", gap: 2, flexWrap: "wrap" }}>
            <EntitySelect value={entity} onChange={setEntity} label="Entity" />
            <ToggleButtonGroup size="small" exclusive value={range} onChange={(_, value: Range | null) => value && setRange(value)} aria-label="Range">
              {(Object.keys(RANGES) as Range[]).map((key) => (
                <ToggleButton key={key} value={key}>
                  {RANGES[key].label}
                </ToggleButton>
              ))}
            </ToggleButtonGroup>
          </Box>
        }
      />
      <QueryView query={names} loadingLabel="Loading the series…">
        {(data) => (
          <Grid container spacing={2}>
            {DEFAULT_CHARTS.map((name, index) => (
              <Grid key={name} size={{ xs: 12, lg: 6 }}>
                <Chart initial={name} range={range} entity={entity} names={data} color={COLORS[index] ?? "#1565c0"} />
              </Grid>
            ))}
          </Grid>
        )}
      </QueryView>
    </>
  );
}
