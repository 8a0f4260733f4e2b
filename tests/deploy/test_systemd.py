"""deploy/systemd and the backup timers: ``systemd-analyze verify`` on every unit, and the things
that matter in production read from the files: the real ``tds`` commands, hardening, restart
policy, and a graceful stop that matches the processes' SIGTERM handling and the compose file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tds_core.cli.main import app
from tests.deploy.support import BACKUP, DOCKER, ROOT, SYSTEMD, seconds, unit_sections, unit_value

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
TDS_UNITS = [SYSTEMD / "tds-api.service", SYSTEMD / "tds-worker@.service", SYSTEMD / "tds-scheduler.service"]
BACKUP_UNITS = sorted(BACKUP.glob("*.service")) + sorted(BACKUP.glob("*.timer"))
INSTALLED_TDS = "/opt/tds/venv/bin/tds"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
}


def _verify(tmp_path: Path, units: list[Path]) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on copies whose binaries exist on this machine: tds is this
    checkout's, pgbackrest and wal-g (not installed here) are /bin/true."""
    here = str(ROOT / ".venv" / "bin" / "tds")
    if not Path(here).exists():
        here = shutil.which("tds") or "/bin/true"
    copies = []
    for unit in units:
        text = unit.read_text().replace(INSTALLED_TDS, here)
        text = text.replace("/usr/bin/pgbackrest", "/bin/true").replace("/usr/local/bin/wal-g", "/bin/true")
        name = unit.name.replace("@.service", "@1.service")  # verify an instance of a template
        (tmp_path / name).write_text(text)
        copies.append(str(tmp_path / name))
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *copies],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("units", [TDS_UNITS, BACKUP_UNITS], ids=["tds", "backup"])
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path, units: list[Path]) -> None:
    assert units
    result = _verify(tmp_path, units)
    # verify exits 0 on unknown keys and bad values (it ignores them): any word about one of
    # our files is a finding
    findings = [line for line in (result.stdout + result.stderr).splitlines() if str(tmp_path) in line]
    assert result.returncode == 0 and not findings, result.stdout + result.stderr


@pytest.mark.parametrize("unit", TDS_UNITS, ids=lambda p: p.name)
def test_units_run_a_real_tds_command(unit: Path) -> None:
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}  # type: ignore[union-attr]
    exec_start = unit_value(unit, "Service", "ExecStart")
    assert exec_start is not None
    binary, command, *options = exec_start.split()
    assert binary == INSTALLED_TDS
    assert command in commands
    assert unit.name.removesuffix(".service").removesuffix("@").endswith(command)
    assert not options, "options come from /etc/tds/tds.env (TDS_*), not the command line"
    assert unit_value(unit, "Service", "EnvironmentFile") == "/etc/tds/tds.env"
    assert unit_value(unit, "Service", "User") == "tds"


@pytest.mark.parametrize("unit", TDS_UNITS, ids=lambda p: p.name)
def test_units_are_hardened_and_restart(unit: Path) -> None:
    service = dict(unit_sections(unit)["Service"])
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{unit.name}: {key}={service.get(key)!r}, want {value!r}"
    assert service["Restart"] in {"always", "on-failure"}
    assert seconds(service["RestartSec"]) >= 1
    assert "SystemCallFilter" in service and "RestrictAddressFamilies" in service
    assert unit_value(unit, "Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("unit", TDS_UNITS, ids=lambda p: p.name)
def test_graceful_stop_matches_the_processes_and_compose(unit: Path) -> None:
    """Every role stops on SIGTERM (worker: finish the batch, release leases, close the pool
    within 10 s); systemd and compose give it the same time before SIGKILL."""
    assert unit_value(unit, "Service", "KillSignal") == "SIGTERM"
    # only the main process gets SIGTERM: uvicorn's supervisor stops its own children
    assert unit_value(unit, "Service", "KillMode") == "mixed"
    stop = seconds(unit_value(unit, "Service", "TimeoutStopSec") or "90")
    assert stop > 10, "longer than the pool close the worker and scheduler wait for"
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    role = unit.name.split("-")[1].split("@")[0].split(".")[0]
    service = compose["services"][role]
    assert seconds(service["stop_grace_period"]) == stop
    assert service["stop_signal"] == "SIGTERM"


def test_worker_sigterm_handling_is_what_the_units_rely_on() -> None:
    """The units' comments describe worker.py and app.py; keep them honest."""
    worker = (ROOT / "src/tds_core/processor/worker.py").read_text()
    composition = (ROOT / "src/tds_core/app.py").read_text()
    assert "SIGTERM stops claiming, lets in-flight" in worker
    assert "loop.add_signal_handler(sig, worker.stop)" in composition
    assert "asyncio.wait_for(pool.close(), 10)" in composition


def test_backup_timers_run_daily_full_backups() -> None:
    for timer in BACKUP.glob("*.timer"):
        assert unit_value(timer, "Timer", "OnCalendar") == "*-*-* 01:00:00"
        assert unit_value(timer, "Timer", "Persistent") == "true"
        service = timer.with_suffix(".service")
        assert service.exists()
        assert unit_value(service, "Service", "User") == "postgres"
        assert "full" in (unit_value(service, "Service", "ExecStart") or "")
    for conf in BACKUP.glob("postgresql.*.conf"):
        settings = dict(
            line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line and line[0] != "#"
        )
        settings = {k.strip(): v.strip() for k, v in settings.items()}
        assert settings["archive_mode"] == "on"
        assert int(settings["archive_timeout"]) <= 15 * 60
