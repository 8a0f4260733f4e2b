"""deploy/nginx/tds.conf: ``nginx -t`` on the systemd and the Docker layout, the limits agree with
TDS's own, and a real nginx in front of a stub API behaves as documented (redirect, body limit,
rate limit, caching headers, forwarded headers)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tds_core.config.runtime import RuntimeConfig
from tds_core.settings import Settings
from tests.deploy.support import DOCKER, NGINX

NGINX_BIN = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(
    NGINX_BIN is None, reason="nginx is not installed (`make deploy-tools` installs Debian's nginx)"
)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

SITE = (NGINX / "tds.conf").read_text()


def site_for(tmp: Path) -> str:
    """tds.conf with its absolute paths moved under ``tmp`` (certificates, cache, logs)."""
    return (
        SITE.replace("/etc/nginx/tls/", f"{tmp}/tls/")
        .replace("/var/cache/nginx/", f"{tmp}/cache/")
        .replace("/var/log/nginx/", f"{tmp}/log/")
    )


def self_signed(tmp: Path) -> None:
    (tmp / "tls").mkdir(exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(tmp / "tls" / "tds.key"), "-out", str(tmp / "tls" / "tds.crt"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def main_conf(tmp: Path, http_body: str, *, foreground: bool = False) -> Path:
    """A minimal nginx.conf whose every path is under ``tmp``."""
    for name in ("log", "cache", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
    user = "user root;\n" if foreground and os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""{user}pid {tmp}/nginx.pid;
error_log {tmp}/log/error.log warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http_body}
}}
"""
    )
    return conf


