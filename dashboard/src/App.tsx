import { CssBaseline, ThemeProvider, createTheme } from "@mui/material";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";

import { ApiError } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthProvider";
import type { Role } from "./auth/roles";
import { Layout } from "./components/Layout";
import { EmptyState, Loading } from "./components/States";
import { AccessPage } from "./pages/Access/AccessPage";
import { AlertsPage } from "./pages/Alerts/AlertsPage";
import { ConfigurationPage } from "./pages/Configuration/ConfigurationPage";
import { ConflictDetailPage } from "./pages/Conflicts/ConflictDetailPage";
import { ConflictsPage } from "./pages/Conflicts/ConflictsPage";
import { DeadLetterDetailPage } from "./pages/DeadLetters/DeadLetterDetailPage";
import { DeadLettersPage } from "./pages/DeadLetters/DeadLettersPage";
import { EntitiesPage } from "./pages/Entities/EntitiesPage";
import { LoginPage } from "./pages/Login/LoginPage";
import { OverviewPage } from "./pages/Overview/OverviewPage";
import { PerformancePage } from "./pages/Performance/PerformancePage";
import { QueuePage } from "./pages/Queue/QueuePage";
import { SyncPage } from "./pages/Sync/SyncPage";

export const theme = createTheme({
  palette: { primary: { main: "#1565c0" }, background: { default: "#f7f9fc" } },
  components: { MuiButtonBase: { defaultProps: { disableRipple: false } } },
});

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A 4xx will not get better by asking again; network errors and 5xx retry twice.
        retry: (failures, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
        refetchOnWindowFocus: true,
        staleTime: 1_000,
      },
    },
  });
}

function Guard({ least, children }: { least: Role; children: ReactNode }) {
  const { can } = useAuth();
  if (!can(least)) {
    return <EmptyState title="Not available to your role">This page needs the {least} role.</EmptyState>;
  }
  return <>{children}</>;
}

export function AppRoutes() {
  const { session, restoring } = useAuth();
  if (restoring && !session) return <Loading label="Restoring your session…" />;
  if (!session) return <LoginPage />;
  return (
    <Layout>
      <Routes>
        <Route path="/" element={<OverviewPage />} />
        <Route path="/queue" element={<QueuePage />} />
        <Route path="/sync" element={<SyncPage />} />
        <Route path="/dead-letters" element={<DeadLettersPage />} />
        <Route path="/dead-letters/:letterId" element={<DeadLetterDetailPage />} />
        <Route path="/conflicts" element={<ConflictsPage />} />
        <Route path="/conflicts/:conflictId" element={<ConflictDetailPage />} />
        <Route path="/alerts" element={<AlertsPage />} />
        <Route path="/entities" element={<EntitiesPage />} />
        <Route path="/entities/:entity/:zohoId" element={<EntitiesPage />} />
        <Route path="/performance" element={<PerformancePage />} />
        <Route path="/configuration" element={<ConfigurationPage />} />
        <Route
          path="/access"
          element={
            <Guard least="admin">
              <AccessPage />
            </Guard>
          }
        />
        <Route path="/login" element={<Navigate to="/" replace />} />
        <Route path="*" element={<EmptyState title="No such page">Pick a page from the menu.</EmptyState>} />
      </Routes>
    </Layout>
  );
}

export function Providers({ client, children }: { client: QueryClient; children: ReactNode }) {
  return (
    <QueryClientProvider client={client}>
      <ThemeProvider theme={theme}>
        <CssBaseline />
        <AuthProvider>{children}</AuthProvider>
      </ThemeProvider>
    </QueryClientProvider>
  );
}

export function App() {
  return (
    <Providers client={makeQueryClient()}>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </Providers>
  );
}
