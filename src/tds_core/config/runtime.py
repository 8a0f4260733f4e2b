"""Runtime configuration: operator-tunable values in ``tds_configuration``, validated.

Running processes reload on a ``tds_config`` NOTIFY and every ``refresh_seconds`` as a
fallback, so a change takes effect within seconds without a restart.
"""

from __future__ import annotations

from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tds_core.db.queries import QUERIES
from tds_core.domain.backoff import BackoffPolicy
from tds_core.processor.circuit_breaker import BreakerConfig


class RuntimeConfig(BaseModel):
    """Keys are the dotted names in ``tds_configuration`` with ``.`` replaced by ``__``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    worker__batch_size: int = Field(default=100, ge=1, le=5000)
    worker__max_attempts: int = Field(default=8, ge=1, le=100)
    worker__lease_seconds: float = Field(default=15.0, ge=1.0, le=3600.0)
    worker__poll_interval_seconds: float = Field(default=1.0, gt=0, le=60.0)
    worker__rescue_interval_seconds: float = Field(default=2.0, gt=0, le=300.0)
    retry__backoff_base_seconds: float = Field(default=2.0, ge=0, le=3600.0)
    retry__backoff_cap_seconds: float = Field(default=300.0, ge=0, le=86400.0)
    breaker__window_seconds: float = Field(default=60.0, gt=0)
    breaker__min_calls: int = Field(default=10, ge=1)
    breaker__failure_rate: float = Field(default=0.5, gt=0, le=1.0)
    breaker__open_seconds: float = Field(default=15.0, gt=0)
    schedule__retention_cron: str = "17 3 * * *"
    schedule__pull_cron: str = "*/15 * * * *"
    schedule__reconcile_cron: str = "30 2 * * *"

    @field_validator("schedule__retention_cron", "schedule__pull_cron", "schedule__reconcile_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @classmethod
    def from_rows(cls, rows: list[Any]) -> RuntimeConfig:
        values = {row["key"].replace(".", "__"): row["value"] for row in rows}
        return cls.model_validate(values)

    @property
    def backoff(self) -> BackoffPolicy:
        return BackoffPolicy(self.retry__backoff_base_seconds, self.retry__backoff_cap_seconds)

    @property
    def breaker(self) -> BreakerConfig:
        return BreakerConfig(
            window_seconds=self.breaker__window_seconds,
            min_calls=self.breaker__min_calls,
            failure_rate=self.breaker__failure_rate,
            open_seconds=self.breaker__open_seconds,
        )


async def load(connection: Any) -> RuntimeConfig:
    return RuntimeConfig.from_rows(await connection.fetch(QUERIES.configuration_current))
