/**
 * The login session outside React: tokens in memory, mirrored to sessionStorage (so a reload
 * keeps you logged in but closing the tab does not), refreshed a minute before they expire.
 */
import { api, unwrap, type Schemas } from "../api/client";

export interface Session {
  username: string;
  role: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds when the access token expires. */
  expiresAt: number;
}

const STORAGE_KEY = "tds.session";
const REFRESH_MARGIN_MS = 60_000;

type Listener = (session: Session | null, reason?: string) => void;

let current: Session | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<Listener>();

function publish(session: Session | null, reason?: string): void {
  current = session;
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
  schedule();
  listeners.forEach((listener) => listener(session, reason));
}

function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (!current) return;
  const wait = Math.max(0, current.expiresAt - Date.now() - REFRESH_MARGIN_MS);
  timer = setTimeout(() => void refresh(), wait);
}

function fromTokens(pair: Schemas["TokenResponse"], username: string, role: string): Session {
  return {
    username,
    role,
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: Date.now() + pair.expires_in * 1000,
  };
}

async function whoAmI(accessToken: string): Promise<Schemas["Me"]> {
  return unwrap(api.GET("/api/v1/auth/me", { headers: { Authorization: `Bearer ${accessToken}` } }));
}

/** Whether a reload left a session to restore (so the app waits for it instead of the login form). */
export function hasSavedSession(): boolean {
  return sessionStorage.getItem(STORAGE_KEY) !== null;
}

export function currentSession(): Session | null {
  return current;
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** POST /api/v1/auth/token as form data (OAuth2 password flow), then ask who we are. */
export async function login(username: string, password: string): Promise<Session> {
  const pair = await unwrap(
    api.POST("/api/v1/auth/token", {
      body: { username, password, scope: "" },
      bodySerializer: (body) => new URLSearchParams({ username: body.username, password: body.password }),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
  );
  const me = await whoAmI(pair.access_token);
  const session = fromTokens(pair, me.username, me.role);
  publish(session);
  return session;
}

/** Trade the refresh token for a new pair; a refused refresh ends the session. */
export async function refresh(): Promise<Session | null> {
  const session = current;
  if (!session) return null;
  try {
    const pair = await unwrap(
      api.POST("/api/v1/auth/refresh", { body: { refresh_token: session.refreshToken } }),
    );
    const next = fromTokens(pair, session.username, pair.role);
    publish(next);
    return next;
  } catch {
    publish(null, "Your session ended. Log in again.");
    return null;
  }
}

export function logout(reason?: string): void {
  publish(null, reason);
}

/** Restore a session kept in sessionStorage (a reload); refresh it first if it has expired. */
export async function restore(): Promise<Session | null> {
  const raw = sessionStorage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const saved = JSON.parse(raw) as Session;
    if (typeof saved.accessToken !== "string" || typeof saved.refreshToken !== "string") throw new Error();
    current = saved;
    if (saved.expiresAt - Date.now() < REFRESH_MARGIN_MS) return await refresh();
    publish(saved);
    return saved;
  } catch {
    publish(null);
    return null;
  }
}
