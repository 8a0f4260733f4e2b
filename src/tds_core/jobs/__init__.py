"""Background jobs (``tds_jobs``): the runner (claim, heartbeat, takeover, cancel) and the
handlers it runs: source jobs (sync, reconcile), inbox replay and bulk dead-letter replay."""
