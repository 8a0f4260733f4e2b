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
