"""What a notification says: one :class:`Notice` per alert delivery, rendered as a subject and
plain text (email, Slack, Telegram) or as a JSON document (generic webhook); one
:class:`ReportNotice` per report delivery (a plain-text body for email, a short Markdown one for
chat). The senders take either, as a :class:`Message`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tds_core.config.runtime import OnCallMember


class Message(Protocol):
    """What a sender needs of a notification."""

    @property
    def delivery_id(self) -> int: ...

    @property
    def recipient(self) -> OnCallMember | None: ...

    @property
    def subject(self) -> str: ...

    @property
    def text(self) -> str:
        """The full plain text (email)."""

    @property
    def chat_text(self) -> str:
        """What chat channels show (Slack, Telegram)."""

    @property
    def mail_headers(self) -> dict[str, str]:
        """Extra ``X-TDS-*`` headers of the email."""

    def payload(self) -> dict[str, Any]:
        """The generic webhook's JSON body."""


HEADLINES = {
    "opened": "ALERT",
    "reopened": "ALERT AGAIN",
    "escalated": "ESCALATED",
    "resolved": "RESOLVED",
}


@dataclass(frozen=True)
class Notice:
    delivery_id: int
    alert_id: int
    reason: str
    level: int
    rule: str
    fingerprint: str
    severity: str
    status: str
    title: str
    message: str
    details: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    recipient: OnCallMember | None = None
    resolved_by: str | None = None

    @classmethod
    def from_row(cls, row: Any, recipient: OnCallMember | None) -> Notice:
        """From a claimed delivery joined with its alert (``alert_deliveries_claim``)."""
        return cls(
            delivery_id=row["id"],
            alert_id=row["alert_id"],
            reason=row["reason"],
            level=row["level"],
            rule=row["rule"],
            fingerprint=row["fingerprint"],
            severity=row["severity"],
            status=row["status"],
            title=row["title"],
            message=row["message"],
            details=dict(row["details"] or {}),
            occurrences=row["occurrences"],
            first_seen_at=row["first_seen_at"],
            last_seen_at=row["last_seen_at"],
            recipient=recipient,
            resolved_by=row["resolved_by"],
        )

    @property
    def subject(self) -> str:
        level = f" (level {self.level})" if self.reason == "escalated" else ""
        return f"[TDS {self.severity.upper()}] {HEADLINES.get(self.reason, self.reason)}{level}: {self.title}"

    @property
    def text(self) -> str:
        lines = [self.subject, "", self.message, ""]
        if self.reason == "resolved":
            who = "the condition cleared" if self.resolved_by in (None, "tds") else f"by {self.resolved_by}"
            lines.append(f"Resolved: {who}.")
        elif self.reason == "escalated":
            lines.append("Nobody acknowledged it in time: you are the next on-call level.")
        lines += [
            f"Alert #{self.alert_id} | rule {self.rule} | {self.fingerprint}",
            f"First seen {self.first_seen_at.isoformat()} | seen {self.occurrences} time(s)",
        ]
        if self.reason != "resolved":
            lines.append(f"Acknowledge: tds alerts ack {self.alert_id}")
        return "\n".join(lines)

    @property
    def chat_text(self) -> str:
        return self.text

    @property
    def mail_headers(self) -> dict[str, str]:
        return {"X-TDS-Alert": f"{self.alert_id} {self.reason}"}

    def payload(self) -> dict[str, Any]:
        """The generic webhook's JSON body."""
        return {
            "event": self.reason,
            "delivery_id": self.delivery_id,
            "level": self.level,
            "recipient": self.recipient.model_dump() if self.recipient else None,
            "alert": {
                "id": self.alert_id,
                "rule": self.rule,
                "fingerprint": self.fingerprint,
                "severity": self.severity,
                "status": self.status,
                "title": self.title,
                "message": self.message,
                "details": self.details,
                "occurrences": self.occurrences,
                "first_seen_at": self.first_seen_at.isoformat(),
                "last_seen_at": self.last_seen_at.isoformat(),
            },
            "text": self.text,
        }


@dataclass(frozen=True)
class ReportNotice:
    """One delivery of a stored report (``tds_reports``): its bodies were rendered when it was
    made, so a retry or a resend says exactly what the first attempt said."""

    delivery_id: int
    report_id: int
    kind: str
    period_start: datetime
    period_end: datetime
    subject: str
    text: str
    chat_text: str
    data: dict[str, Any]
    recipient: OnCallMember | None = None

    @classmethod
    def from_row(cls, row: Any) -> ReportNotice:
        """From a claimed delivery joined with its report (``alert_deliveries_claim``)."""
        return cls(
            delivery_id=row["id"],
            report_id=row["report_id"],
            kind=row["report_kind"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            subject=row["report_subject"],
            text=row["text_body"],
            chat_text=row["chat_body"],
            data=dict(row["report_data"] or {}),
        )

    @property
    def mail_headers(self) -> dict[str, str]:
        return {"X-TDS-Report": f"{self.report_id} {self.kind}"}

    def payload(self) -> dict[str, Any]:
        return {
            "event": "report",
            "delivery_id": self.delivery_id,
            "report": {
                "id": self.report_id,
                "kind": self.kind,
                "period_start": self.period_start.isoformat(),
                "period_end": self.period_end.isoformat(),
                "subject": self.subject,
                "data": self.data,
            },
            "text": self.text,
            "markdown": self.chat_text,
        }
