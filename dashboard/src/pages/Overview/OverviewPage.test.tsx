import { screen, within } from "@testing-library/react";

import { stubApi } from "../../test/http";
import { renderApp } from "../../test/render";
import { stats } from "../../test/samples";

const HISTORY = {
  name: "events_applied", kind: "count", aggregate: "sum", unit: "events", entity: null,
  since: "2026-01-01T00:00:00Z", until: "2026-01-01T00:03:00Z", step_seconds: 60,
  points: [
    { at: "2026-01-01T00:00:00Z", value: 10 },
    { at: "2026-01-01T00:01:00Z", value: 30 },
    { at: "2026-01-01T00:02:00Z", value: 20 },
  ],
};

describe("overview", () => {
  it("renders the headline numbers of a stats payload against the SLOs", async () => {
    const calls = stubApi({
      "GET /api/v1/stats": () => stats(),
      "GET /api/v1/alerts": () => [{ id: 1 }, { id: 2 }],
      "GET /api/v1/stats/history": () => HISTORY,
    });
    renderApp("/", "viewer");
    const throughput = await screen.findByTestId("stat-throughput");
    expect(throughput).toHaveTextContent("12.34 /s");
    expect(throughput).toHaveTextContent("686 applied, 700 received");
    const success = screen.getByTestId("stat-success");
    expect(success).toHaveTextContent("99.71%");
    expect(success).toHaveTextContent("SLO 99.5%: met");
    const latency = screen.getByTestId("stat-latency");
    expect(latency).toHaveTextContent("4.5 ms / 42 ms / 120 ms");
    expect(latency).toHaveTextContent("SLO p95 ≤ 100 ms: met");
    expect(screen.getByTestId("stat-queue")).toHaveTextContent("65");
    expect(screen.getByTestId("stat-queue")).toHaveTextContent("50 ready, 7 in backoff, 8 processing");
    expect(screen.getByTestId("stat-lag")).toHaveTextContent("3 s");
    expect(screen.getByTestId("stat-dlq")).toHaveTextContent("4");
    expect(screen.getByTestId("stat-dlq")).toHaveTextContent("oldest 2.0 h old");
    expect(screen.getByTestId("stat-circuit")).toHaveTextContent("open");
    expect(screen.getByTestId("stat-circuit")).toHaveTextContent("2 workers alive");
    expect(screen.getByTestId("stat-alerts")).toHaveTextContent("2");
    expect(screen.getByTestId("stat-quota")).toHaveTextContent("1,234 / 10,000");
    expect(screen.getByTestId("stat-quota")).toHaveTextContent("8,766 calls left");
    const table = screen.getByRole("table", { name: "Per entity" });
    expect(within(table).getAllByRole("row")).toHaveLength(8);
    expect(await screen.findByText(/3 points, 1 min each; peak 30 events; total 60 events/)).toBeInTheDocument();
    expect(calls.find((call) => call.path === "/api/v1/stats")?.query.get("window")).toBe("5m");
    expect(calls.find((call) => call.path === "/api/v1/alerts")?.query.get("status")).toBe("open");
  });

  it("flags a missed SLO and a quiet system honestly", async () => {
    stubApi({
      "GET /api/v1/stats": () =>
        stats({
          total: {
            entity: "all", received: 0, rejected: 0, applied: 0, skipped: 0, retried: 0, failed: 3,
            success_rate: 0.9, throughput_per_second: 0, latency: { p50_ms: 50, p95_ms: 250, p99_ms: 900, samples: 30 },
          },
          dead_letters: { open: 0, oldest_age_seconds: null },
          workers: { alive: 0, breakers: { closed: 0, open: 0, half_open: 0 } },
          zoho: [],
        }),
      "GET /api/v1/alerts": () => [],
      "GET /api/v1/stats/history": () => ({ ...HISTORY, points: [] }),
    });
    renderApp("/", "viewer");
    expect(await screen.findByTestId("stat-success")).toHaveTextContent("SLO 99.5%: missed");
    expect(screen.getByTestId("stat-latency")).toHaveTextContent("missed");
    expect(screen.getByTestId("stat-circuit")).toHaveTextContent("no workers");
    expect(screen.getByTestId("stat-dlq")).toHaveTextContent("none open");
    expect(screen.getByTestId("stat-quota")).toHaveTextContent("no Zoho organization yet");
    expect(await screen.findByText(/no data in this range yet/)).toBeInTheDocument();
  });

  it("says when the API cannot be reached, with a retry", async () => {
    stubApi({
      "GET /api/v1/stats": () => new Response(JSON.stringify({ error: "database unavailable; nothing was stored, retry later", reasons: [] }), { status: 503 }),
      "GET /api/v1/alerts": () => [],
    });
    renderApp("/", "viewer");
    expect(await screen.findByText("Error 503")).toBeInTheDocument();
    expect(screen.getByText(/database unavailable/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Retry" })).toBeInTheDocument();
  });
});
