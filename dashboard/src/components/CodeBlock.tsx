import { Box } from "@mui/material";

import { formatJson } from "./format";

/** Pretty-printed JSON (or text) in a scrollable, focusable block. */
export function CodeBlock({ value, label, maxHeight = 360 }: { value: unknown; label: string; maxHeight?: number }) {
  return (
    <Box
      component="pre"
      tabIndex={0}
      aria-label={label}
      sx={{
        m: 0,
        p: 1.5,
        maxHeight,
        overflow: "auto",
        bgcolor: "grey.100",
        borderRadius: 1,
        fontSize: 13,
        whiteSpace: "pre-wrap",
        wordBreak: "break-word",
      }}
    >
      {formatJson(value)}
    </Box>
  );
}
