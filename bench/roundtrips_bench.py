"""Redis round trips and commands per webhook, over one whole call (menu, queue, survey) and a
returning caller's second call, on a real Redis started for the run.

    python bench/roundtrips_bench.py [--batch-ms 0]

Round trips are counted on the client (each request the webhook's own thread sends; a pipeline is
one), commands on the server (INFO deltas). With `--batch-ms`, navigation events go through the
batcher (IVR_EVENT_BATCH_MS): its background writes are reported apart, off every webhook's path.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import redis  # noqa: E402
import redis.connection  # noqa: E402
from phone import TOKEN, Phone  # noqa: E402
from roundtrip_count import RoundTrips  # noqa: E402

from app import create_app  # noqa: E402
from bench.harness import machine, menus_open_all_hours, redis_server  # noqa: E402

TARGET = 1


def commands_processed(client: redis.Redis) -> int:
    """Commands the server has run, not counting this INFO itself."""
    return int(client.info("stats")["total_commands_processed"]) - 1


def call_steps(phone: Phone) -> list[tuple[str, Callable]]:
    """One call through menus, the support queue, an agent and the survey, as named webhooks."""
    enqueue = {}

    def to_queue():
        enqueue["el"] = phone.press("1").first("Enqueue")

    def done():
        el = enqueue["el"]
        after = phone.post(el.get("action"), {"QueueResult": "bridged", "QueueTime": 30})
        enqueue["survey"] = after.first("Redirect").text

    return [
        ("incoming call (new caller)", phone.call),
        ("key press: language -> main", lambda: phone.press("1")),
        ("key press: main -> support", lambda: phone.press("2")),
        ("key press: support -> queue", to_queue),
        ("queue wait", lambda: phone.post(enqueue["el"].get("waitUrl"), {"QueueTime": 5})),
        ("agent answers", lambda: phone.post("/voice/queue/answered?q=support&agent=alice",
                                             {"QueueTime": 30})),
        ("queue done (bridged)", done),
        ("survey offer", lambda: phone.post(enqueue["survey"])),
        ("survey: accept", lambda: phone.press("1")),
        ("survey answer 1", lambda: phone.press("4")),
        ("survey answer 2", lambda: phone.press("1")),
        ("survey answer 3", lambda: phone.press("10")),
        ("status callback", lambda: phone.post("/voice/status", {"CallStatus": "completed",
                                                                 "CallDuration": 200})),
        ("incoming call (returning caller)", lambda: phone.__class__(
            phone.client, number=phone.number).call()),
    ]


def measure(url: str, menus: Path, data: Path, server: redis.Redis | None,
            batch_ms: float = 0) -> list[tuple]:
    """Walk one call, counting per webhook; returns (name, round trips, commands or None)."""
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": url, "IVR_MENUS": str(menus),
                      "IVR_RECORDINGS": str(ROOT / "recordings"), "IVR_DATA_DIR": str(data),
                      "IVR_RELOAD_SECONDS": "0", "IVR_LOG_LEVEL": "WARNING",
                      "IVR_EVENT_BATCH_MS": str(batch_ms)})
    Phone(app.test_client(), number="+15550009999").call()  # warm up connections and scripts
    app.extensions["ivr"].recent.load()  # the index of recent routes, as a worker has it (a
    # worker loads it in the background at its first call: the bench must not race that load)
    trips, rows = RoundTrips(), []
    for name, step in call_steps(Phone(app.test_client())):
        before_cmds = commands_processed(server) if server else None
        before = trips.count
        with trips.counting():
            step()
            time.sleep(3 * batch_ms / 1000)  # let a batch go out, so commands land on this row
        after_cmds = commands_processed(server) if server else None
        commands = after_cmds - before_cmds - 1 if server else None  # the INFO before
        rows.append((name, trips.count - before, commands))
    if batch_ms:
        print(f"  batched event writes (background thread, off the webhooks): {trips.background}")
    return rows


def report(rows: list[tuple]) -> bool:
    """Print round trips and commands per webhook; True when each is within the target."""
    print(f"  {'webhook':<36}{'round trips':>12}{'commands':>10}")
    ok = True
    for name, trips, commands in rows:
        flag = "" if trips <= TARGET else "  over target"
        shown = "-" if commands is None else commands
        print(f"  {name:<36}{trips:>12}{shown:>10}{flag}")
        ok &= trips <= TARGET
    total = sum(r[1] for r in rows)
    print(f"  {'whole call (' + str(len(rows)) + ' webhooks)':<36}{total:>12}"
          f"{sum(r[2] or 0 for r in rows):>10}")
    print(f"  target: at most {TARGET} round trip per webhook -> {'PASS' if ok else 'MISS'}")
    return ok


def main() -> int:
    """Start Redis, walk the call, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-ms", type=float, default=20,
                        help="IVR_EVENT_BATCH_MS for the run (shipped default 20; 0: at once)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp, redis_server() as url:
        menus = menus_open_all_hours(Path(tmp) / "menus")
        server = redis.Redis.from_url(url, decode_responses=True)
        rows = measure(url, menus, Path(tmp) / "data", server, args.batch_ms)
    return 0 if report(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
