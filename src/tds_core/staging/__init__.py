"""Staging: the one way into the queue for webhooks, pulls, reconciliation heals and replays."""
