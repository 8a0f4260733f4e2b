"""The scheduler: one elected process runs the periodic services (retention now; incremental
pulls, reconciliation and alert rules as they arrive). Any number may run; an advisory lock
elects the leader and the others stand by."""
