"""Logs (and, with the operations plane, metrics)."""
