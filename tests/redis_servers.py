"""Real Redis servers for tests: a single server that can be stopped and restarted, and a cluster."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from ivr.redisconn import redis_binary

START_TIMEOUT = 10.0
POLL = 0.02
_running: set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Kill servers a crashed or interrupted session left behind."""
    for proc in list(_running):
        proc.kill()
        proc.wait()


def free_port(bus_offset: int | None = None) -> int:
    """Return a free loopback port (and, for cluster nodes, a free port at `port + bus_offset`)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if bus_offset is None:
            return port
        if port + bus_offset < 65536 and _bindable(port + bus_offset):
            return port
    raise RuntimeError("no free port found")


def _bindable(port: int) -> bool:
    """Return True when `port` can be bound on loopback."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class RedisServer:
    """A real redis-server on a loopback port, with its data in a temporary folder."""

    def __init__(self, *extra: str, port: int | None = None, home: Path | None = None):
        self.port = port or free_port(10000 if "--cluster-enabled" in extra else None)
        self.home = home or Path(tempfile.mkdtemp(prefix="ivr-redis-"))
        self._own_home = home is None
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the server's redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server (again, on the same port and data) and wait until it answers PING."""
        args = [
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.home),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            "redis.log",
            *self.extra,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _running.add(self.proc)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll PING every 20 ms until the server answers."""
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client()
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited; see {self.home / 'redis.log'}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on port {self.port} did not start")
                time.sleep(POLL)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM flushes the append-only file)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _running.discard(self.proc)
        self.proc = None

    def destroy(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def client(self, **kwargs) -> redis.Redis:
        """Return a plain client for this server."""
        options = {"decode_responses": True, "socket_timeout": 2, "socket_connect_timeout": 0.5}
        return redis.Redis(host="127.0.0.1", port=self.port, **{**options, **kwargs})


class RedisCluster:
    """Three real masters with `cluster-enabled yes`, joined by `redis-cli --cluster create`."""

    def __init__(self, masters: int = 3):
        extra = (
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
        )
        self.nodes = [RedisServer(*extra) for _ in range(masters)]

    @property
    def url(self) -> str:
        """Return the redis+cluster:// URL listing every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisCluster:
        """Start the nodes, assign the slots, and wait until every node says cluster_state:ok."""
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [
                redis_binary("redis-cli"),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        self._wait_ok()
        return self

    def _wait_ok(self) -> None:
        """Poll CLUSTER INFO on every node until all report cluster_state:ok."""
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes:
            client = node.client()
            try:
                while client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    if time.monotonic() > deadline:
                        raise TimeoutError("cluster did not reach cluster_state:ok")
                    time.sleep(POLL)
            finally:
                client.close()

    def flushall(self) -> None:
        """Empty every master."""
        for node in self.nodes:
            client = node.client()
            try:
                client.flushall()
            finally:
                client.close()

    def destroy(self) -> None:
        """Stop every node and delete the data."""
        for node in self.nodes:
            node.destroy()


class RedisSentinel:
    """A real Sentinel process watching `master` under the name `name`."""

    def __init__(self, master: RedisServer, name: str = "mymaster"):
        self.master = master
        self.name = name
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="ivr-sentinel-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the redis+sentinel:// URL of the watched master, database 0."""
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.name}/0"

    def start(self) -> RedisSentinel:
        """Write the sentinel config, start it, and wait until it knows the master."""
        conf = self.home / "sentinel.conf"
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir "{self.home}"\n'
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1\n"
        )
        self.proc = subprocess.Popen(
            [redis_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _running.add(self.proc)
        client = redis.Redis(port=self.port, decode_responses=True, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    if client.sentinel_get_master_addr_by_name(self.name):
                        return self
                except (redis.ConnectionError, redis.ResponseError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("sentinel did not start")
                time.sleep(POLL)
        finally:
            client.close()

    def destroy(self) -> None:
        """Stop the sentinel and delete its folder."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=START_TIMEOUT)
            _running.discard(self.proc)
            self.proc = None
        shutil.rmtree(self.home, ignore_errors=True)
