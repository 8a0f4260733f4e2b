import { MenuItem, TextField } from "@mui/material";

import { ENTITIES } from "../api/queries";

/** For a select whose empty value means "any": show "Any" instead of an empty box. */
export const ANY_SELECT = { inputLabel: { shrink: true }, select: { displayEmpty: true } } as const;

/** The entity type as a labelled select; `allowAll` adds an "any" choice (empty string). */
export function EntitySelect({
  value,
  onChange,
  allowAll = true,
  label = "Entity",
  id,
}: {
  value: string;
  onChange: (value: string) => void;
  allowAll?: boolean;
  label?: string;
  id?: string;
}) {
  return (
    <TextField
      select
      id={id}
      label={label}
      value={value}
      onChange={(event) => onChange(event.target.value)}
      size="small"
      sx={{ minWidth: 160 }}
      slotProps={allowAll ? ANY_SELECT : undefined}
    >
      {allowAll ? <MenuItem value="">Any</MenuItem> : null}
      {ENTITIES.map((entity) => (
        <MenuItem key={entity} value={entity}>
          {entity}
        </MenuItem>
      ))}
    </TextField>
  );
}
