"""The delivery runner: sends queued alert notifications (and the periodic reports of
:mod:`.digests`), retries failures with backoff, and records every result on its
``tds_alert_deliveries`` row.

A claim leases rows by pushing ``next_attempt_at`` out by ``lease_seconds`` (no transaction
is held while sending), so a runner that dies mid-send leaves its rows to be retried after the
lease; recording a result is guarded by the attempt number claimed, so a late runner cannot
overwrite a newer attempt. Delivery is therefore at least once: a webhook receiver can
de-duplicate on the ``X-TDS-Delivery`` header.

For ``opened``/``reopened`` notifications the runner reports the time from the condition's
start (or the alert's first sighting) to the moment the channel accepted it: the alerting
latency the service promises to keep well under five minutes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import structlog

from tds_core.alerts import notifiers, oncall
from tds_core.alerts.messages import Message, Notice, ReportNotice
from tds_core.alerts.states import DeliveryStatus
from tds_core.config.encryption import Keyring
from tds_core.config.runtime import RuntimeConfig
from tds_core.config.runtime import load as load_config
from tds_core.db import alerts as stored
from tds_core.db.connection import Pool, connected
from tds_core.domain.backoff import BackoffPolicy

log = structlog.get_logger("tds.alerts")


#: Up to 5 s after the first failure, doubling to at most 10 min (with full jitter).
DELIVERY_BACKOFF = BackoffPolicy(base_seconds=5.0, cap_seconds=600.0)


@dataclass(frozen=True)
class DeliveryConfig:
    batch: int = 50
    max_attempts: int = 8
    backoff: BackoffPolicy = DELIVERY_BACKOFF
    lease_seconds: float = 120.0
    timeout_seconds: float = 10.0


@dataclass
class DeliveryResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    #: condition-to-notification seconds of the opened/reopened notifications sent
    notify_seconds: list[float] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    attempts: int
    status: DeliveryStatus
    error: str | None = None
    retry_seconds: float = 0.0


class DeliveryRunner:
    def __init__(
        self,
        pool: Pool,
        config: DeliveryConfig | None = None,
        http: httpx.AsyncClient | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.pool = pool
        self.keyring = keyring  # decrypts the channels' secrets when it loads the configuration
        self.config = config or DeliveryConfig()
        self._http = http
        self._owns_http = http is None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def run_once(
        self,
        now: datetime | None = None,
        config: RuntimeConfig | None = None,
        *,
        report_id: int | None = None,
    ) -> DeliveryResult:
        """Send every due delivery (one batch) at ``now`` (the database's clock when None);
        ``report_id`` sends only that report's (``tds reports ... --send``)."""
        async with connected(self.pool) as connection:
            if config is None:
                config = await load_config(connection, self.keyring)
            claimed = await stored.deliveries_claim(
                connection,
                now=now,
                limit=self.config.batch,
                lease_seconds=self.config.lease_seconds,
                report_id=report_id,
            )
        if not claimed:
            return DeliveryResult()
        outcomes = await asyncio.gather(*(self._deliver(row, config) for row in claimed))
        async with connected(self.pool) as connection:
            recorded = await stored.deliveries_record(
                connection,
                now=now,
                results=[
                    stored.DeliveryResult(
                        id=o.delivery_id,
                        attempts=o.attempts,
                        status=o.status.value,
                        error=o.error,
                        retry_seconds=o.retry_seconds,
                    )
                    for o in outcomes
                ],
            )
        result = DeliveryResult()
        for row in recorded:
            if row["status"] == DeliveryStatus.SENT:
                result.sent += 1
                if row["reason"] in ("opened", "reopened") and row["notify_seconds"] is not None:
                    result.notify_seconds.append(float(row["notify_seconds"]))
            elif row["status"] == DeliveryStatus.PENDING:
                result.retrying += 1
            else:
                result.failed += 1
        if result.notify_seconds:
            log.info("alert notified", condition_to_notification_seconds=max(result.notify_seconds))
        return result

    async def _deliver(self, row: stored.DeliveryClaimed, config: RuntimeConfig) -> Outcome:
        channels = {c.name: c for c in config.alerts__channels}
        channel = channels.get(row["channel"])
        attempts = int(row["attempts"])
        if channel is None or not channel.enabled:
            why = "is no longer configured" if channel is None else "is disabled"
            return Outcome(row["id"], attempts, DeliveryStatus.FAILED, f"channel {row['channel']} {why}")
        notice: Message
        if row["report_id"] is not None:
            notice = ReportNotice.from_row(row)
            context = {"delivery_id": row["id"], "report_id": row["report_id"], "channel": channel.name}
        else:
            notice = Notice.from_row(row, oncall.find_member(config.alerts__oncall, row["recipient"]))
            context = {"delivery_id": row["id"], "alert_id": row["alert_id"], "channel": channel.name}
        try:
            receipt = await notifiers.send(channel, notice, self.http, self.config.timeout_seconds)
        except notifiers.NotifyError as exc:
            error = str(exc)[:1000]
            if exc.retryable and attempts < self.config.max_attempts:
                delay = max(self.config.backoff.delay(attempts), exc.retry_after or 0.0)
                log.warning(
                    "alert delivery failed; will retry", error=error, retry_in=round(delay, 1), **context
                )
                return Outcome(row["id"], attempts, DeliveryStatus.PENDING, error, delay)
            log.warning("alert delivery failed for good", error=error, attempts=attempts, **context)
            return Outcome(row["id"], attempts, DeliveryStatus.FAILED, error)
        except Exception as exc:  # a bug in a sender must not strand the batch: record and retry
            error = f"{type(exc).__name__}: {notifiers.scrub(str(exc), notifiers.secrets_of(channel))}"[:1000]
            log.warning("alert delivery crashed", error=error, **context)  # no traceback: it may hold secrets
            retry = attempts < self.config.max_attempts
            status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
            return Outcome(row["id"], attempts, status, error, self.config.backoff.delay(attempts))
        log.info("alert delivery sent", receipt=receipt, reason=row["reason"], **context)
        return Outcome(row["id"], attempts, DeliveryStatus.SENT)
