/**
 * A fetch stub for component tests: requests are answered at the HTTP level by route handlers
 * ("GET /api/v1/dlq/:id"), so the real client, hooks and components all run.
 */
import { vi } from "vitest";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Headers;
}

type Handler = (call: Call & { params: Record<string, string> }) => Response | unknown | Promise<Response | unknown>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function matcher(pattern: string): (path: string) => Record<string, string> | null {
  const names: string[] = [];
  const regex = new RegExp(
    "^" +
      pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([a-z_]+)/gi, (_, name: string) => {
        names.push(name);
        return "([^/]+)";
      }) +
      "$",
  );
  return (path) => {
    const found = regex.exec(path);
    if (!found) return null;
    return Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(found[index + 1] ?? "")]));
  };
}

/** Install the stub; returns the calls made so far (for assertions). */
export function stubApi(routes: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  const table = Object.entries(routes).map(([key, handler]) => {
    const [method, pattern] = key.split(" ") as [string, string];
    return { method, match: matcher(pattern), handler };
  });
  vi.stubGlobal("fetch", async (input: Request | string, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === "GET" ? "" : await request.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const call: Call = { method: request.method, path: url.pathname, query: url.searchParams, body, headers: request.headers };
    calls.push(call);
    for (const route of table) {
      if (route.method !== request.method) continue;
      const params = route.match(url.pathname);
      if (!params) continue;
      const answer = await route.handler({ ...call, params });
      return answer instanceof Response ? answer : json(answer);
    }
    return json({ error: `no stub for ${request.method} ${url.pathname}`, reasons: [] }, 404);
  });
  return calls;
}
