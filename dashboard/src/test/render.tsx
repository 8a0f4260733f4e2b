import { QueryClient } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";

import { AppRoutes, Providers } from "../App";
import type { Session } from "../auth/session";

/** Log in as `role` (a saved session, as after a reload) and render the app at `path`. */
export function renderApp(path: string, role: "viewer" | "operator" | "admin" | null = "admin") {
  if (role) {
    const session: Session = {
      username: `${role}-user`,
      role,
      accessToken: `token-${role}`,
      refreshToken: `refresh-${role}`,
      expiresAt: Date.now() + 15 * 60_000,
    };
    sessionStorage.setItem("tds.session", JSON.stringify(session));
  }
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false, refetchInterval: false, gcTime: 0 }, mutations: { retry: false } },
  });
  return render(
    <Providers client={client}>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </Providers>,
  );
}
