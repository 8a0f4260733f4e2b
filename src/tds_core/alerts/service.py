"""The alerting service as the composition root wires it: the engine (evaluate the rules,
queue notifications) and the delivery runner (send them), behind one object.

The scheduler calls :meth:`AlertService.run_once` every second: it evaluates when
``alerts.evaluate_seconds`` have passed since the last evaluation (read from
``tds_configuration`` each time, so a change applies without a restart) and then sends what
is due. Sending right after evaluating keeps "condition to notification" at about one
evaluation interval plus the channel's own latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tds_core.alerts.delivery import DeliveryConfig, DeliveryResult, DeliveryRunner
from tds_core.alerts.engine import AlertEngine, EvaluationResult
from tds_core.alerts.snapshot import HostProbe, probe_host
from tds_core.config.encryption import Keyring
from tds_core.config.runtime import load as load_config
from tds_core.db.connection import Pool


@dataclass
class AlertRun:
    evaluation: EvaluationResult | None
    delivery: DeliveryResult

    def __bool__(self) -> bool:
        return bool(self.evaluation) or bool(self.delivery)


class AlertService:
    def __init__(
        self,
        pool: Pool,
        *,
        daily_quota: int,
        organization_id: str | None,
        home: Path,
        host_probe: HostProbe | None = None,
        delivery: DeliveryConfig | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.pool = pool
        self.keyring = keyring  # decrypts the channels' secrets (TDS_SECRET_KEY)
        self.engine = AlertEngine(
            pool,
            daily_quota=daily_quota,
            organization_id=organization_id,
            host_probe=host_probe or probe_host(home),
        )
        self.delivery = DeliveryRunner(pool, delivery, keyring=keyring)
        self._evaluated_at = float("-inf")

    async def run_once(self) -> AlertRun:
        """One scheduler tick: evaluate if due, then deliver."""
        async with self.pool.acquire() as connection:
            config = await load_config(connection, self.keyring)
        evaluation = None
        if time.monotonic() - self._evaluated_at >= config.alerts__evaluate_seconds:
            evaluation = await self.engine.run_once(config=config)
            self._evaluated_at = time.monotonic()
        return AlertRun(evaluation, await self.delivery.run_once(config=config))

    async def aclose(self) -> None:
        await self.delivery.aclose()

    async def __aenter__(self) -> AlertService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
