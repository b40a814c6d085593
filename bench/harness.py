"""Shared bench plumbing: a throwaway Redis, gunicorn servers on loopback, and wrk runs."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ivr.redisconn import redis_binary

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
TOKEN = "bench-auth-token"
START_TIMEOUT = 20.0


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    """One line naming the machine a figure was measured on."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU ({model}), Python {platform.python_version()}, {platform.system()}"


@contextmanager
def redis_server(*extra: str):
    """A real redis-server on a free loopback port (AOF everysec, as in production); yields its URL."""
    home = Path(tempfile.mkdtemp(prefix="ivr-bench-redis-"))
    port = free_port()
    proc = subprocess.Popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(home), "--save", "", "--appendonly", "yes",
                             "--appendfsync", "everysec", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _redis_ping(port), "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def given_or_private_redis(url: str | None, *extra: str):
    """`url` when one is given (an empty Redis the caller owns), else a private `redis_server`."""
    if url:
        yield url
        return
    with redis_server(*extra) as private:
        yield private


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_for(check, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {START_TIMEOUT} s")
        time.sleep(0.05)


def app_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for the IVR app (and the baselines) on the bench Redis."""
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_url,
           "IVR_MENUS": str(ROOT / "menus"), "IVR_RECORDINGS": str(ROOT / "recordings"),
           "IVR_DATA_DIR": str(data_dir), "IVR_LOG_LEVEL": "WARNING", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH / "apps"), env.get("PYTHONPATH", "")])
    return env


@dataclass
class Server:
    """A gunicorn server running one WSGI app on loopback."""

    name: str
    target: str  # module:app
    env: dict
    workers: int = 2
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        """The server's base URL (what Twilio would have called, for signatures)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        """Start gunicorn (same settings for every server) and wait until it accepts connections."""
        self.port = self.port or free_port()
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "--threads", "1",
               "-b", f"127.0.0.1:{self.port}", "--timeout", "10", "--log-level", "warning",
               "--chdir", str(ROOT), self.target]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, cwd=ROOT,
                                     start_new_session=True)
        _wait_for(self._accepting, f"gunicorn {self.target}")
        return self

    def _accepting(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn {self.target} exited with {self.proc.returncode}")
        try:
            urllib.request.urlopen(self.base + "/__ping__", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextmanager
def servers(*specs: Server):
    """Start every server, stop them all afterwards."""
    started = []
    try:
        for spec in specs:
            started.append(spec.start())
        yield started
    finally:
        for server in started:
            server.stop()


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(text: str, pct: str) -> float:
    match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk(url: str, script: Path, seconds: float, connections: int = 32, threads: int = 2) -> WrkResult:
    """Run wrk against `url` with a Lua request script; refuse results with failed requests."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency",
           "--timeout", "5s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                              out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups()[::3])  # connect + timeout
    return WrkResult(rps=rps, p50_ms=_latency(out, "50"), p99_ms=_latency(out, "99"),
                     requests=requests, errors=errors)


def lua_post_script(path: Path, bodies: list[tuple[str, str]]) -> Path:
    """Write a wrk script cycling through (form body, X-Twilio-Signature) pairs on POST."""
    rows = ",\n".join(f'  {{{_lua(body)}, {_lua(sig)}}}' for body, sig in bodies)
    path.write_text(
        "local reqs = {\n" + rows + "\n}\nlocal i = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        '  wrk.headers["X-Twilio-Signature"] = reqs[i][2]\n'
        "  return wrk.format(nil, nil, nil, reqs[i][1])\n"
        "end\n")
    return path


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_all_hours(folder: Path) -> Path:
    """Edit the menus in `folder` so support is always open and surveys every call."""
    import yaml

    routing = folder / "routing.yaml"
    data = yaml.safe_load(routing.read_text())
    support = data["queues"]["support"]
    for name in ("hours", "closed"):
        support.pop(name, None)
    support["survey_rate"] = "100%"
    routing.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return folder


def menus_open_all_hours(target: Path) -> Path:
    """A copy of the shipped menus where support is always open and surveys every call."""
    shutil.copytree(ROOT / "menus", target)
    return open_all_hours(target)
