import { json, stubApi } from "../test/http";
import * as sessions from "./session";

const PAIR = { access_token: "a2", refresh_token: "r2", token_type: "bearer", expires_in: 900, role: "operator" };

function save(expiresInMs: number) {
  const session: sessions.Session = {
    username: "olga", role: "operator", accessToken: "a1", refreshToken: "r1", expiresAt: Date.now() + expiresInMs,
  };
  sessionStorage.setItem("tds.session", JSON.stringify(session));
}

describe("session", () => {
  afterEach(() => vi.useRealTimers());

  it("refreshes a restored session about to expire, with the refresh token", async () => {
    const calls = stubApi({ "POST /api/v1/auth/refresh": () => PAIR });
    save(30_000); // under the one-minute margin
    const restored = await sessions.restore();
    expect(calls[0]?.body).toEqual({ refresh_token: "r1" });
    expect(restored?.accessToken).toBe("a2");
    expect(JSON.parse(sessionStorage.getItem("tds.session") ?? "{}").refreshToken).toBe("r2");
  });

  it("refreshes a minute before the access token expires, without a request failing first", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const calls = stubApi({ "POST /api/v1/auth/refresh": () => PAIR });
    save(15 * 60_000);
    await sessions.restore();
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(13 * 60_000);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60_000 + 10);
    expect(calls.map((call) => call.path)).toEqual(["/api/v1/auth/refresh"]);
    expect(sessions.currentSession()?.accessToken).toBe("a2");
  });

  it("ends the session when the refresh is refused", async () => {
    stubApi({ "POST /api/v1/auth/refresh": () => json({ error: "refresh token revoked: log in again", reasons: [] }, 401) });
    const ended: (string | undefined)[] = [];
    const unsubscribe = sessions.subscribe((session, reason) => {
      if (!session) ended.push(reason);
    });
    save(10_000);
    expect(await sessions.restore()).toBeNull();
    expect(sessionStorage.getItem("tds.session")).toBeNull();
    expect(ended).toEqual(["Your session ended. Log in again."]);
    unsubscribe();
  });
});
