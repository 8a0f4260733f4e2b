"""``GET /metrics``: Prometheus text format for the whole cluster (:mod:`tds_core.observability.metrics`).

Unauthenticated, as Prometheus expects; the reverse proxy should let only the Prometheus
server reach it (nginx: ``location = /metrics { allow 10.0.0.5; deny all; }``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from tds_core.api.context import Ctx
from tds_core.api.schemas import ErrorBody
from tds_core.observability import metrics

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics of the whole cluster",
    description=(
        "Counters (webhooks, events received, sync outcomes, dead letters, Zoho calls and 429s), "
        "histograms (end-to-end latency, apply duration, enqueue-to-claim wait) and gauges (queue "
        "depth, lag, dead letters, workers and breakers, pull lag, reconciliation drift, Zoho quota), "
        "read from PostgreSQL: every API process gives the same answer. No token; restrict it at the "
        "reverse proxy."
    ),
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Text format 0.0.4"},
        503: {"model": ErrorBody, "description": "Database unavailable; retry after Retry-After"},
    },
)
async def prometheus_metrics(ctx: Ctx) -> Response:
    families = await metrics.collect(ctx.pool, daily_quotas=ctx.daily_quotas)
    return Response(metrics.exposition(families), media_type=metrics.CONTENT_TYPE)
