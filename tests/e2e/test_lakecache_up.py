"""`lakecache up` as a user runs it: one process, all five services, Ctrl-C stops it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

LAKECACHE = Path(sys.executable).with_name("lakecache")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def up(tmp_path):
    gateway_port = free_port()
    env = {**os.environ, "LAKECACHE_HOME": str(tmp_path / "home")}
    for service in ("catalog", "cacher", "evictor", "tracker"):
        env[f"LAKECACHE_{service.upper()}__PORT"] = "0"  # no clash with a LakeCache already running
    process = subprocess.Popen(
        [str(LAKECACHE), "up", "--port", str(gateway_port), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"lakecache up printed nothing; stderr:\n{process.stderr.read()}")
        yield process, json.loads(line), gateway_port, tmp_path / "home"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_up_serves_health_and_readiness_and_stops_cleanly_on_ctrl_c(up):
    process, announced, gateway_port, home = up
    services = announced["services"]
    assert set(services) == {"catalog", "cacher", "evictor", "tracker", "gateway"}
    assert services["gateway"] == f"http://127.0.0.1:{gateway_port}"
    for name, url in services.items():
        assert url.startswith("http://127.0.0.1:"), f"{name} must bind loopback in embedded mode"
        status, body = fetch(url + "/healthz")
        assert (status, body["service"]) == (200, name)
        status, body = fetch(url + "/readyz")
        assert status == 200, body
    assert (home / "lake").is_dir()
    assert {p.name for p in home.glob("*.db")} >= {"catalog.db", "cacher.db", "evictor.db", "tracker.db",
                                                  "gateway.db"}
    token_file = Path(announced["admin_token_file"])
    assert token_file == home.resolve() / "admin-token" and token_file.stat().st_mode & 0o777 == 0o600
    request = urllib.request.Request(services["gateway"] + "/api/v1/me",
                                     headers={"Authorization": "Bearer " + token_file.read_text().strip()})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.loads(reply.read())["kind"] == "user"
    # The gateway reaches the services of this process wherever they listen (their ports were 0).
    request = urllib.request.Request(services["gateway"] + "/api/v1/sites/local/volumes",
                                     headers={"Authorization": "Bearer " + token_file.read_text().strip()})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200 and "items" in json.loads(reply.read())

    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 30
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(services["gateway"] + "/healthz", timeout=2)


def test_up_refuses_a_port_in_use_with_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "LAKECACHE_HOME": str(tmp_path / "home")}
        for service in ("catalog", "cacher", "evictor", "tracker"):
            env[f"LAKECACHE_{service.upper()}__PORT"] = "0"
        result = subprocess.run([str(LAKECACHE), "up", "--port", str(port)], capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "address already in use" in result.stderr.lower() or "in use" in result.stderr.lower()
    assert "--port" in result.stderr
