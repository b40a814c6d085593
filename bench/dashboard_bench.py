"""Dashboard benchmark: seed N survey responses (and their calls), then time each /admin page.

    python bench/dashboard_bench.py --rows 1000000 [--redis-url URL]

Responses are one a minute, ending a week ago, written by the export benchmark's seeding script
(reused, on `bench.harness.given_or_private_redis`), each with a call record. Each page is timed cold (hourly rollups dropped, so they are
computed from the raw records and cached) and then warm (median of 3, read from the rollups),
in-process through the Flask test client (no network). Target: warm dashboard < 1 s for a year.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.export_bench import SEED_LUA, seed_contexts  # noqa: E402
from bench.harness import given_or_private_redis  # noqa: E402
from ivr.accounts import hash_password  # noqa: E402
from ivr.daily import forget_days  # noqa: E402
from ivr.redisconn import connect  # noqa: E402
from ivr.rollup import forget_rollups  # noqa: E402

DAY = 86400.0

# For survey responses first .. first+count-1 (written by the export benchmark's SEED_LUA): the
# per-queue index and the call record behind each, in the data contract's format.
CALLS_LUA = """
local first, count, start = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local results = {'bridged', 'bridged', 'bridged', 'bridged', 'bridged', 'bridged', 'bridged',
                 'hangup', 'leave', 'redirected'}
for n = first, first + count - 1 do
  local sid = string.format('CA%032x', n)
  local queue = ({'billing', 'support', 'sales'})[n % 3 + 1]  -- as SEED_LUA's contexts have it
  local lang = (n % 3 == 0) and 'es' or 'en'
  local began = start + n * 60 - 300
  local wait = (n * 7919) % 121
  local result = results[n % 10 + 1]
  local key = 'ivr:call:{' .. sid .. '}'
  redis.call('HSET', key, 'started', tostring(began), 'caller', '+1******0000', 'lang', lang,
    'route', 'queue:' .. queue, 'queue', queue, 'queue_result', result, 'queue_time', tostring(wait),
    'status', 'completed', 'duration', '290', 'ended', tostring(began + 290))
  if result == 'bridged' then
    redis.call('HSET', key, 'agent', 'agent' .. (n % 40), 'answered_at', tostring(began + 30 + wait),
      'left_queue_at', tostring(began + 280))
  elseif result == 'hangup' then
    redis.call('HSET', key, 'abandoned', 'queue')
  end
  redis.call('HSET', key .. ':path', '1', 'menu main', '2', 'key 2', '3', 'route queue ' .. queue)
  redis.call('ZADD', 'ivr:calls:by_time', began, sid)
  redis.call('ZADD', 'ivr:surveys:queue:' .. queue, start + n * 60, sid)
end
return count
"""


def seed(url: str, rows: int, start: float, batch: int = 2000) -> float:
    """Write `rows` responses one a minute from `start`, each with its call; returns seconds taken."""
    client, began = connect(url, socket_timeout=120), time.perf_counter()
    surveys, calls = client.register_script(SEED_LUA), client.register_script(CALLS_LUA)
    refs = seed_contexts(client)
    pipe = client.pipeline(transaction=False)
    for first in range(0, rows, batch):
        count = min(batch, rows - first)
        surveys(args=[first, count, int(start), *refs], client=pipe)
        calls(args=[first, count, int(start)], client=pipe)
        if len(pipe) >= 50:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - began


def signed_in_client(url: str, data_dir: str):
    """A Flask test client of the real app, signed in as a supervisor."""
    from app import create_app

    app = create_app({"REDIS_URL": url, "IVR_DATA_DIR": data_dir, "IVR_MENUS": str(ROOT / "menus"),
                      "IVR_RECORDINGS": str(ROOT / "recordings"), "IVR_LOG_LEVEL": "WARNING",
                      "IVR_ADMIN_USERS": f"bench:supervisor:{hash_password('bench-password')}"})
    client = app.test_client()
    login = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    client.post("/admin/login", data={"csrf_token": token, "name": "bench", "password": "bench-password"})
    return client


def timed(client, url: str) -> float:
    """Seconds to render one page (which must answer 200)."""
    began = time.perf_counter()
    answer = client.get(url)
    seconds = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {answer.status_code}: {answer.get_data(as_text=True)[:200]}")
    return seconds


def pages(last_day: str, days_back) -> list[tuple[str, str]]:
    """(name, url) of the pages to time."""
    out = []
    for days in (7, 30, 365):
        out.append((f"dashboard {days} d", f"/admin/?since={days_back(days)}&until={last_day}"))
    out.append(("dashboard 30 d queue", f"/admin/?since={days_back(30)}&until={last_day}&queue=billing"))
    out.append(("responses page 1", f"/admin/responses?since={days_back(365)}&until={last_day}"))
    out.append(("responses filtered", f"/admin/responses?since={days_back(365)}&until={last_day}"
                                      "&language=es&agent=agent7"))
    out.append(("alerts", "/admin/alerts"))
    out.append(("voicemail", "/admin/voicemail"))
    return out


def measure(client, redis_client, span: tuple[float, float], name: str, url: str) -> tuple[float, float]:
    """Cold (hourly rollups and daily aggregates dropped) then warm (median of 3) seconds."""
    forget_rollups(redis_client, *span)
    forget_days(redis_client)
    cold = timed(client, url)
    warm = statistics.median(timed(client, url) for _ in range(3))
    print(f"{name:<22}{cold * 1000:>11,.0f}{warm * 1000:>10,.1f}{cold / warm:>9,.0f}x", flush=True)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Survey responses to seed.")
    parser.add_argument("--redis-url", help="Use this (empty!) Redis instead of a private one.")
    args = parser.parse_args()
    from datetime import UTC, datetime, timedelta

    end = (time.time() // DAY - 7) * DAY  # midnight UTC a week ago: every hour is settled
    start = end - args.rows * 60.0
    data_dir = tempfile.mkdtemp(prefix="ivr-bench-data-")
    with given_or_private_redis(args.redis_url, "--appendonly", "no") as url:
        try:
            print(f"seeding {args.rows:,} responses ...", flush=True)
            print(f"seeded in {seed(url, args.rows, start):.1f} s (each response with its call record)")
            last = datetime.fromtimestamp(end - 1, UTC).date()
            client, redis_client = signed_in_client(url, data_dir), connect(url, socket_timeout=60)
            print(f"{'page':<22}{'cold ms':>11}{'warm ms':>10}{'ratio':>10}")
            for name, page in pages(last.isoformat(), lambda d: (last - timedelta(days=d - 1)).isoformat()):
                measure(client, redis_client, (start - DAY, end + DAY), name, page)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
