"""Runtime configuration: operator-tunable values in ``tds_configuration``, validated.

Running processes reload on a ``tds_config`` NOTIFY and every ``refresh_seconds`` as a
fallback, so a change takes effect within seconds without a restart.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from tds_core.config.encryption import Keyring, unseal
from tds_core.db import configuration as configuration_db
from tds_core.db.connection import Executor, Pool, connected
from tds_core.domain.backoff import BackoffPolicy
from tds_core.domain.circuit_breaker import BreakerConfig
from tds_core.domain.conflicts import ConflictPolicy, Policy, policy_problems


class _Channel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    enabled: bool = True


class EmailChannel(_Channel):
    """SMTP. ``to`` is the fallback when the on-call member has no ``email``."""

    type: Literal["email"] = "email"
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[str] = []
    allow_cleartext_auth: bool = False
    """``security: none`` with a password sends it in clear: refused unless set (a local relay)."""

    @model_validator(mode="after")
    def _no_cleartext_password(self) -> EmailChannel:
        if self.security == "none" and self.password is not None and not self.allow_cleartext_auth:
            raise ValueError(
                f"channel {self.name!r}: security 'none' would send the SMTP password in clear; use "
                "'starttls' or 'tls', or set allow_cleartext_auth: true for a trusted local relay"
            )
        return self


class SlackChannel(_Channel):
    """A Slack incoming webhook; the URL itself is the secret."""

    type: Literal["slack"] = "slack"
    url: SecretStr


class TelegramChannel(_Channel):
    """Telegram Bot API ``sendMessage``; ``chat_id`` is the fallback when the member has none."""

    type: Literal["telegram"] = "telegram"
    bot_token: SecretStr
    chat_id: str | None = None
    api_base: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")


class WebhookChannel(_Channel):
    """A generic JSON POST; ``headers`` may carry credentials and are treated as secret."""

    type: Literal["webhook"] = "webhook"
    url: AnyHttpUrl
    headers: dict[str, SecretStr] = {}


Channel = Annotated[
    EmailChannel | SlackChannel | TelegramChannel | WebhookChannel, Field(discriminator="type")
]


class OnCallMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    email: str | None = None
    telegram_chat_id: str | None = None
    slack_handle: str | None = None


class EscalationLevel(BaseModel):
    """One level of the rotation: its members take turns (one per period); its channels are notified."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: list[OnCallMember] = []
    channels: list[str] = Field(min_length=1)


