"""Who is on call: members take turns per day or week, each level on its own list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tds_core.alerts import oncall
from tds_core.config.runtime import RuntimeConfig

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


def config(rotation: str = "weekly", **extra: object) -> RuntimeConfig:
    return RuntimeConfig.model_validate(
        {
            "alerts__channels": [
                {"type": "slack", "name": "ops-slack", "url": "http://slack.invalid/hook"},
                {"type": "email", "name": "mail", "smtp_host": "localhost", "sender": "tds@example.com"},
                {"type": "webhook", "name": "pager", "url": "http://pager.invalid/", "enabled": False},
            ],
            "alerts__oncall": {
                "rotation": rotation,
                "starts_at": START.isoformat(),
                "levels": [
                    {
                        "members": [{"name": "ana"}, {"name": "ben"}, {"name": "cy"}],
                        "channels": ["ops-slack"],
                    },
                    {"members": [{"name": "dee", "email": "dee@example.com"}], "channels": ["mail", "pager"]},
                ],
            },
        }
        | extra
    )


def member_at(cfg: RuntimeConfig, level: int, at: datetime) -> str | None:
    current = oncall.shift(cfg.alerts__oncall, level, at)
    assert current is not None
    return current.member.name if current.member else None


def test_weekly_rotation_hands_over_at_the_start_time() -> None:
    cfg = config("weekly")
    assert member_at(cfg, 0, START) == "ana"
    assert member_at(cfg, 0, START + timedelta(days=6, hours=23, minutes=59)) == "ana"
    assert member_at(cfg, 0, START + timedelta(days=7)) == "ben"
    assert member_at(cfg, 0, START + timedelta(days=14)) == "cy"
    assert member_at(cfg, 0, START + timedelta(days=21)) == "ana"


def test_daily_rotation_and_times_before_the_start() -> None:
    cfg = config("daily")
    assert member_at(cfg, 0, START + timedelta(days=1, hours=1)) == "ben"
    # the rotation runs backwards too: the day before the start was the last member's
    assert member_at(cfg, 0, START - timedelta(hours=1)) == "cy"


def test_each_level_has_its_own_members_and_shift_bounds() -> None:
    cfg = config("weekly")
    at = START + timedelta(days=8)
    shifts = oncall.shifts(cfg.alerts__oncall, at)
    assert [(s.level, s.member.name if s.member else None) for s in shifts] == [(0, "ben"), (1, "dee")]
    assert shifts[0].starts_at == START + timedelta(days=7)
    assert shifts[0].ends_at == START + timedelta(days=14)
    assert oncall.shift(cfg.alerts__oncall, 2, at) is None
    assert oncall.top_level(cfg) == 1


def test_targets_skip_disabled_channels_and_name_the_member() -> None:
    cfg = config("weekly")
    targets = oncall.targets(cfg, 1, START)
    assert [(c.name, m.name if m else None) for c, m in targets] == [("mail", "dee")]
    assert oncall.targets(cfg, 5, START) == []


def test_without_a_rotation_level_zero_is_every_enabled_channel() -> None:
    cfg = config(alerts__oncall={"levels": []})
    assert [(c.name, m) for c, m in oncall.targets(cfg, 0, START)] == [("ops-slack", None), ("mail", None)]
    assert oncall.targets(cfg, 1, START) == []
    assert oncall.top_level(cfg) == 0


def test_members_are_found_by_name_for_their_addresses() -> None:
    cfg = config()
    dee = oncall.find_member(cfg.alerts__oncall, "dee")
    assert dee is not None and dee.email == "dee@example.com"
    assert oncall.find_member(cfg.alerts__oncall, "nobody") is None
    assert oncall.find_member(cfg.alerts__oncall, None) is None
