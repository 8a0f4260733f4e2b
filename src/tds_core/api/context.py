"""What the API's routes need, built by the composition root and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from tds_core.ingest.webhooks import WebhookIntake
from tds_core.queue.doorbell import Doorbell
from tds_core.settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    pool: Any
    intake: WebhookIntake
    doorbell: Doorbell
    head_revision: str | None


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.context
    return ctx
