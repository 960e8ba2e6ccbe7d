"""Each service runs alone (`python -m lakecache.<service>`), as it does in production."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.e2e.test_lakecache_up import fetch, free_port

SERVICES = ["catalog", "cacher", "evictor", "tracker", "gateway"]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = process.stderr.read() if process.stderr else "(see its log)"
            raise AssertionError(f"service exited with {process.returncode}: {detail}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy in {timeout}s")


def run_service(service: str, tmp_path, **env_overrides: str):
    port = free_port()
    env = {**os.environ, "LAKECACHE_HOME": str(tmp_path), f"LAKECACHE_{service.upper()}__PORT": str(port),
           **env_overrides}
    process = subprocess.Popen([sys.executable, "-m", f"lakecache.{service}"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    stderr = process.stderr.read()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    return stderr


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_alone_and_stops_on_sigterm(service, tmp_path):
    process, url = run_service(service, tmp_path)
    try:
        wait_until_healthy(url, process)
        status, body = fetch(url + "/readyz")
        assert status == 200 and body["service"] == service, body
        stderr = stop(process)
        # Alone on the in-memory bus, a service warns that nothing else can reach it.
        assert "in-memory bus" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_bus_url_exits_with_a_clear_error(tmp_path):
    process, _ = run_service("tracker", tmp_path, LAKECACHE_BUS_URL="amqp://rabbit:5672")
    code = process.wait(timeout=30)
    stderr = process.stderr.read()
    assert code == 2
    assert "amqp://rabbit:5672" in stderr and "kafka://" in stderr and "Traceback" not in stderr
