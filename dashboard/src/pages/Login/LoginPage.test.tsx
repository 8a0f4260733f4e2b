import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { json, stubApi } from "../../test/http";
import { renderApp } from "../../test/render";
import { stats } from "../../test/samples";

const TOKENS = { access_token: "a1", refresh_token: "r1", token_type: "bearer", expires_in: 900, role: "operator" };

describe("login", () => {
  it("posts the form as OAuth2 form data, then shows the dashboard for the user's role", async () => {
    const calls = stubApi({
      "POST /api/v1/auth/token": () => TOKENS,
      "GET /api/v1/auth/me": () => ({ username: "olga", role: "operator" }),
      "GET /api/v1/stats": () => stats(),
      "GET /api/v1/alerts": () => [],
      "GET /api/v1/stats/history": () => ({
        name: "events_applied", kind: "count", aggregate: "sum", unit: "events", entity: null,
        since: "2026-01-01T00:00:00Z", until: "2026-01-01T01:00:00Z", step_seconds: 60, points: [],
      }),
    });
    renderApp("/", null);
    const user = userEvent.setup();
    const submit = screen.getByRole("button", { name: "Log in" });
    expect(submit).toBeDisabled();
    await user.type(screen.getByLabelText(/Username/), "olga");
    await user.type(screen.getByLabelText(/Password/), "s3cret pass");
    await user.click(submit);

    expect(await screen.findByRole("heading", { name: "Overview" })).toBeInTheDocument();
    const login = calls.find((call) => call.path === "/api/v1/auth/token");
    expect(login?.headers.get("Content-Type")).toContain("application/x-www-form-urlencoded");
    expect(new URLSearchParams(String(login?.body)).get("password")).toBe("s3cret pass");
    const me = calls.find((call) => call.path === "/api/v1/auth/me");
    expect(me?.headers.get("Authorization")).toBe("Bearer a1");
    expect(screen.getByText("olga")).toBeInTheDocument();
    expect(JSON.parse(sessionStorage.getItem("tds.session") ?? "{}").role).toBe("operator");
    // An operator sees no admin page.
    expect(screen.queryByRole("link", { name: "Access" })).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Dead letters" })).toBeInTheDocument();
  });

  it("says so when the password is wrong and stays on the form", async () => {
    stubApi({
      "POST /api/v1/auth/token": () => json({ error: "wrong username or password", reasons: [] }, 401),
    });
    renderApp("/", null);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText(/Username/), "olga");
    await user.type(screen.getByLabelText(/Password/), "nope");
    await user.keyboard("{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    expect(screen.getByRole("button", { name: "Log in" })).toBeEnabled();
  });

  it("logs out: back to the form, the session forgotten", async () => {
    stubApi({
      "GET /api/v1/stats": () => stats(),
      "GET /api/v1/alerts": () => [],
      "GET /api/v1/stats/history": () => json({ error: "x", reasons: [] }, 500),
    });
    renderApp("/", "viewer");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Log out" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Log in" })).toBeInTheDocument());
    expect(sessionStorage.getItem("tds.session")).toBeNull();
    expect(screen.getByText("You logged out.")).toBeInTheDocument();
  });
});
