"""The engine parts one app instance runs with: config, menus, Redis writer, stores."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from ivr.batcher import Batcher
from ivr.calls import CallStore
from ivr.journal import Journal
from ivr.recent_callers import RecentCallers
from ivr.redisconn import connect, parse_url, start_embedded
from ivr.registry import MenuRegistry, VersionStore
from ivr.settings import Config
from ivr.spool import Spool
from ivr.voicemail import VoicemailStore
from ivr.writer import Writer

log = logging.getLogger("ivr")


class ConfigError(Exception):
    """Raised when the app cannot start with the given settings."""


@dataclass
class Runtime:
    """Everything a webhook needs, created once per process by `create_runtime`."""

    config: Config
    menus: MenuRegistry
    redis: Any
    writer: Writer
    calls: CallStore
    voicemail: VoicemailStore
    auth_token: str
    hash_key: str
    redis_url: str
    events: Batcher | None = None
    recent: RecentCallers | None = None

    def __post_init__(self) -> None:
        if self.events is None:
            self.events = Batcher(self.writer, self.config.float("IVR_EVENT_BATCH_MS") / 1000,
                                  Journal(self.data_dir / "journal"))
        if self.recent is None:
            self.recent = RecentCallers(self.redis, CallStore.ROUTED, CallStore.CALLER % "*")

    @property
    def data_dir(self) -> Path:
        """The local data folder."""
        return self.config.path("IVR_DATA_DIR")


def resolve_auth_token(config: Config) -> str:
    """The Twilio auth token: configured, or a local one generated for development."""
    token = config.get("TWILIO_AUTH_TOKEN")
    if token:
        return token
    if config.production:
        raise ConfigError("TWILIO_AUTH_TOKEN is not set: production mode refuses to start without it")
    return config.local_secret("TWILIO_AUTH_TOKEN", "local_auth_token")


def resolve_redis_url(config: Config) -> str:
    """REDIS_URL, or the URL of an embedded Redis started under the data folder."""
    url = config.get("REDIS_URL")
    if url:
        return url
    if config.production:
        raise ConfigError("REDIS_URL is not set: production mode needs a managed Redis")
    return start_embedded(config.path("IVR_DATA_DIR").resolve())


def check_production(config: Config) -> None:
    """Refuse generated secrets in production: every secret must come from the environment."""
    if config.production:
        for name in ("TWILIO_AUTH_TOKEN", "IVR_SECRET_KEY", "IVR_HASH_KEY"):
            if not config.get(name):
                raise ConfigError(f"{name} is not set: production mode refuses to start without it")


class ClusterOnDemand:
    """A Redis Cluster client that connects on first use (and again after a failure), so the app
    starts, and answers calls with writes spooled, while the cluster is unreachable."""

    RETRY_SECONDS = 1.0

    def __init__(self, url: str):
        self._url = url
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        self._failed_at = -self.RETRY_SECONDS

    @property
    def __class__(self):  # isinstance(client, RedisCluster) holds before the first connection
        return RedisCluster

    def _connected(self) -> RedisCluster:
        """The real client, connecting now if needed (RedisClusterException when unreachable)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if time.monotonic() - self._failed_at < self.RETRY_SECONDS:
                        raise RedisClusterException("Redis Cluster still unreachable")
                    try:
                        self._client = connect(self._url)
                    except RedisClusterException:
                        self._failed_at = time.monotonic()
                        raise
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connected(), name)


def connect_client(url: str) -> Any:
    """A client for `url`; a cluster that cannot be reached now is connected on first use."""
    if parse_url(url)["kind"] != "cluster":
        return connect(url)
    try:
        return connect(url)
    except RedisClusterException as exc:
        log.warning("Redis Cluster unreachable at startup (%s); connecting on first use", exc)
        return ClusterOnDemand(url)


def create_runtime(config: Config) -> Runtime:
    """Load menus, connect Redis and build the stores; raise ConfigError or MenuError when impossible."""
    check_production(config)
    token = resolve_auth_token(config)
    menus = MenuRegistry(config.path("IVR_MENUS"), config.path("IVR_RECORDINGS"),
                         check_every=config.float("IVR_RELOAD_SECONDS"),
                         keep=config.int("IVR_VERSIONS_KEPT"),
                         store=VersionStore(config.path("IVR_DATA_DIR") / "menu-versions"))
    url = resolve_redis_url(config)
    client = connect_client(url)
    spool = Spool(config.path("IVR_DATA_DIR") / "spool")
    retention = config.int("IVR_RETENTION_DAYS") * 86400
    return Runtime(config=config, menus=menus, redis=client, writer=Writer(client, spool),
                   calls=CallStore(retention_seconds=retention),
                   voicemail=VoicemailStore(retention_seconds=retention), auth_token=token,
                   hash_key=config.local_secret("IVR_HASH_KEY", "hash_key"), redis_url=url)
