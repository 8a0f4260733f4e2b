import { Box, Typography } from "@mui/material";
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import type { Schemas } from "../api/client";
import { formatNumber } from "./format";

function tick(iso: string, spanSeconds: number): string {
  const date = new Date(iso);
  return spanSeconds > 2 * 86_400
    ? date.toLocaleDateString("en-GB", { day: "2-digit", month: "short" })
    : date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

/** One history series as an area chart, with a text summary for screen readers. */
export function SeriesChart({ history, height = 220, color = "#1565c0" }: {
  history: Schemas["History"];
  height?: number;
  color?: string;
}) {
  const span = (new Date(history.until).getTime() - new Date(history.since).getTime()) / 1000;
  const values = history.points.map((point) => point.value).filter((value): value is number => value !== null);
  const peak = values.length ? Math.max(...values) : null;
  const total = history.kind === "count" ? values.reduce((sum, value) => sum + value, 0) : null;
  return (
    <Box>
      <Box sx={{ width: "100%", height }} aria-hidden>
        <ResponsiveContainer width="100%" height="100%">
          <AreaChart data={history.points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="at" tickFormatter={(value: string) => tick(value, span)} minTickGap={32} fontSize={12} />
            <YAxis width={48} fontSize={12} allowDecimals={history.kind !== "count"} />
            <Tooltip
              labelFormatter={(value) => new Date(String(value)).toLocaleString("en-GB")}
              formatter={(value) => [`${formatNumber(Number(value), 2)} ${history.unit}`, history.name]}
            />
            <Area
              type="monotone"
              dataKey="value"
              stroke={color}
              fill={color}
              fillOpacity={0.15}
              connectNulls={false}
              isAnimationActive={false}
            />
          </AreaChart>
        </ResponsiveContainer>
      </Box>
      <Typography variant="caption" color="text.secondary">
        {history.points.length} points, {history.step_seconds / 60} min each
        {peak !== null ? `; peak ${formatNumber(peak, 2)} ${history.unit}` : "; no data in this range yet"}
        {total !== null ? `; total ${formatNumber(total)} ${history.unit}` : ""}
      </Typography>
    </Box>
  );
}
