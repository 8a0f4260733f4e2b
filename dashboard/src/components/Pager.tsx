/** Keyset paging ("before id"), newest first: a stack of the cursors of the pages behind us. */
import { Box, Button } from "@mui/material";
import { useState } from "react";

export interface CursorPages {
  /** The cursor of the page shown (undefined: the newest page). */
  beforeId: number | undefined;
  atNewest: boolean;
  older: (beforeId: number) => void;
  newer: () => void;
  reset: () => void;
}

export function useCursorPages(): CursorPages {
  const [pages, setPages] = useState<number[]>([]);
  return {
    beforeId: pages[pages.length - 1],
    atNewest: pages.length === 0,
    older: (beforeId) => setPages((stack) => [...stack, beforeId]),
    newer: () => setPages((stack) => stack.slice(0, -1)),
    reset: () => setPages([]),
  };
}

/** Newer / Older buttons; `next` is the cursor of the older page, or null when this is the last. */
export function Pager({ pages, next }: { pages: CursorPages; next: number | null | undefined }) {
  return (
    <Box sx={{ display: "flex", gap: 1, mt: 2 }}>
      <Button disabled={pages.atNewest} onClick={pages.newer}>
        Newer
      </Button>
      <Button disabled={!next} onClick={() => next && pages.older(next)}>
        Older
      </Button>
    </Box>
  );
}
