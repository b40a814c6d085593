"""Export benchmark: seed N survey responses in a private Redis, export each format, report speed.

    python bench/export_bench.py --rows 1000000 [--formats csv,jsonl,xlsx] [--redis-url URL]

Each format runs in its own subprocess so its peak memory (ru_maxrss) is its own.
Targets: CSV >= 100,000 rows/s and peak memory < 150 MB for every format. Baseline, in the same
run: the standard library's csv.writer writing as many rows of the same shape from memory (how
fast this machine writes CSV at all; the ratio is ours to it, 1.0 would be "free" reading).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import given_or_private_redis, machine  # noqa: E402
from ivr.redisconn import connect  # noqa: E402
from ivr.surveys import SurveyStore  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
KINDS = "csat:scale:1-5,resolved:yes_no,nps:nps:0-10,comment:comment"


QUEUES, CYCLE = ("billing", "support", "sales"), 120  # queue, agent and language repeat every 120


def seed_contexts(client) -> list[str]:
    """Store the 120 contexts (survey, queue, agent, language...) the seeded responses share; refs."""
    store, refs = SurveyStore(), []
    for n in range(CYCLE):
        record = {"survey": "csat", "kinds": KINDS, "queue": QUEUES[n % 3], "agent": f"agent{n % 40}",
                  "lang": "es" if n % 3 == 0 else "en", "path": "main>support", "offered_at": "0"}
        _, ref, context = store.encode(record)
        client.hsetnx(store.CONTEXTS, ref, context)
        refs.append(ref)
    return refs


# Writes responses first .. first+count-1 in the stored encoding (docs/surveys.md, the same as
# SurveyStore.encode gives), one minute apart; ARGV[4..] are the context refs of seed_contexts.
# Run as pipelined EVALSHA batches so seeding a million takes seconds, not minutes.
SEED_LUA = """
local first, count, start = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local disp = {'c', 'c', 'c', 'p', 'd', 'n'}
for n = first, first + count - 1 do
  local at = start + n * 60
  local sid = string.format('CA%032x', n)
  local key = 'ivr:survey:{' .. sid .. '}'
  redis.call('HSET', key, 'c', ARGV[4 + n % 120], 'h', tostring((n * 2654435761) % 4294967296),
    'o', tostring(at), 's', disp[n % 6 + 1] .. ',2,40,40', '1', (1 + n % 5) .. '@100',
    '2', ((n % 4 == 0) and 'no' or 'yes') .. '@200', '3', (n % 11) .. '@300')
  if n % 10 == 0 then
    redis.call('HSET', key, '4', 'https://api.twilio.com/rec/RE' .. sid .. '@350',
      'x4', "=cmd|' /C calc'!A0 the agent was helpful, thanks")
  end
  redis.call('ZADD', 'ivr:surveys:by_time', at, sid)
end
return count
"""


def seed(url: str, rows: int, batch: int = 2000) -> float:
    """Write `rows` responses with pipelined server-side batches; returns seconds taken."""
    client, began = connect(url, socket_timeout=120), time.perf_counter()
    script, refs = client.register_script(SEED_LUA), seed_contexts(client)
    pipe = client.pipeline(transaction=False)
    for first in range(0, rows, batch):
        script(args=[first, min(batch, rows - first), int(START), *refs], client=pipe)
        if len(pipe) >= 50:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - began


def child(url: str, fmt: str, out: str) -> None:
    """Export every seeded response in `fmt` and print one JSON line of measurements."""
    from ivr.export import rows, write_csv, write_jsonl, write_xlsx

    client = connect(url, socket_timeout=60)
    began = time.perf_counter()
    stream = rows(client, "surveys", datetime(2025, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                  tz="America/New_York")
    if fmt == "xlsx":
        count = write_xlsx(stream, out)
    else:
        with open(out, "wb") as handle:
            count = write_csv(stream, handle, bom=True) if fmt == "csv" else write_jsonl(stream, handle)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"format": fmt, "rows": count, "seconds": seconds, "peak_mb": peak_mb,
                      "bytes": os.path.getsize(out),
                      "baseline": baseline(out, count) if fmt == "csv" else None}))


def baseline(out: str, count: int) -> float:
    """Seconds the standard library's csv.writer takes to write `count` rows shaped like the
    export's first 1,000 (already strings, in memory): how fast this machine writes CSV at all,
    measured in the same run, so the export's speed can be read as a ratio."""
    with open(out, encoding="utf-8-sig", errors="replace") as handle:
        sample = list(itertools.islice(csv.reader(handle), 1, 1001))
    began = time.perf_counter()
    with open(os.devnull, "w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        for _ in range(count // len(sample)):
            writer.writerows(sample)
        writer.writerows(sample[:count % len(sample)])
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,jsonl,xlsx")
    parser.add_argument("--redis-url", help="Use this (empty!) Redis instead of a private one.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.redis_url, args.child, args.out)
        return
    workdir = tempfile.mkdtemp(prefix="ivr-bench-out-")
    with given_or_private_redis(args.redis_url, "--appendonly", "no") as url:
        try:
            print(f"{machine()}; load average {os.getloadavg()[0]:.1f}")
            print(f"seeding {args.rows:,} survey responses ...", flush=True)
            print(f"seeded in {seed(url, args.rows):.1f} s")
            print(f"{'format':<7}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}{'file MB':>9}"
                  f"{'csv.writer rows/s':>19}{'ratio':>7}")
            for fmt in args.formats.split(","):
                out = os.path.join(workdir, f"surveys.{fmt}")
                done = subprocess.run([sys.executable, __file__, "--child", fmt, "--redis-url", url,
                                       "--out", out], capture_output=True, text=True, check=True)
                m = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{fmt:<7}{m['rows']:>11,}{m['seconds']:>9.1f}{m['rows'] / m['seconds']:>10,.0f}"
                      f"{m['peak_mb']:>9.0f}{m['bytes'] / 2**20:>9.0f}"
                      + (f"{m['rows'] / m['baseline']:>19,.0f}{m['baseline'] / m['seconds']:>7.2f}"
                         if m["baseline"] else ""), flush=True)
                os.remove(out)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
