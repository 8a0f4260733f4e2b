"""The one exception tree of TDS Core.

    TDSError
    ├── RetryableError            transient: retry with backoff, count towards the circuit breaker
    │   ├── DatabaseUnavailable   connection lost/refused, server shutting down, pool exhausted
    │   ├── TransientDatabaseError serialization failure, deadlock, lock timeout
    │   └── TargetError           the apply step failed for a reason that may pass (e.g. a trigger)
    └── PermanentError            retrying cannot help: dead-letter at once
        ├── ValidationError       a record does not satisfy its entity schema
        ├── UnknownEntityError    an entity slug TDS does not sync
        ├── DataError             the database refused the values themselves (22xxx, 23xxx)
        └── ConfigurationError    the process cannot run as configured: exit 2 at start-up
            └── SecretKeyError    TDS_SECRET_KEY is missing, invalid, or not the key the
                                  stored secrets were written with

    Refusal                       an operator's request that cannot be done as asked (API, CLI);
    │                             nothing was changed. The API maps each kind to HTTP once.
    ├── NotFound                  no such job, dead letter, key, user, alert, report: 404
    ├── WrongState                the target's state does not allow the action: 409
    └── InvalidRequest            a filter or argument that cannot be used: 422, with the reasons

Retry policy is an ``isinstance(exc, RetryableError)`` check. Foreign errors (asyncpg,
psycopg) are translated once, at the boundary in ``tds_core.db.errors``.
"""

from __future__ import annotations


class TDSError(Exception):
    """Base of every error TDS raises on purpose."""

    error_class = "unknown"


class RetryableError(TDSError):
    """A failure that may pass on its own; the event is retried with backoff."""

    error_class = "retryable"


class PermanentError(TDSError):
    """A failure that retrying cannot fix; the event goes to the dead letter queue."""

    error_class = "permanent"


class DatabaseUnavailable(RetryableError):
    """PostgreSQL cannot be reached or is shutting down."""


class DatabaseTimeout(DatabaseUnavailable):
    """PostgreSQL did not answer in time (a hung server): a statement that had reached it may
    still complete, so "nothing was stored" cannot be promised."""


class TransientDatabaseError(RetryableError):
    """Serialization failure, deadlock or lock timeout: the same statement may succeed again."""


class TargetError(RetryableError):
    """Applying to the ERP tables failed for a reason that is not plainly the data's fault."""


class ValidationError(PermanentError):
    """A record does not satisfy its entity schema; ``reasons`` names each field."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class UnknownEntityError(PermanentError):
    """An entity slug that TDS does not sync."""


class DataError(PermanentError):
    """PostgreSQL refused the values themselves (bad value, constraint violation)."""


class ConfigurationError(PermanentError):
    """The process cannot run as configured; the CLI prints the message and exits with 2."""


class SecretKeyError(ConfigurationError):
    """``TDS_SECRET_KEY`` is missing or invalid, or cannot decrypt the secrets in the database."""


class Refusal(TDSError):
    """An operator's request (API or CLI) that cannot be done as asked; nothing was changed."""


class NotFound(Refusal, LookupError):
    """No such job, dead letter, key, user, alert or report (the API answers 404)."""


class WrongState(Refusal):
    """The target is not in a state that allows the action (the API answers 409)."""


class InvalidRequest(Refusal, ValueError):
    """A filter or argument that cannot be used (the API answers 422 with the reasons)."""

    def __init__(self, reasons: list[str] | str) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))
