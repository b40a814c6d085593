"""CPU per webhook request, split by process (gunicorn workers, redis-server, wrk), for the
constant-TwiML ceiling and the IVR with and without batched events, under the same wrk load as
bench/webhook_bench.py.

    python bench/cpu_bench.py [--seconds 5]

On a saturated machine req/s follows the total CPU per request, so this shows where the IVR's
remaining cost against the ceiling is spent: in its own worker, in Redis, or in the load tool.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from bench.harness import machine, redis_server, servers, wrk  # noqa: E402
from bench.webhook_bench import (  # noqa: E402
    compared_servers,
    script_for,
    serves,
    shipped_version,
    webhooks,
)

TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(group: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == group:  # field 5: the process group
            total += int(stat[11]) + int(stat[12])  # fields 14 and 15: utime, stime
    return total / TICKS


def redis_cpu(client: redis.Redis) -> float:
    """CPU seconds redis-server has used so far."""
    info = client.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def children_cpu() -> float:
    """CPU seconds used by this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    """Run wrk against each server and print CPU microseconds per request by process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    args = parser.parse_args()
    version = shipped_version()
    print(f"machine: {machine()}; gunicorn -w 2 sync, wrk -c 32 -t 2, {args.seconds:g} s per run")
    print(f"  {'webhook':<15}{'server':<24}{'req/s':>7}{'gunicorn':>10}{'redis':>8}{'wrk':>7}"
          f"{'total':>8}  (us CPU per request)")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp, redis_server() as url:
        client = redis.Redis.from_url(url)
        specs = compared_servers(url, Path(tmp), workers=2, practice=False)
        with servers(*specs):
            for hook, (path, extra) in webhooks(version).items():
                for server in (s for s in specs if serves(s, hook)):
                    script = script_for(Path(tmp), server, path, extra)
                    wrk(server.base + path, script, 1)  # warm up
                    before = group_cpu(server.proc.pid), redis_cpu(client), children_cpu()
                    run = wrk(server.base + path, script, args.seconds)
                    after = group_cpu(server.proc.pid), redis_cpu(client), children_cpu()
                    used = [(b - a) * 1e6 / run.requests for a, b in zip(before, after, strict=True)]
                    print(f"  {hook:<15}{server.name:<24}{run.rps:>7.0f}{used[0]:>10.0f}"
                          f"{used[1]:>8.0f}{used[2]:>7.0f}{sum(used):>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
