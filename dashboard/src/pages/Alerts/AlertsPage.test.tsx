import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import type { Schemas } from "../../api/client";
import { stubApi } from "../../test/http";
import { renderApp } from "../../test/render";

function alert(id: number, status: Schemas["AlertOut"]["status"]): Schemas["AlertOut"] {
  return {
    id, rule: "dlq_growth", fingerprint: "dlq_growth", severity: "warning", status, title: `DLQ grew (${id})`,
    message: "3 events dead-lettered in 15 minutes", details: {}, occurrences: 2,
    first_seen_at: "2026-01-01T00:00:00Z", last_seen_at: "2026-01-01T00:01:00Z", acknowledged_at: null,
    acknowledged_by: null, resolved_at: null, resolved_by: null, silenced_until: null, silenced_by: null,
    notified_at: null, escalation_level: 0, escalated_at: null, note: null,
  };
}

const COMMON = {
  "GET /api/v1/alerts/oncall": () => ({ at: "2026-01-01T00:00:00Z", rotation: "weekly", escalate_after_minutes: 15, levels: [] }),
  "GET /api/v1/alerts/silences": () => [],
  "GET /api/v1/alerts/rules": () => [
    { rule: "dlq_growth", severity: "warning", description: "Dead letters added in a window", thresholds: { dlq_growth: 10 } },
  ],
};

describe("alerts and roles", () => {
  it("lets an operator acknowledge an open alert", async () => {
    let acked = false;
    const calls = stubApi({
      ...COMMON,
      "GET /api/v1/alerts": () => [acked ? alert(4, "acknowledged") : alert(4, "open")],
      "POST /api/v1/alerts/:id/ack": () => {
        acked = true;
        return { ...alert(4, "acknowledged"), deliveries: [] };
      },
    });
    renderApp("/alerts", "operator");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Acknowledge alert 4" }));
    const dialog = await screen.findByRole("dialog", { name: "Acknowledge alert #4?" });
    await user.type(within(dialog).getByLabelText(/Note/), "looking");
    await user.click(within(dialog).getByRole("button", { name: "Acknowledge" }));
    const ack = calls.find((call) => call.method === "POST");
    expect(ack?.path).toBe("/api/v1/alerts/4/ack");
    expect(ack?.body).toEqual({ note: "looking" });
    expect(await screen.findByText("acknowledged")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Acknowledge alert 4" })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Resolve alert 4" })).toBeInTheDocument();
  });

  it("shows a viewer the alerts without actions, and no admin page", async () => {
    stubApi({ ...COMMON, "GET /api/v1/alerts": () => [alert(4, "open")] });
    renderApp("/alerts", "viewer");
    expect(await screen.findByText("#4 DLQ grew (4)")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Acknowledge|Resolve|Silence/ })).not.toBeInTheDocument();
    expect(screen.getByText("No rotation is configured", { exact: false })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Access" })).not.toBeInTheDocument();
  });

  it("shows the admin page only to admins", async () => {
    stubApi({ ...COMMON, "GET /api/v1/alerts": () => [] });
    renderApp("/alerts", "admin");
    expect(await screen.findByRole("link", { name: "Access" })).toBeInTheDocument();
    expect(await screen.findByText("No open alerts")).toBeInTheDocument();
  });

  it("guards the admin page against a typed URL", async () => {
    stubApi({});
    renderApp("/access", "operator");
    expect(await screen.findByText("Not available to your role")).toBeInTheDocument();
  });
});
