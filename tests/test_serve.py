"""`ivr serve`: gunicorn on an embedded Redis with a generated local token; production refuses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from twilio.request_validator import RequestValidator

from ivr.redisconn import stop_embedded

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "REDIS_"))}
    env.update(extra)
    return env


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # busy machine: ask again
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_serve_runs_on_embedded_redis_with_local_token(tmp_path):
    data = tmp_path / "d"
    port = free_port()
    env = clean_env(IVR_DATA_DIR=str(data), IVR_MENUS=str(ROOT / "menus"),
                    IVR_RECORDINGS=str(ROOT / "recordings"))
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "serve", "--port", str(port), "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        assert b'"redis":"ok"' in health.replace(b" ", b"")
        token = (data / "local_auth_token").read_text().strip()
        url = f"http://127.0.0.1:{port}/voice/incoming"
        form = {"CallSid": "CAserve", "From": "+15551230000"}
        signature = RequestValidator(token).compute_signature(url, form)
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                         headers={"X-Twilio-Signature": signature})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert b"<Gather" in response.read()
        unsigned = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
        try:
            urllib.request.urlopen(unsigned, timeout=5)
            raise AssertionError("unsigned request accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
        stop_embedded(data.resolve())
    assert "No TWILIO_AUTH_TOKEN set: using a local token" in output
    assert "embedded Redis" in output


def test_production_refuses_without_token(tmp_path):
    env = clean_env(IVR_ENV="production", IVR_DATA_DIR=str(tmp_path), IVR_MENUS=str(ROOT / "menus"),
                    IVR_RECORDINGS=str(ROOT / "recordings"), REDIS_URL="redis://127.0.0.1:1")
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "serve", "--port", str(free_port())],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "refusing to start: TWILIO_AUTH_TOKEN is not set" in result.stderr


def test_serve_refuses_broken_menus(tmp_path):
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "m.yaml").write_text("languages:\n  en-US: {voice: v}\nmenus:\n  main:\n    promt: x\n")
    env = clean_env(IVR_DATA_DIR=str(tmp_path / "d"), IVR_MENUS=str(menus), IVR_RECORDINGS=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "serve", "--port", str(free_port())],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{menus}/m.yaml:5: unknown field 'promt' in menu 'main' (did you mean 'prompt'?)" in result.stderr
