import { screen, within } from "@testing-library/react";

import { stubApi } from "../../test/http";
import { renderApp } from "../../test/render";

describe("sync plan", () => {
  it("shows what a full sync costs and how many days it spans at each quota", async () => {
    const calls = stubApi({
      "GET /api/v1/sync/runs": () => [],
      "GET /api/v1/sync/cursors": () => [],
      "GET /api/v1/sync/plan": () => ({
        entities: [
          { entity: "invoices", records: 50000, source: "full_scan", detail: true, list_calls: 250, detail_calls: 50000, calls: 50250 },
          { entity: "items", records: null, source: "unknown", detail: false, list_calls: null, detail_calls: null, calls: null },
        ],
        list_calls: 250,
        detail_calls: 50000,
        calls: 50250,
        complete: false,
        per_page: 200,
        requests_per_minute: 100,
        counting_calls: 0,
        durations: [
          { plan: "configured", daily_quota: 1000, reserve: 200, calls_per_day: 800, days: 62.81, calendar_days: 63, minutes: 502.5 },
          { plan: "Standard", daily_quota: 2000, reserve: 400, calls_per_day: 1600, days: 31.41, calendar_days: 32, minutes: 502.5 },
          { plan: "Premium", daily_quota: 10000, reserve: 2000, calls_per_day: 8000, days: 6.28, calendar_days: 7, minutes: 502.5 },
        ],
      }),
    });
    renderApp("/sync", "viewer");
    const quotas = await screen.findByRole("table", { name: "Sync plan by quota" });
    const rows = within(quotas).getAllByRole("row");
    expect(rows).toHaveLength(4);
    expect(within(rows[2]!).getByText("Standard")).toBeInTheDocument();
    expect(within(rows[2]!).getByText("32")).toBeInTheDocument();
    expect(within(rows[3]!).getByText("7")).toBeInTheDocument();
    expect(screen.getByText(/some counts unknown/)).toBeInTheDocument();
    const entities = screen.getByRole("table", { name: "Sync plan by entity" });
    expect(within(entities).getByText("? records")).toBeInTheDocument();
    expect(calls.find((call) => call.path === "/api/v1/sync/plan")?.query.get("entity")).toBe("all");
  });
});
