import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { setTokenSource } from "../api/client";
import { allows, type Role } from "./roles";
import * as sessions from "./session";

interface AuthState {
  session: sessions.Session | null;
  /** True until a saved session has been restored (or found missing). */
  restoring: boolean;
  /** Why the last session ended, shown on the login page. */
  notice: string | null;
  login: (username: string, password: string) => Promise<void>;
  logout: () => void;
  can: (least: Role) => boolean;
}

const AuthContext = createContext<AuthState | null>(null);

setTokenSource({
  accessToken: () => sessions.currentSession()?.accessToken ?? null,
  onUnauthorized: () => sessions.logout("Your session ended. Log in again."),
});

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [session, setSession] = useState<sessions.Session | null>(sessions.currentSession());
  const [restoring, setRestoring] = useState(sessions.hasSavedSession);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const unsubscribe = sessions.subscribe((next, reason) => {
      setSession(next);
      if (!next) {
        setNotice(reason ?? null);
        queryClient.clear();
      }
    });
    void sessions.restore().finally(() => setRestoring(false));
    return () => {
      unsubscribe();
    };
  }, [queryClient]);

  const login = useCallback(async (username: string, password: string) => {
    setNotice(null);
    await sessions.login(username, password);
  }, []);
  const logout = useCallback(() => sessions.logout("You logged out."), []);
  const can = useCallback((least: Role) => allows(session?.role, least), [session]);

  const value = useMemo(
    () => ({ session, restoring, notice, login, logout, can }),
    [session, restoring, notice, login, logout, can],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside <AuthProvider>");
  return state;
}

/** Renders its children only when the logged-in role may do what needs `least`. */
export function RequireRole({ least, children }: { least: Role; children: ReactNode }) {
  const { can } = useAuth();
  return can(least) ? <>{children}</> : null;
}
