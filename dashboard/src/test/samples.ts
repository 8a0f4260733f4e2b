/** Sample API payloads, typed by the generated schema so they follow the API's shapes. */
import type { Schemas } from "../api/client";

function entityStats(entity: string, scale: number): Schemas["EntityStats"] {
  return {
    entity,
    received: 100 * scale,
    rejected: 0,
    applied: 98 * scale,
    skipped: 1 * scale,
    retried: 2 * scale,
    failed: 1 * scale,
    success_rate: scale === 0 ? null : 0.99,
    throughput_per_second: 0.33 * scale,
    latency: { p50_ms: 4.5, p95_ms: 42, p99_ms: 120, samples: 98 * scale },
  };
}

export function stats(overrides: Partial<Schemas["WindowStats"]> = {}): Schemas["WindowStats"] {
  return {
    window: "5m",
    since: "2026-01-01T00:00:00Z",
    until: "2026-01-01T00:05:00Z",
    seconds: 300,
    rolled_through: null,
    total: { ...entityStats("all", 7), success_rate: 0.9971, throughput_per_second: 12.34 },
    entities: ["items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks"].map((entity) =>
      entityStats(entity, 1),
    ),
    queue: { pending: 57, ready: 50, processing: 8, oldest_ready_age_seconds: 3.2 },
    dead_letters: { open: 4, oldest_age_seconds: 7200 },
    workers: { alive: 2, breakers: { closed: 1, open: 1, half_open: 0 } },
    zoho: [{ organization: "10234695", calls_today: 1234, daily_quota: 10000, remaining: 8766 }],
    ...overrides,
  };
}

export function deadLetter(id: number, overrides: Partial<Schemas["DeadLetter"]> = {}) {
  const letter: Schemas["DeadLetter"] = {
    id,
    queue_id: 1000 + id,
    inbox_event_id: 2000 + id,
    entity: "invoices",
    zoho_id: `46000000${id}`,
    operation: "upsert",
    status: "open",
    attempts: 8,
    error: `value too long for column "invoice_number" (${id})`,
    error_class: "permanent",
    created_at: "2026-01-01T10:00:00Z",
    source_version: "2026-01-01T09:59:00Z",
    payload: { invoice_id: `46000000${id}`, invoice_number: "INV-000001", total: 100 },
    attempt_history: [
      { attempt: 1, at: "2026-01-01T09:59:01Z", error: "timeout", error_class: "retryable" },
      { attempt: 2, at: "2026-01-01T09:59:05Z", error: "value too long", error_class: "permanent" },
    ],
    resolved_at: null,
    resolved_by: null,
    resolution_note: null,
    ...overrides,
  };
  return letter;
}
