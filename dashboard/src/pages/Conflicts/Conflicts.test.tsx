import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import type { Schemas } from "../../api/client";
import { stubApi } from "../../test/http";
import { renderApp } from "../../test/render";

function conflict(id: number, overrides: Partial<Schemas["Conflict"]> = {}): Schemas["Conflict"] {
  return {
    id,
    entity: "items",
    zoho_id: "460000000054135",
    erp_table: "products",
    row_key: "460000000054135",
    policy: "hold",
    status: "open",
    resolution: null,
    queue_id: 500 + id,
    inbox_event_id: 900 + id,
    held_events: 1,
    held_queue_ids: [500 + id],
    operation: "upsert",
    source_version: "2026-01-02T10:00:00Z",
    content_hash: "abc",
    changed_columns: ["name"],
    detected_at: "2026-01-02T10:00:05Z",
    updated_at: "2026-01-02T10:00:05Z",
    payload: { item_id: "460000000054135", name: "Zoho name" },
    source_row: { name: "Zoho name", rate: "12.5" },
    local_row: { name: "Local name", rate: 12.5 },
    written: { name: "Old name", rate: 12.5 },
    diff: [
      { column: "name", local: "Local name", source: "Zoho name", written: "Old name", changed_locally: true, differs: true, preserved: false },
      { column: "rate", local: 12.5, source: "12.5", written: 12.5, changed_locally: false, differs: false, preserved: false },
    ],
    ...overrides,
  };
}

describe("conflicts", () => {
  it("lists open conflicts; an operator sees the diff and applies the source after confirming", async () => {
    let resolved = false;
    const calls = stubApi({
      "GET /api/v1/conflicts": () => [conflict(2), conflict(1, { policy: "source_wins", status: "resolved", resolution: "source_wins" })],
      "GET /api/v1/conflicts/:id": ({ params }) =>
        conflict(Number(params.id), resolved ? { status: "resolved", resolution: "apply_source", resolved_by: "operator-user", resolved_at: "2026-01-02T11:00:00Z" } : {}),
      "POST /api/v1/conflicts/:id/resolve": ({ params }) => {
        resolved = true;
        return conflict(Number(params.id), { status: "resolved", resolution: "apply_source", resolved_by: "operator-user", resolved_at: "2026-01-02T11:00:00Z" });
      },
    });
    renderApp("/conflicts", "operator");
    const user = userEvent.setup();
    const table = await screen.findByRole("table", { name: "Conflicts" });
    expect(within(table).getAllByRole("row")).toHaveLength(3);
    expect(calls.find((call) => call.path === "/api/v1/conflicts")?.query.get("status")).toBe("open");

    await user.click(screen.getByRole("link", { name: "#2" }));
    expect(await screen.findByRole("heading", { name: "Conflict #2" })).toBeInTheDocument();
    const diff = screen.getByRole("table", { name: "Local against source" });
    expect(within(diff).getByText("name (changed locally)")).toBeInTheDocument();
    expect(within(diff).getByText("Local name")).toBeInTheDocument();
    expect(within(diff).getByText("Zoho name")).toBeInTheDocument();
    expect(within(diff).queryByText("rate")).not.toBeInTheDocument(); // equal values are not a difference

    await user.click(screen.getByRole("button", { name: "Apply source" }));
    const dialog = await screen.findByRole("dialog", { name: "Apply the source for conflict #2?" });
    expect(calls.some((call) => call.method === "POST")).toBe(false); // nothing before confirming
    await user.type(within(dialog).getByLabelText("Note (optional)"), "Zoho is right");
    await user.click(within(dialog).getByRole("button", { name: "Apply source" }));
    const post = calls.find((call) => call.method === "POST");
    expect(post?.path).toBe("/api/v1/conflicts/2/resolve");
    expect(post?.body).toEqual({ resolution: "apply_source", note: "Zoho is right" });
    expect(await screen.findByText(/apply_source by operator-user/)).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(screen.queryByRole("button", { name: "Keep local" })).not.toBeInTheDocument(); // resolved: no actions
  });

  it("shows a viewer the conflict without any way to resolve it", async () => {
    stubApi({ "GET /api/v1/conflicts": () => [conflict(3)], "GET /api/v1/conflicts/:id": () => conflict(3) });
    renderApp("/conflicts", "viewer");
    await screen.findByRole("table", { name: "Conflicts" });
    await userEvent.setup().click(screen.getByRole("link", { name: "#3" }));
    expect(await screen.findByRole("heading", { name: "Conflict #3" })).toBeInTheDocument();
    expect(screen.getByRole("table", { name: "Local against source" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Apply source" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Keep local" })).not.toBeInTheDocument();
  });

  it("says so when nothing is held", async () => {
    stubApi({ "GET /api/v1/conflicts": () => [] });
    renderApp("/conflicts", "operator");
    expect(await screen.findByText("No open conflicts")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Conflicts" })).toBeInTheDocument(); // in the navigation
  });
});
