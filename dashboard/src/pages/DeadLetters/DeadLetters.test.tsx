import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import type { Schemas } from "../../api/client";
import { stubApi } from "../../test/http";
import { renderApp } from "../../test/render";
import { deadLetter } from "../../test/samples";

function job(overrides: Partial<Schemas["JobOut"]> = {}): Schemas["JobOut"] {
  return {
    id: 77, kind: "dlq_replay", status: "running", params: {}, result: {}, total: 2, done: 1, skipped: 0,
    progress: 0.5, cancel_requested: false, created_at: "2026-01-01T10:00:00Z", created_by: "operator-user",
    ...overrides,
  };
}

describe("dead letters", () => {
  it("lists open letters; an operator selects two, confirms, and follows the replay job", async () => {
    let polls = 0;
    const calls = stubApi({
      "GET /api/v1/dlq": () => [deadLetter(3), deadLetter(2), deadLetter(1, { status: "replayed" })],
      "POST /api/v1/dlq/replay": () => job({ status: "queued", done: 0, progress: 0 }),
      "GET /api/v1/jobs/:id": () => (++polls > 1 ? job({ status: "completed", done: 2, progress: 1 }) : job()),
    });
    renderApp("/dead-letters", "operator");
    const user = userEvent.setup();
    const table = await screen.findByRole("table", { name: "Dead letters" });
    expect(within(table).getAllByRole("row")).toHaveLength(4);
    expect(calls.find((call) => call.path === "/api/v1/dlq")?.query.get("status")).toBe("open");
    // A letter that is not open cannot be selected.
    expect(screen.getByRole("checkbox", { name: "Select dead letter 1" })).toBeDisabled();

    await user.click(screen.getByRole("checkbox", { name: "Select dead letter 3" }));
    await user.click(screen.getByRole("checkbox", { name: "Select dead letter 2" }));
    await user.click(screen.getByRole("button", { name: "Replay selected (2)" }));
    const dialog = await screen.findByRole("dialog", { name: "Replay 2 dead letter(s)?" });
    expect(calls.some((call) => call.method === "POST")).toBe(false); // nothing before confirming
    await user.click(within(dialog).getByRole("button", { name: "Replay" }));

    const replay = calls.find((call) => call.method === "POST" && call.path === "/api/v1/dlq/replay");
    expect(replay?.body).toEqual({ ids: [3, 2] });
    const progress = await screen.findByTestId("job-77");
    await waitFor(() => expect(progress).toHaveTextContent("2 of 2 done"), { timeout: 4000 });
    expect(within(progress).getByText("completed")).toBeInTheDocument();
  });

  it("shows a viewer the letters without any way to replay or discard", async () => {
    stubApi({ "GET /api/v1/dlq": () => [deadLetter(3)], "GET /api/v1/dlq/:id": () => deadLetter(3) });
    renderApp("/dead-letters", "viewer");
    await screen.findByRole("table", { name: "Dead letters" });
    expect(screen.queryByRole("button", { name: /Replay/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Discard/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("checkbox")).not.toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole("link", { name: "#3" }));
    expect(await screen.findByRole("heading", { name: "Dead letter #3" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Replay" })).not.toBeInTheDocument();
  });

  it("says so when there is nothing to replay", async () => {
    stubApi({ "GET /api/v1/dlq": () => [] });
    renderApp("/dead-letters", "operator");
    expect(await screen.findByText("No open dead letters")).toBeInTheDocument();
  });

  it("shows one letter's payload, error and attempts, and replays it after confirmation", async () => {
    let status = "open";
    const calls = stubApi({
      "GET /api/v1/dlq/:id": ({ params }) => deadLetter(Number(params.id), { status }),
      "POST /api/v1/dlq/:id/replay": ({ params }) => {
        status = "replayed";
        return deadLetter(Number(params.id), { status, resolved_by: "operator-user", resolved_at: "2026-01-01T11:00:00Z" });
      },
      "GET /api/v1/queue/:id": ({ params }) => ({
        outcome: "completed", inbox: null, logs: [], audit: [], erp: null, dead_letters: [],
        queue: [{ id: Number(params.id), status: "completed" }],
      }),
    });
    renderApp("/dead-letters/5", "operator");
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { name: "Dead letter #5" })).toBeInTheDocument();
    expect(screen.getByLabelText("Payload")).toHaveTextContent('"invoice_number": "INV-000001"');
    expect(screen.getByText('value too long for column "invoice_number" (5)')).toBeInTheDocument();
    const attempts = screen.getByRole("table", { name: "Attempts" });
    expect(within(attempts).getAllByRole("row")).toHaveLength(5); // header + two rows per attempt
    expect(within(attempts).getByText("timeout")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Replay" }));
    const dialog = await screen.findByRole("dialog", { name: "Replay dead letter #5?" });
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(calls.some((call) => call.method === "POST")).toBe(false);

    await user.click(screen.getByRole("button", { name: "Replay" }));
    await user.type(within(await screen.findByRole("dialog")).getByLabelText(/Note/), "fixed the column");
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Replay" }));
    const post = calls.find((call) => call.method === "POST");
    expect(post?.path).toBe("/api/v1/dlq/5/replay");
    expect(post?.body).toEqual({ note: "fixed the column" });
    expect(await screen.findByText(/applied to the ERP/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Replay" })).not.toBeInTheDocument();
  });

  it("asks for a note before discarding, and can still be cancelled without one", async () => {
    const calls = stubApi({ "GET /api/v1/dlq/:id": ({ params }) => deadLetter(Number(params.id)) });
    renderApp("/dead-letters/5", "operator");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Discard" }));
    const dialog = await screen.findByRole("dialog", { name: "Discard dead letter #5?" });
    expect(within(dialog).getByRole("button", { name: "Discard" })).toBeDisabled();
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(calls.some((call) => call.method === "POST")).toBe(false);
  });
});
