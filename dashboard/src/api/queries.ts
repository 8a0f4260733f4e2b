/**
 * TanStack Query hooks over the typed client: one per read endpoint the dashboard shows.
 * Live views poll (short polling, `LIVE_MS`); detail views refresh when their data changes.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "./client";
import type { operations } from "./schema";

export const LIVE_MS = 3_000;
const SLOW_MS = 10_000;

type Query<Op extends keyof operations> = operations[Op] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;

export type Entity = "items" | "contacts" | "invoices" | "bills" | "creditnotes" | "stock" | "pricebooks";
export const ENTITIES: Entity[] = ["items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks"];

export type StatsWindow = Schemas["WindowStats"]["window"];
export type QueueFilter = Query<"queue-list_queue">;
export type DeadLetterFilter = Query<"dead-letters-list_letters">;
export type ConflictFilter = Query<"conflicts-list_conflicts">;
export type AlertFilter = Query<"alerts-list_alerts">;
export type HistoryQuery = Query<"stats-history">;
export type RunFilter = Query<"sync-list_runs">;

/** Drop empty strings and undefined so filters only send what the user chose. */
function clean<T extends object>(filter: T): T {
  return Object.fromEntries(
    Object.entries(filter).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  ) as T;
}

export const useStats = (window: StatsWindow = "5m") =>
  useQuery({
    queryKey: ["stats", window],
    queryFn: () => unwrap(api.GET("/api/v1/stats", { params: { query: { window } } })),
    refetchInterval: LIVE_MS,
  });

export const useSeriesNames = () =>
  useQuery({
    queryKey: ["stats", "names"],
    queryFn: () => unwrap(api.GET("/api/v1/stats/names")),
    staleTime: Infinity,
  });

export const useHistory = (query: HistoryQuery, refetchMs = SLOW_MS) =>
  useQuery({
    queryKey: ["stats", "history", query],
    queryFn: () => unwrap(api.GET("/api/v1/stats/history", { params: { query: clean(query) } })),
    refetchInterval: refetchMs,
    placeholderData: keepPreviousData,
  });

