"""Admin API: alerts — list, show (with deliveries), acknowledge, resolve, silence; silences;
who is on call; the rules with their current thresholds.

Viewers read; operators act, and every action is recorded in ``tds_operator_actions`` in the
same transaction (:mod:`tds_core.alerts.commands`, shared with ``tds alerts``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from tds_core.alerts import commands, oncall
from tds_core.alerts.rules import RULES
from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import Ctx, Db
from tds_core.api.inputs import RequestBody

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id.")]
SilenceId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Silence id.")]
#: printable text without NUL (PostgreSQL text cannot hold it)
TEXT = r"^[^\x00]*$"
StatusName = Literal["open", "acknowledged", "silenced", "resolved"]
#: the rule names (a test keeps this in step with tds_core.alerts.rules.RULES)
RuleName = Literal[
    "failure_rate",
    "backlog",
    "sync_lag",
    "dlq_growth",
    "dlq_age",
    "conflicts_open",
    "circuit_open",
    "zoho_quota",
    "reconcile_drift",
    "worker_heartbeat",
    "host_cpu",
    "host_memory",
    "host_disk",
    "db_connections",
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such alert"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON"},
    404: {"description": "No such alert"},
    409: {"description": "The alert is not in a state that allows this"},
}


class AlertOut(BaseModel):
    id: int
    rule: str
    fingerprint: str
    severity: Literal["info", "warning", "critical"]
    status: StatusName
    title: str
    message: str
    details: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    silenced_until: datetime | None
    silenced_by: str | None
    notified_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    note: str | None


class DeliveryOut(BaseModel):
    id: int
    reason: Literal["opened", "reopened", "escalated", "resolved"]
    level: int
    channel: str
    channel_type: Literal["email", "slack", "telegram", "webhook"]
    recipient: str | None
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    notify_seconds: float | None = Field(
        description="Time from the condition's start (or the alert's first sighting) to this notification."
    )


class AlertDetail(AlertOut):
    deliveries: list[DeliveryOut]


class ActionIn(RequestBody):
    model_config = ConfigDict(extra="forbid", strict=True)

    note: str | None = Field(default=None, max_length=2000, pattern=TEXT)


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _time_text(value: Any) -> Any:
    """A time must come as RFC 3339 text, not as a number of seconds."""
    if value is not None and not isinstance(value, str):
        raise ValueError("a date-time string (RFC 3339) is required")
    return value


#: RFC 3339 as Python can hold it: years 1000-9999, no leap second, offsets under 24 h
RFC3339 = (
    r"^[1-9]\d{3}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)


class SilenceAlertIn(RequestBody):
    """Bodies are strict (no "5" for 5, no number for a time) so what the schema refuses is refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    minutes: Annotated[int, BeforeValidator(_whole_number)] = Field(ge=1, le=commands.MAX_SILENCE_MINUTES)
    reason: str = Field(min_length=1, max_length=2000, pattern=TEXT)


