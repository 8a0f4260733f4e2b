import { Box, Card, CardContent, Typography } from "@mui/material";
import type { ReactNode } from "react";

/** One headline number with a label and an optional line under it; `tone` flags a breach. */
export function StatCard({
  label,
  value,
  detail,
  tone = "normal",
  testId,
}: {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
  tone?: "normal" | "good" | "bad" | "warn";
  testId?: string;
}) {
  const color = { normal: "text.primary", good: "success.main", bad: "error.main", warn: "warning.dark" }[tone];
  return (
    <Card variant="outlined" sx={{ height: "100%" }} data-testid={testId}>
      <CardContent>
        <Typography variant="overline" color="text.secondary" component="h2" sx={{ lineHeight: 1.4 }}>
          {label}
        </Typography>
        <Typography variant="h5" component="p" sx={{ color, fontVariantNumeric: "tabular-nums" }}>
          {value}
        </Typography>
        {detail ? (
          <Box sx={{ mt: 0.5, typography: "body2", color: "text.secondary" }}>{detail}</Box>
        ) : null}
      </CardContent>
    </Card>
  );
}