class OnCall(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rotation: Literal["daily", "weekly"] = "weekly"
    starts_at: datetime = datetime.fromisoformat("2026-01-05T09:00:00+00:00")
    levels: list[EscalationLevel] = []


class EntityConflictPolicy(BaseModel):
    """``conflicts.policies`` entry: what TDS does with an ERP row changed outside TDS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Literal["source_wins", "preserve_columns", "hold"] = "source_wins"
    columns: list[str] = []
    """preserve_columns only: the ERP-owned data columns TDS never overwrites."""


SECRET_FIELDS = frozenset({"password", "url", "bot_token", "headers"})


class RuntimeConfig(BaseModel):
    """Keys are the dotted names in ``tds_configuration`` with ``.`` replaced by ``__``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    worker__batch_size: int = Field(default=500, ge=1, le=5000)
    worker__max_attempts: int = Field(default=8, ge=1, le=100)
    worker__lease_seconds: float = Field(default=15.0, ge=1.0, le=3600.0)
    worker__poll_interval_seconds: float = Field(default=1.0, gt=0, le=60.0)
    worker__rescue_interval_seconds: float = Field(default=2.0, gt=0, le=300.0)
    retry__backoff_base_seconds: float = Field(default=2.0, ge=0, le=3600.0)
    retry__backoff_cap_seconds: float = Field(default=300.0, ge=0, le=86400.0)
    breaker__window_seconds: float = Field(default=60.0, gt=0)
    breaker__min_calls: int = Field(default=10, ge=1)
    breaker__failure_rate: float = Field(default=0.5, gt=0, le=1.0)
    breaker__open_seconds: float = Field(default=5.0, gt=0)
    schedule__retention_cron: str = "17 3 * * *"
    schedule__pull_cron: str = "*/15 * * * *"
    schedule__reconcile_cron: str = "0 2 * * *"
    schedule__timezone: str = "UTC"
    schedule__dlq_digest_cron: str = "0 8 * * 1"
    schedule__performance_report_cron: str = "0 8 1 * *"
    sync__quota_reserve: float = Field(default=0.2, ge=0, lt=1)
    """Share of the daily Zoho quota pulls leave for webhook hints and reconciliation."""
    auth__access_token_minutes: float = Field(default=15, gt=0, le=24 * 60)
    auth__refresh_token_hours: float = Field(default=12, gt=0, le=24 * 90)
    ratelimit__login_per_minute: int = Field(default=10, ge=1, le=10_000)
    ratelimit__webhooks_per_second: float = Field(default=5000, gt=0)
    alerts__evaluate_seconds: float = Field(default=5, ge=1, le=300)
    alerts__failure_rate: float = Field(default=0.05, gt=0, le=1)
    alerts__failure_window_seconds: float = Field(default=300, ge=10)
    alerts__failure_min_events: int = Field(default=20, ge=1)
    alerts__backlog: int = Field(default=1000, ge=1)
    alerts__sync_lag_minutes: float = Field(default=15, gt=0)
    alerts__dlq_growth: int = Field(default=10, ge=1)
    alerts__dlq_growth_window_seconds: float = Field(default=900, ge=10)
    alerts__dlq_max_age_hours: float = Field(default=24, gt=0)
    alerts__quota_remaining_fraction: float = Field(default=0.1, ge=0, le=1)
    alerts__heartbeat_missing_seconds: float = Field(default=60, ge=5)
    alerts__cpu_percent: float = Field(default=90, gt=0, le=100)
    alerts__memory_percent: float = Field(default=90, gt=0, le=100)
    alerts__disk_percent: float = Field(default=90, gt=0, le=100)
    alerts__db_connections_percent: float = Field(default=80, gt=0, le=100)
    alerts__conflicts_open: int = Field(default=1, ge=1)
    alerts__escalate_after_minutes: float = Field(default=15, gt=0)
    alerts__channels: list[Channel] = []
    alerts__oncall: OnCall = OnCall()
    metrics__rollup_seconds: float = Field(default=60, ge=5, le=3600)
    conflicts__policies: dict[str, EntityConflictPolicy] = {}
    """Per entity type; unnamed types use source_wins (tds_core.domain.conflicts)."""
    reports__channels: list[str] | None = None
    """Channels that receive the reports (weekly DLQ digest, monthly summary): None = every enabled one."""
    reports__dashboard_url: AnyHttpUrl | None = None
    reports__top_errors: int = Field(default=5, ge=1, le=50)

    @field_validator(
        "schedule__retention_cron",
        "schedule__pull_cron",
        "schedule__reconcile_cron",
        "schedule__dlq_digest_cron",
        "schedule__performance_report_cron",
    )
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @model_validator(mode="after")
    def _channels_known(self) -> RuntimeConfig:
        names = [channel.name for channel in self.alerts__channels]
        if len(names) != len(set(names)):
            raise ValueError("alerts.channels: channel names must be unique")
        for number, level in enumerate(self.alerts__oncall.levels):
            unknown = sorted(set(level.channels) - set(names))
            if unknown:
                raise ValueError(f"alerts.oncall.levels[{number}]: unknown channels {unknown}")
        unknown = sorted(set(self.reports__channels or []) - set(names))
        if unknown:
            raise ValueError(f"reports.channels: unknown channels {unknown}")
        return self

    @field_validator("conflicts__policies")
    @classmethod
    def _policies(cls, value: dict[str, EntityConflictPolicy]) -> dict[str, EntityConflictPolicy]:
        problems = [p for entity, e in value.items() for p in policy_problems(entity, e.policy, e.columns)]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def conflict_policy(self, entity: str) -> ConflictPolicy:
        """The conflict policy of one entity type (source_wins when none is configured)."""
        entry = self.conflicts__policies.get(entity)
        if entry is None:
            return ConflictPolicy()
        return ConflictPolicy(Policy(entry.policy), frozenset(entry.columns))

    @field_validator("schedule__timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"not an IANA time zone: {value!r} (e.g. Asia/Kolkata, Europe/Berlin, UTC)"
            ) from exc
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


def is_secret_key(key: str) -> bool:
    """A key whose whole value is a secret (its last part is a secret field name)."""
    return key.rsplit(".", 1)[-1] in SECRET_FIELDS


def opened(rows: list[Any], keyring: Keyring | None) -> list[dict[str, Any]]:
    """Configuration rows with their encrypted secrets decrypted (for use, never for display)."""
    return [
        {**row, "value": unseal(row["value"], keyring, SECRET_FIELDS, secret=is_secret_key(row["key"]))}
        for row in rows
    ]


async def load(connection: Executor, keyring: Keyring | None = None) -> RuntimeConfig:
    """The current configuration, its secrets decrypted with ``keyring`` (an encrypted secret
    without a keyring raises :class:`~tds_core.errors.SecretKeyError`)."""
    rows = await configuration_db.current(connection)
    return RuntimeConfig.from_rows(opened(rows, keyring))


class ConfigCache:
    """The current configuration for a process that reads it on request paths (the API):
    reloaded from the database when older than ``max_age`` seconds, so a change made through
    the admin API or ``tds config set`` reaches every API process within that time."""

    def __init__(self, max_age: float = 2.0, keyring: Keyring | None = None) -> None:
        self.max_age = max_age
        self.keyring = keyring
        self._config = RuntimeConfig()
        self._loaded_at = float("-inf")

    async def current(self, pool: Pool) -> RuntimeConfig:
        now = time.monotonic()
        if now - self._loaded_at >= self.max_age:
            async with connected(pool) as connection:
                self._config = await load(connection, self.keyring)
            self._loaded_at = now
        return self._config

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
