import { EmptyState } from "../../components/States";

export function PerformancePage() {
  return <EmptyState title="Not built yet">This page is not in the dashboard yet; the API serves it meanwhile (see /docs).</EmptyState>;
}