def nginx_test(tmp: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    assert NGINX_BIN is not None
    return subprocess.run(
        [NGINX_BIN, "-t", "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "log" / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


# ---------------------------------------------------------------------------- nginx -t
@needs_nginx
@needs_openssl
def test_site_and_upstream_pass_nginx_t_as_installed_with_systemd(tmp_path: Path) -> None:
    """The host layout: conf.d/tds-upstream.conf + conf.d/tds.conf in nginx's http {} context."""
    self_signed(tmp_path)
    (tmp_path / "tds.conf").write_text(site_for(tmp_path))
    upstream = NGINX / "tds-upstream.conf"
    conf = main_conf(tmp_path, f"    include {upstream};\n    include {tmp_path}/tds.conf;")
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
@needs_openssl
def test_docker_nginx_conf_passes_nginx_t(tmp_path: Path) -> None:
    """deploy/docker/nginx.conf with the site mounted where compose mounts it; only what needs
    the container (the `nginx` user, the `api` host name, absolute paths) is substituted."""
    self_signed(tmp_path)
    (tmp_path / "tds.conf").write_text(site_for(tmp_path))
    for name in ("log", "body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (tmp_path / name).mkdir(exist_ok=True)
    text = (DOCKER / "nginx.conf").read_text()
    assert "include /etc/nginx/tds/tds.conf;" in text
    assert re.search(r"server api:8000\b", text)
    text = (
        text.replace("user nginx;", "")
        .replace("server api:8000", "server 127.0.0.1:8000")
        .replace("/etc/nginx/tds/tds.conf", f"{tmp_path}/tds.conf")
        .replace("/var/log/nginx/", f"{tmp_path}/log/")
        .replace("/var/run/nginx.pid", f"{tmp_path}/nginx.pid")
        .replace(
            "http {",
            f"http {{\n    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;"
            f" fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi;"
            f" scgi_temp_path {tmp_path}/scgi;",
            1,
        )
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- agreement with TDS
def _size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def test_body_limit_equals_tds_max_body_bytes() -> None:
    limits = re.findall(r"^\s*client_max_body_size\s+(\S+);", SITE, re.MULTILINE)
    assert limits, "tds.conf sets client_max_body_size"
    assert {_size_in_bytes(v) for v in limits} == {Settings().max_body_bytes}


def test_rate_limits_equal_the_runtime_configuration_defaults() -> None:
    config = RuntimeConfig()
    zones = dict(re.findall(r"limit_req_zone \$binary_remote_addr zone=(\w+):\w+ rate=(\S+);", SITE))
    assert zones["tds_webhooks"] == f"{config.ratelimit__webhooks_per_second:g}r/s"
    assert zones["tds_login"] == f"{config.ratelimit__login_per_minute}r/m"
    bursts = dict(re.findall(r"limit_req zone=(\w+) burst=(\d+) nodelay;", SITE))
    # TDS's token buckets hold as many tokens as one second (webhooks) / minute (logins) admits
    assert int(bursts["tds_webhooks"]) == config.ratelimit__webhooks_per_second
    assert int(bursts["tds_login"]) == config.ratelimit__login_per_minute
    assert "limit_req_status 429;" in SITE


def test_access_log_never_records_query_strings() -> None:
    """A webhook may carry its key as ?key=: the log format uses $uri, not $request_uri/$args."""
    log_format = SITE[SITE.index("log_format tds_json") : SITE.index(";", SITE.index("log_format tds_json"))]
    assert "$uri" in log_format
    assert "$request_uri" not in log_format and "$args" not in log_format and '$request"' not in log_format


# ---------------------------------------------------------------------------- a real nginx
@dataclass
class StubApi:
    """Stands in for the TDS API: records what nginx forwarded, answers like TDS would."""

    port: int = 0
    seen: list[tuple[str, str, dict[str, str], int]] = field(default_factory=list)


def _stub_handler(stub: StubApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes, content_type: str, cache: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if cache:
                self.send_header("Cache-Control", cache)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(size)
            stub.seen.append(("POST", self.path, dict(self.headers.items()), size))
            self._answer(202, b'{"event_id": 1, "status": "queued"}', "application/json")

        def do_GET(self) -> None:
            stub.seen.append(("GET", self.path, dict(self.headers.items()), 0))
            if self.path.startswith("/assets/"):
                self._answer(200, b"console.log(1)", "text/javascript", "public, max-age=31536000, immutable")
            elif self.path == "/metrics":
                self._answer(200, b"tds_workers_alive 1\n", "text/plain")
            else:  # the page; nginx must answer it no-cache whatever the API said
                self._answer(200, b"<!doctype html>", "text/html", "max-age=600")

    return Handler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str], deadline: float = 10.0) -> None:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.communicate()[1]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not start listening")


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[StubApi, int, int]]:
    """nginx running tds.conf on two free loopback ports, in front of a stub API."""
    assert NGINX_BIN is not None
    stub = StubApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _stub_handler(stub))
    stub.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http_port, https_port = _free_port(), _free_port()
    self_signed(tmp_path)
    site = site_for(tmp_path)
    site = re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.MULTILINE)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    (tmp_path / "tds.conf").write_text(site)
    upstream = f"upstream tds_api {{ server 127.0.0.1:{stub.port}; keepalive 4; }}"
    conf = main_conf(tmp_path, f"    {upstream}\n    include {tmp_path}/tds.conf;", foreground=True)
    process = subprocess.Popen(
        [NGINX_BIN, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "log" / "error.log"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        _wait_for_port(https_port, process)
        yield stub, http_port, https_port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        server.shutdown()
        server.server_close()


@needs_nginx
@needs_openssl
def test_nginx_in_front_of_the_api_behaves_as_documented(proxied: tuple[StubApi, int, int]) -> None:
    stub, http_port, https_port = proxied
    base = f"https://127.0.0.1:{https_port}"
    limit = Settings().max_body_bytes
    with httpx.Client(verify=False, timeout=10) as client:  # noqa: S501 - a throwaway self-signed cert
        # HTTP -> HTTPS, path kept
        moved = client.get(f"http://127.0.0.1:{http_port}/queue?x=1")
        assert moved.status_code == 301
        assert moved.headers["location"].startswith("https://") and moved.headers["location"].endswith(
            "/queue?x=1"
        )

        # a webhook at exactly TDS_MAX_BODY_BYTES passes, with the forwarded headers TDS reads
        url = f"{base}/api/v1/webhooks/zoho/items"
        ok = client.post(url, content=b"x" * limit, headers={"X-Request-ID": "req-123"})
        assert ok.status_code == 202
        method, path, headers, size = stub.seen[-1]
        assert (method, path, size) == ("POST", "/api/v1/webhooks/zoho/items", limit)
        assert headers["X-Request-ID"] == "req-123"
        assert headers["X-Forwarded-Proto"] == "https"
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        assert ok.headers["strict-transport-security"].startswith("max-age=")

        # without one, nginx makes the correlation id
        client.post(url, content=b"{}")
        assert re.fullmatch(r"[0-9a-f]{32}", stub.seen[-1][2]["X-Request-ID"])

        # one byte more: nginx answers 413 in TDS's error shape, the API never sees it
        before = len(stub.seen)
        too_large = client.post(url, content=b"x" * (limit + 1))
        assert too_large.status_code == 413
        assert "error" in too_large.json()
        assert len(stub.seen) == before

        # logins: ratelimit.login_per_minute per address, then 429 with Retry-After
        statuses = [client.post(f"{base}/api/v1/auth/token", data={"username": "a"}) for _ in range(15)]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused, [r.status_code for r in statuses]
        assert refused[0].headers["retry-after"] == "1"
        assert "error" in refused[0].json()
        assert sum(r.status_code == 202 for r in statuses) <= RuntimeConfig().ratelimit__login_per_minute + 1

        # hashed assets: a year, immutable, cached by nginx (the API is asked once)
        first = client.get(f"{base}/assets/index-3f9a1c.js")
        second = client.get(f"{base}/assets/index-3f9a1c.js")
        assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert second.headers["x-cache-status"] == "HIT"
        assert sum(1 for s in stub.seen if s[1] == "/assets/index-3f9a1c.js") == 1
        assert second.headers["strict-transport-security"].startswith("max-age=")

        # the page: never cached, whatever the API said
        for page in ("/", "/index.html"):
            assert client.get(f"{base}{page}").headers["cache-control"] == "no-cache"

        # metrics: the loopback address is allowed
        assert client.get(f"{base}/metrics").status_code == 200
