import type { Schemas } from "../api/client";

export type Role = Schemas["Role"];

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether `role` may do what needs `least` (viewer < operator < admin, as in docs/api.md). */
export function allows(role: string | null | undefined, least: Role): boolean {
  if (!role || !(role in RANK)) return false;
  return RANK[role as Role] >= RANK[least];
}
