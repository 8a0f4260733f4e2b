import { MenuItem, TextField } from "@mui/material";

import { ENTITIES } from "../api/queries";

/** For a select whose empty value means "any": show "Any" instead of an empty box. */
export const ANY_SELECT = { inputLabel: { shrink: true }, select: { displayEmpty: true } } as const;

/**
 * A labelled select over fixed `options`; `allowAll` adds an "Any" choice (empty string), so a
 * filter only sends what the user picked.
 */
export function OptionSelect<T extends string>({
  value,
  onChange,
  options,
  label,
  allowAll = true,
  minWidth = 160,
  id,
}: {
  value: T | "";
  onChange: (value: T | "") => void;
  options: readonly T[];
  label: string;
  allowAll?: boolean;
  minWidth?: number;
  id?: string;
}) {
  return (
    <TextField
      select
      id={id}
      label={label}
      value={value}
      onChange={(event) => onChange(event.target.value as T | "")}
      size="small"
      sx={{ minWidth }}
      slotProps={allowAll ? ANY_SELECT : undefined}
    >
      {allowAll ? <MenuItem value="">Any</MenuItem> : null}
      {options.map((option) => (
        <MenuItem key={option} value={option}>
          {option}
        </MenuItem>
      ))}
    </TextField>
  );
}

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
  return <OptionSelect value={value} onChange={onChange} options={ENTITIES} allowAll={allowAll} label={label} id={id} />;
}
