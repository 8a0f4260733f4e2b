"""deploy/docker/docker-compose.yml: validated by a Compose-spec parser (the Rust `compose_spec`
crate, through the `compose-spec` package) after the interpolation Compose does, then the
properties the deployment relies on. ``docker compose config`` runs too when the Compose plugin
is installed (it needs no engine); here it is not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from tds_core.cli.main import app
from tests.deploy.support import DOCKER

COMPOSE = DOCKER / "docker-compose.yml"
TDS_ROLES = ("migrate", "api", "worker", "scheduler")
TEST_ENV = {"POSTGRES_DB": "tds", "POSTGRES_USER": "tds", "POSTGRES_PASSWORD": "pw0123456789"}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$, applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise KeyError(f"{name}: {argument}")
        return argument or ""

    return re.sub(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, value)


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), TEST_ENV if env is None else env)


def test_compose_spec_accepts_the_file() -> None:
    parsed = PyCompose.from_json(json.dumps(load()))
    assert set(parsed.service_names()) == {"postgres", *TDS_ROLES, "nginx"}


def test_compose_spec_rejects_a_misspelled_key() -> None:
    """The parser is strict (a guard that the test above checks something)."""
    broken = load()
    broken["services"]["worker"]["stop_grace_perod"] = "30s"
    with pytest.raises(ValueError, match="stop_grace_perod"):
        PyCompose.from_json(json.dumps(broken))


def test_the_database_password_is_required() -> None:
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        load({})


def test_tds_services_share_one_image_and_run_real_commands() -> None:
    services = load()["services"]
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}  # type: ignore[union-attr]
    images = {services[role]["image"] for role in TDS_ROLES}
    assert len(images) == 1
    for role in TDS_ROLES:
        service = services[role]
        assert service["command"] == [role] and role in commands
        assert service["build"] == {"context": "../..", "dockerfile": "deploy/docker/Dockerfile"}
        assert service["env_file"] == [".env"]
        url = service["environment"]["TDS_DATABASE_URL"]
        assert url == "postgresql://tds:pw0123456789@postgres:5432/tds"


def test_start_order_waits_for_health_and_the_migration() -> None:
    services = load()["services"]
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for role in ("api", "worker", "scheduler"):
        assert services[role]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert services[role]["restart"] == "unless-stopped"
    assert services["nginx"]["depends_on"] == {"api": {"condition": "service_healthy"}}


def test_healthchecks() -> None:
    services = load()["services"]
    assert "/api/v1/ready" in " ".join(services["api"]["healthcheck"]["test"])
    # no HTTP in these: their liveness is the tds_workers heartbeat and the restart policy
    for role in ("worker", "scheduler", "migrate"):
        assert services[role]["healthcheck"] == {"disable": True}


def test_workers_scale_and_only_nginx_is_published() -> None:
    services = load()["services"]
    assert services["worker"]["deploy"]["replicas"] >= 1
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert services["nginx"]["ports"] == ["80:80", "443:443"]
    # the API trusts X-Forwarded-For (per-address limits) only because only nginx reaches it
    assert services["api"]["environment"]["TDS_TRUSTED_PROXIES"] == '["*"]'


def test_nginx_mounts_the_site_and_its_main_conf() -> None:
    volumes = load()["services"]["nginx"]["volumes"]
    assert "../nginx/tds.conf:/etc/nginx/tds/tds.conf:ro" in volumes
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in volumes
    for volume in volumes:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert source == "./tls" or (COMPOSE.parent / source).exists(), source


def test_no_image_is_latest_or_untagged() -> None:
    for name, service in load()["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        assert re.search(r":\d+\.\d+", image), f"{name}: pin an exact version ({image})"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed (the docker client here has no compose)",
)
def test_docker_compose_config(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in TEST_ENV.items()) + "TDS_JWT_SECRET=x\n")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
