"""Ingest: the webhook's way in. Authenticate, parse, stage, and store durably before answering."""
