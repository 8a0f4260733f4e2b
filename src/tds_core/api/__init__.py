"""HTTP API (FastAPI): webhooks, health and readiness; admin routes come with the operations plane."""
