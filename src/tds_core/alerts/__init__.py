"""Alerting: rules over the service's numbers, alerts with fingerprints, on-call escalation and
notifications by email, Slack, Telegram and webhook."""