export const useQueue = (filter: QueueFilter) =>
  useQuery({
    queryKey: ["queue", "list", filter],
    queryFn: () => unwrap(api.GET("/api/v1/queue", { params: { query: clean(filter) } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });

export const useQueueSummary = () =>
  useQuery({
    queryKey: ["queue", "summary"],
    queryFn: () => unwrap(api.GET("/api/v1/queue/summary")),
    refetchInterval: LIVE_MS,
  });

const UNFINISHED = new Set(["pending", "processing"]);

/** The trace of a queue row; `follow` polls it while the row is still pending or processing. */
export const useQueueTrace = (queueId: number | null, follow = false) =>
  useQuery({
    queryKey: ["queue", "trace", queueId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/queue/{queue_id}", { params: { path: { queue_id: queueId ?? 0 } } })),
    enabled: queueId !== null,
    refetchInterval: (query) =>
      follow && (!query.state.data || query.state.data.queue.some((row) => UNFINISHED.has(row.status))) ? 1_000 : false,
  });

export const useDeadLetters = (filter: DeadLetterFilter) =>
  useQuery({
    queryKey: ["dlq", "list", filter],
    queryFn: () => unwrap(api.GET("/api/v1/dlq", { params: { query: clean(filter) } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });

export const useConflicts = (filter: ConflictFilter) =>
  useQuery({
    queryKey: ["conflicts", "list", filter],
    queryFn: () => unwrap(api.GET("/api/v1/conflicts", { params: { query: clean(filter) } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });

export const useConflict = (conflictId: number) =>
  useQuery({
    queryKey: ["conflicts", "one", conflictId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/conflicts/{conflict_id}", { params: { path: { conflict_id: conflictId } } })),
    refetchInterval: LIVE_MS,
  });

export const useDeadLetter = (letterId: number) =>
  useQuery({
    queryKey: ["dlq", "one", letterId],
    queryFn: () => unwrap(api.GET("/api/v1/dlq/{letter_id}", { params: { path: { letter_id: letterId } } })),
    refetchInterval: LIVE_MS,
  });

const FINISHED_JOB = new Set(["completed", "cancelled", "failed"]);

export const useJob = (jobId: number | null) =>
  useQuery({
    queryKey: ["jobs", jobId],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: jobId ?? 0 } } })),
    enabled: jobId !== null,
    refetchInterval: (query) => (query.state.data && FINISHED_JOB.has(query.state.data.status) ? false : 1_000),
  });

export const useJobs = () =>
  useQuery({
    queryKey: ["jobs", "list"],
    queryFn: () => unwrap(api.GET("/api/v1/jobs", { params: { query: { limit: 20 } } })),
    refetchInterval: LIVE_MS,
  });

export const useAlerts = (filter: AlertFilter) =>
  useQuery({
    queryKey: ["alerts", "list", filter],
    queryFn: () => unwrap(api.GET("/api/v1/alerts", { params: { query: clean(filter) } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });

export const useAlert = (alertId: number | null) =>
  useQuery({
    queryKey: ["alerts", "one", alertId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/alerts/{alert_id}", { params: { path: { alert_id: alertId ?? 0 } } })),
    enabled: alertId !== null,
  });

export const useAlertRules = () =>
  useQuery({ queryKey: ["alerts", "rules"], queryFn: () => unwrap(api.GET("/api/v1/alerts/rules")) });

export const useOnCall = () =>
  useQuery({
    queryKey: ["alerts", "oncall"],
    queryFn: () => unwrap(api.GET("/api/v1/alerts/oncall")),
    refetchInterval: 60_000,
  });

export const useSilences = () =>
  useQuery({
    queryKey: ["alerts", "silences"],
    queryFn: () => unwrap(api.GET("/api/v1/alerts/silences")),
    refetchInterval: SLOW_MS,
  });

export const useEntityHistory = (entity: string, zohoId: string) =>
  useQuery({
    queryKey: ["entities", entity, zohoId],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/entities/{entity}/{zoho_id}", {
          params: { path: { entity, zoho_id: zohoId }, query: { limit: 50 } },
        }),
      ),
    enabled: entity !== "" && zohoId !== "",
    retry: false,
  });

export const useConfig = () =>
  useQuery({ queryKey: ["config"], queryFn: () => unwrap(api.GET("/api/v1/config")), refetchInterval: SLOW_MS });

export const useConfigHistory = (key: string | null) =>
  useQuery({
    queryKey: ["config", "history", key],
    queryFn: () =>
      unwrap(api.GET("/api/v1/config/{key}/history", { params: { path: { key: key ?? "" }, query: { limit: 20 } } })),
    enabled: key !== null,
  });

export const useSyncRuns = (filter: RunFilter) =>
  useQuery({
    queryKey: ["sync", "runs", filter],
    queryFn: () => unwrap(api.GET("/api/v1/sync/runs", { params: { query: clean(filter) } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });

export const useSyncRun = (runId: number | null) =>
  useQuery({
    queryKey: ["sync", "run", runId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/sync/runs/{run_id}", { params: { path: { run_id: runId ?? 0 } } })),
    enabled: runId !== null,
  });

export const useSyncPlan = () =>
  useQuery({
    queryKey: ["sync", "plan"],
    queryFn: () => unwrap(api.GET("/api/v1/sync/plan", { params: { query: { entity: "all" } } })),
    refetchInterval: SLOW_MS,
  });

export const useCursors = () =>
  useQuery({
    queryKey: ["sync", "cursors"],
    queryFn: () => unwrap(api.GET("/api/v1/sync/cursors")),
    refetchInterval: SLOW_MS,
  });

export const useKeys = () => useQuery({ queryKey: ["keys"], queryFn: () => unwrap(api.GET("/api/v1/keys")) });

export const useActions = () =>
  useQuery({
    queryKey: ["actions"],
    queryFn: () => unwrap(api.GET("/api/v1/actions", { params: { query: { limit: 30 } } })),
    refetchInterval: SLOW_MS,
  });

export const useUsers = () => useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