class SilenceIn(SilenceAlertIn):
    """A rule, a fingerprint, or both (the schema says so, for clients and fuzzers alike)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["rule"], "properties": {"rule": {"type": "string"}}},
                {"required": ["fingerprint"], "properties": {"fingerprint": {"type": "string"}}},
            ]
        },
    )

    rule: RuleName | None = None
    fingerprint: str | None = Field(default=None, min_length=1, max_length=500, pattern=TEXT)
    starts_at: Annotated[AwareDatetime | None, BeforeValidator(_time_text)] = Field(
        default=None,
        strict=False,  # FastAPI hands over the parsed JSON: the time is still a string here
        description="Default: now; later schedules it.",
        json_schema_extra={"pattern": RFC3339},
    )


class SilenceOut(BaseModel):
    id: int
    rule: str | None
    fingerprint: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


class MemberOut(BaseModel):
    name: str
    email: str | None
    telegram_chat_id: str | None
    slack_handle: str | None


class ShiftOut(BaseModel):
    level: int
    member: MemberOut | None
    channels: list[str]
    starts_at: datetime
    ends_at: datetime


class OnCallOut(BaseModel):
    at: datetime
    rotation: Literal["daily", "weekly"]
    escalate_after_minutes: float
    levels: list[ShiftOut]


class RuleOut(BaseModel):
    rule: str
    severity: Literal["info", "warning", "critical"]
    description: str
    thresholds: dict[str, float]


# ---------------------------------------------------------------------------- static paths first
@router.get("/rules", response_model=list[RuleOut], summary="The rules and their current thresholds")
async def list_rules(ctx: Ctx, principal: Viewer) -> list[RuleOut]:
    config = await ctx.config.current(ctx.pool)
    return [
        RuleOut(
            rule=rule.name,
            severity=rule.severity.value,
            description=rule.description,
            thresholds={k: float(v) for k, v in rule.thresholds(config).items()},
        )
        for rule in RULES
    ]


@router.get("/oncall", response_model=OnCallOut, summary="Who is on call now, per escalation level")
async def on_call(ctx: Ctx, principal: Viewer) -> OnCallOut:
    config = await ctx.config.current(ctx.pool)
    now = datetime.now(UTC)
    rotation = config.alerts__oncall
    return OnCallOut(
        at=now,
        rotation=rotation.rotation,
        escalate_after_minutes=config.alerts__escalate_after_minutes,
        levels=[
            ShiftOut(
                level=s.level,
                member=MemberOut.model_validate(s.member.model_dump()) if s.member else None,
                channels=list(s.channels),
                starts_at=s.starts_at,
                ends_at=s.ends_at,
            )
            for s in oncall.shifts(rotation, now)
        ],
    )


@router.get("/silences", response_model=list[SilenceOut], summary="Silences (those not over yet by default)")
async def list_silences(
    principal: Viewer,
    db: Db,
    include_expired: Annotated[bool, Query(description="Also silences that are over.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SilenceOut]:
    rows = await commands.list_silences(db, include_expired=include_expired, limit=limit)
    return [SilenceOut.model_validate(r) for r in rows]


@router.post(
    "/silences",
    response_model=SilenceOut,
    status_code=201,
    summary="Silence a rule and/or a fingerprint",
    responses={400: {"description": "The body is not JSON"}},
)
async def create_silence(body: SilenceIn, principal: Operator, db: Db) -> SilenceOut:
    row = await commands.create_silence(
        db,
        principal.actor,
        rule=body.rule,
        fingerprint=body.fingerprint,
        minutes=body.minutes,
        reason=body.reason,
        starts_at=body.starts_at,
    )
    return SilenceOut.model_validate(row)


@router.delete(
    "/silences/{silence_id}",
    response_model=SilenceOut,
    summary="End a silence now",
    responses={404: {"description": "No such silence"}, 409: {"description": "The silence is over"}},
)
async def end_silence(silence_id: SilenceId, principal: Operator, db: Db) -> SilenceOut:
    row = await commands.end_silence(db, silence_id, principal.actor)
    return SilenceOut.model_validate(row)


# ---------------------------------------------------------------------------- alerts
@router.get("", response_model=list[AlertOut], summary="Alerts, newest first")
async def list_alerts(
    principal: Viewer,
    db: Db,
    status: Annotated[StatusName | None, Query(description="Only alerts in this state.")] = None,
    rule: Annotated[RuleName | None, Query(description="Only alerts of this rule.")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Page: ids below this.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:
    rows = await commands.list_alerts(db, status=status, rule=rule, before=before, limit=limit)
    return [AlertOut.model_validate(r) for r in rows]


@router.get(
    "/{alert_id}", response_model=AlertDetail, summary="One alert with its deliveries", responses=NOT_FOUND
)
async def show_alert(alert_id: AlertId, principal: Viewer, db: Db) -> AlertDetail:
    return AlertDetail.model_validate(await commands.show(db, alert_id))


@router.post(
    "/{alert_id}/ack", response_model=AlertDetail, summary="Acknowledge: escalation stops", responses=CONFLICT
)
async def acknowledge(
    alert_id: AlertId, principal: Operator, db: Db, body: ActionIn | None = None
) -> AlertDetail:
    row = await commands.acknowledge(db, alert_id, principal.actor, body.note if body else None)
    return AlertDetail.model_validate(row)


@router.post(
    "/{alert_id}/resolve", response_model=AlertDetail, summary="Resolve a live alert", responses=CONFLICT
)
async def resolve(
    alert_id: AlertId, principal: Operator, db: Db, body: ActionIn | None = None
) -> AlertDetail:
    note = body.note if body else None
    row = await commands.resolve(db, alert_id, principal.actor, note)
    return AlertDetail.model_validate(row)


@router.post(
    "/{alert_id}/silence",
    response_model=AlertDetail,
    summary="Silence this alert's fingerprint for a while",
    responses=CONFLICT,
)
async def silence(alert_id: AlertId, body: SilenceAlertIn, principal: Operator, db: Db) -> AlertDetail:
    row = await commands.silence_alert(
        db, alert_id, principal.actor, minutes=body.minutes, reason=body.reason
    )
    return AlertDetail.model_validate(row)
