import { Card, CardContent, Typography } from "@mui/material";
import type { ReactNode } from "react";

/** An outlined card with a section heading (h2): the building block of every page's panels. */
export function SectionCard({ title, children }: { title: ReactNode; children: ReactNode }) {
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="h6" component="h2" gutterBottom>
          {title}
        </Typography>
        {children}
      </CardContent>
    </Card>
  );
}
