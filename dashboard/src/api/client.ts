/**
 * The typed HTTP client: openapi-fetch over the generated schema (never hand-written types).
 *
 * Every request carries the current access token; a 401 on an authenticated call ends the
 * session (the auth layer refreshes tokens before they expire, so a 401 means revoked).
 */
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** The API's error body: `{"error": "...", "reasons": [...]}`, with the HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly reasons: string[];

  constructor(status: number, message: string, reasons: string[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reasons = reasons;
  }
}

interface TokenSource {
  accessToken(): string | null;
  onUnauthorized(): void;
}

let tokens: TokenSource = { accessToken: () => null, onUnauthorized: () => undefined };

/** The auth layer registers itself here so the client never imports React state. */
export function setTokenSource(source: TokenSource): void {
  tokens = source;
}

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const token = tokens.accessToken();
    if (token && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !new URL(request.url).pathname.startsWith("/api/v1/auth/")) {
      tokens.onUnauthorized();
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://localhost" : window.location.origin,
  // Looked up per call so tests can stub fetch after the client is created.
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(authMiddleware);

/** Turn an error body (whatever its shape) into an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const reasons = Array.isArray(record.reasons) ? record.reasons.map(String) : [];
    if (typeof record.error === "string") return new ApiError(status, record.error, reasons);
    if (Array.isArray(record.detail)) {
      const details = record.detail.map((item: unknown) =>
        item && typeof item === "object" && "msg" in item ? String((item as { msg: unknown }).msg) : String(item),
      );
      return new ApiError(status, "invalid request", details);
    }
  }
  return new ApiError(status, status === 0 ? "the API cannot be reached" : `request failed (HTTP ${status})`);
}

/** Unwrap an openapi-fetch result: the data, or throw an ApiError naming the problem. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (exc) {
    throw new ApiError(0, "the API cannot be reached", [String(exc)]);
  }
  if (!result.response.ok || result.data === undefined) {
    throw toApiError(result.response.status, result.error);
  }
  return result.data;
}
