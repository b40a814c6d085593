"""Keeps the hourly rollups filled in the background, so dashboards never wait on raw records."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ivr.metrics import MetricSettings, fold_call, fold_survey
from ivr.rollup import HOUR, tally_range

log = logging.getLogger("ivr.warmup")
LOCK_KEY = "ivr:rollup:warming"


def warm(client: Any, settings: MetricSettings, now: float, lookback_hours: int = 48) -> bool:
    """Fill the rollups of the settled hours in the look-back window; False when another process is on it."""
    if not client.set(LOCK_KEY, str(now), nx=True, ex=300):
        return False
    try:
        tally_range(client, now - lookback_hours * HOUR, now, fold_call, fold_survey, now,
                    settings.settled_hours * HOUR, settings.retention_days * 86400)
    finally:
        client.delete(LOCK_KEY)
    return True


def start_warmer(client: Any, settings: MetricSettings, every: float) -> threading.Thread | None:
    """A daemon thread that warms the rollups every `every` seconds (never when `every` is 0)."""
    if every <= 0:
        return None

    def loop() -> None:
        while True:
            time.sleep(every)
            try:
                warm(client, settings, time.time())
            except Exception as exc:  # Redis down or busy: the next round tries again
                log.warning("rollup warm-up skipped: %s", exc)

    thread = threading.Thread(target=loop, name="ivr-rollup-warmer", daemon=True)
    thread.start()
    return thread
