"""The background warmer fills hourly rollups of settled hours, one process at a time."""

from __future__ import annotations

import time

from ivr.metrics import MetricSettings
from ivr.rollup import HOUR, ROLLUP_KEY
from ivr.warmup import LOCK_KEY, warm


def test_warm_fills_settled_hours_only(redis_client):
    now = time.time()
    old = now - 10 * HOUR
    redis_client.hset("ivr:call:{CAold}", mapping={"started": old, "lang": "en-US", "status": "completed",
                                                 "duration": "30", "ended": old + 30})
    redis_client.zadd("ivr:calls:by_time", {"CAold": old})
    assert warm(redis_client, MetricSettings(), now) is True
    settled_hour = int(old // HOUR) * HOUR
    recent_hour = int((now - HOUR) // HOUR) * HOUR
    assert redis_client.exists(ROLLUP_KEY % settled_hour)
    assert '"calls"' in redis_client.get(ROLLUP_KEY % settled_hour)
    assert not redis_client.exists(ROLLUP_KEY % recent_hour)  # not settled yet: stays live
    assert not redis_client.exists(LOCK_KEY)


def test_only_one_process_warms_at_a_time(redis_client):
    redis_client.set(LOCK_KEY, "other", ex=60)
    assert warm(redis_client, MetricSettings(), time.time()) is False
