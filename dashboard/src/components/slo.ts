/**
 * Service level objectives the overview measures against: success rate 99.5% over the window,
 * end-to-end latency (receipt → applied) p95 at most 100 ms (docs/performance.md).
 */
export const SUCCESS_SLO = 0.995;
export const LATENCY_P95_SLO_MS = 100;
