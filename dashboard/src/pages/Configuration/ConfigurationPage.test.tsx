import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import type { Schemas } from "../../api/client";
import { json, stubApi } from "../../test/http";
import { renderApp } from "../../test/render";

const ENTRIES: Schemas["ConfigEntry"][] = [
  {
    key: "worker.max_attempts", version: 1, value: 8, description: "Attempts before an event is dead-lettered",
    updated_at: "2026-01-01T00:00:00Z", updated_by: "tds", note: null,
  },
  {
    key: "schedule.pull_cron", version: 3, value: "*/15 * * * *", description: "When the incremental pull runs",
    updated_at: "2026-01-01T00:00:00Z", updated_by: "admin", note: null,
  },
];

describe("configuration", () => {
  it("shows the API's 422 reasons next to the field, then saves a valid value", async () => {
    const calls = stubApi({
      "GET /api/v1/config": () => ENTRIES,
      "PUT /api/v1/config/:key": ({ body }) => {
        const value = (body as { value: unknown }).value;
        if (typeof value === "number" && value < 1) {
          return json(
            { error: "invalid value for worker.max_attempts", reasons: ["worker.max_attempts: Input should be greater than or equal to 1"] },
            422,
          );
        }
        return { ...ENTRIES[0], value, version: 2, changed: true, previous_version: 1, updated_by: "admin-user" };
      },
    });
    renderApp("/configuration", "admin");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Edit worker.max_attempts" }));
    const field = screen.getByRole("textbox", { name: "worker.max_attempts value" });
    await user.clear(field);
    await user.type(field, "0");
    await user.click(screen.getByRole("button", { name: "Save" }));

    expect(await screen.findByText("worker.max_attempts: Input should be greater than or equal to 1")).toBeInTheDocument();
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field).toHaveAccessibleDescription("worker.max_attempts: Input should be greater than or equal to 1");
    expect(calls.filter((call) => call.method === "PUT")[0]?.body).toEqual({ value: 0, note: null });

    await user.clear(field);
    await user.type(field, "5");
    await user.type(screen.getByLabelText(/Why/), "fewer retries");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Saved as version 2.")).toBeInTheDocument();
    expect(calls.filter((call) => call.method === "PUT")[1]?.body).toEqual({ value: 5, note: "fewer retries" });
    expect(calls.filter((call) => call.method === "PUT")[1]?.path).toBe("/api/v1/config/worker.max_attempts");
  });

  it("refuses a value that is not JSON before sending it; strings are sent as typed", async () => {
    const calls = stubApi({
      "GET /api/v1/config": () => ENTRIES,
      "PUT /api/v1/config/:key": ({ body }) => ({ ...ENTRIES[1], ...(body as object), version: 4, changed: true, previous_version: 3 }),
    });
    renderApp("/configuration", "admin");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Edit worker.max_attempts" }));
    const field = screen.getByRole("textbox", { name: "worker.max_attempts value" });
    await user.clear(field);
    await user.type(field, "eight");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Enter a number")).toBeInTheDocument();
    expect(calls.some((call) => call.method === "PUT")).toBe(false);
    await user.click(screen.getByRole("button", { name: "Cancel" }));

    await user.click(screen.getByRole("button", { name: "Edit schedule.pull_cron" }));
    const cron = screen.getByRole("textbox", { name: "schedule.pull_cron value" });
    await user.clear(cron);
    await user.type(cron, "*/5 * * * *");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Saved as version 4.")).toBeInTheDocument();
    expect(calls.find((call) => call.method === "PUT")?.body).toEqual({ value: "*/5 * * * *", note: null });
  });

  it("is read only below admin", async () => {
    stubApi({ "GET /api/v1/config": () => ENTRIES });
    renderApp("/configuration", "operator");
    const table = await screen.findByRole("table", { name: "Configuration" });
    expect(within(table).getByText("worker.max_attempts")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Edit/ })).not.toBeInTheDocument();
    expect(screen.getByText(/needs the admin role/)).toBeInTheDocument();
  });
});
