"""Webhook throughput and latency: the IVR against a constant-TwiML ceiling and a hand-written
VoiceResponse app, all under the same gunicorn settings, driven by wrk over loopback.

    python bench/webhook_bench.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.request_validator import RequestValidator  # noqa: E402

from bench.harness import (  # noqa: E402
    ROOT,
    TOKEN,
    Server,
    WrkResult,
    app_env,
    free_port,
    lua_post_script,
    machine,
    redis_server,
    servers,
    wrk,
)
from ivr.calls import CallStore  # noqa: E402
from ivr.privacy import caller_hash  # noqa: E402
from ivr.redisconn import connect  # noqa: E402
from ivr.registry import MenuRegistry  # noqa: E402
from ivr.state import CallState  # noqa: E402

CALLS = 500  # distinct CallSids per run, each signed in advance
TARGET_RPS, TARGET_P99 = 0.85, 1.2


def twilio_form(sid: int, **extra: str) -> dict[str, str]:
    """The fields Twilio posts to a voice webhook (a realistic count, since signing covers them all)."""
    form = {"AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01", "CallSid": f"CA{sid:032d}",
            "CallStatus": "in-progress", "Called": "+15550001111", "CalledCity": "", "CalledCountry":
            "US", "CalledState": "CA", "CalledZip": "", "Caller": f"+1555{sid:07d}", "CallerCity": "",
            "CallerCountry": "US", "CallerState": "NY", "CallerZip": "", "Direction": "inbound",
            "From": f"+1555{sid:07d}", "FromCity": "", "FromCountry": "US", "FromState": "NY",
            "FromZip": "", "To": "+15550001111", "ToCity": "", "ToCountry": "US", "ToState": "CA",
            "ToZip": ""}
    form.update(extra)
    return form


def webhooks(version: str) -> dict[str, tuple[str, dict]]:
    """Name -> (path with query, extra form fields) of the two benchmarked webhooks."""
    state = CallState(node="main", lang="en-US", version=version, step=1, heard=True)
    return {"incoming call": ("/voice/incoming", {}),
            "key press": ("/voice/menu?" + state.query_string(), {"Digits": "2"})}


def shipped_version() -> str:
    """The version of the shipped menus, which the signed key-press URLs carry."""
    return MenuRegistry(ROOT / "menus", ROOT / "recordings", check_every=0).current.version


SHIPPED = "ivr"  # the targets apply to the IVR as shipped; the other IVR rows show what costs what
NO_RETURNING = "ivr, no returning"  # served only the incoming call: its menus have another version
RETURNING = "ivr, returning callers"  # only the incoming call, from callers routed an hour ago
RETURNING_FIRST = 1_000_000  # their call numbers (and so their phone numbers) start here
HASH_KEY = "bench-hash-key"  # one caller-hash key for every IVR server, so the seeding matches


def compared_servers(redis_url: str, folder: Path, workers: int, practice: bool = True) -> list[Server]:
    """The servers a webhook comparison runs, all with the same gunicorn settings: the ceiling,
    common practice (unless left out), the IVR as shipped (events batched every 20 ms and
    journalled), the IVR writing every event at once (IVR_EVENT_BATCH_MS=0), and, for the
    incoming call, the IVR on a line with `returning_callers: false` (no read of the caller)
    and the IVR answering callers it remembers (one read each: the welcome-back menu)."""
    plain = app_env(redis_url, folder / "data", IVR_HASH_KEY=HASH_KEY)
    at_once = app_env(redis_url, folder / "data-at-once", IVR_EVENT_BATCH_MS="0", IVR_HASH_KEY=HASH_KEY)
    menus = shutil.copytree(ROOT / "menus", folder / "menus-no-returning")
    line = menus / "line.yaml"
    line.write_text(line.read_text().replace("returning_callers: true", "returning_callers: false"))
    no_returning = app_env(redis_url, folder / "data-no-returning", IVR_MENUS=str(menus))
    returning = app_env(redis_url, folder / "data-returning", IVR_HASH_KEY=HASH_KEY)
    remember_callers(redis_url)
    named = [("ceiling", "ceiling_app:app", plain), ("common practice", "practice_app:app", plain),
             (SHIPPED, "app:app", plain), ("ivr, at once", "app:app", at_once),
             (NO_RETURNING, "app:app", no_returning), (RETURNING, "app:app", returning)]
    return [Server(name, target, env, workers, free_port()) for name, target, env in named
            if practice or name != "common practice"]


def remember_callers(redis_url: str) -> None:
    """Remember the returning callers' numbers as a route an hour ago would have."""
    client = connect(redis_url)
    store, at = CallStore(), time.time() - 3600
    for sid in range(RETURNING_FIRST, RETURNING_FIRST + CALLS):
        who = caller_hash(twilio_form(sid)["From"], HASH_KEY)
        for command in store.remember_caller(who, {"lang": "en-US", "dest": "queue:billing", "at": at},
                                             86400):
            client.execute_command(*command.redis_args())


def serves(server: Server, hook: str) -> bool:
    """True when `server` takes part in the comparison of webhook `hook`."""
    return server.name not in (NO_RETURNING, RETURNING) or hook == "incoming call"


def script_for(folder: Path, server: Server, path: str, extra: dict) -> Path:
    """A wrk script whose requests are signed for this server's URL."""
    validator = RequestValidator(TOKEN)
    url = server.base + path
    bodies = []
    first = RETURNING_FIRST if server.name == RETURNING else 0
    for sid in range(first, first + CALLS):
        form = twilio_form(sid, **extra)
        bodies.append((urlencode(form), validator.compute_signature(url, form)))
    return lua_post_script(folder / f"{server.name}-{abs(hash(path))}.lua", bodies)


def measure(specs: list[Server], hooks: dict, seconds: float, rounds: int, folder: Path) -> dict:
    """Interleaved rounds of wrk per webhook and server; returns the per-run results."""
    results: dict = {}
    for hook, (path, extra) in hooks.items():
        specs_here = [s for s in specs if serves(s, hook)]
        scripts = {s.name: script_for(folder, s, path, extra) for s in specs_here}
        for server in specs_here:  # warm up: imports, first Redis connection, menu caches
            wrk(server.base + path, scripts[server.name], 1)
        for _ in range(rounds):
            for server in specs_here:
                run = wrk(server.base + path, scripts[server.name], seconds)
                if run.errors:
                    raise SystemExit(f"{server.name} {hook}: {run.errors} failed requests")
                results.setdefault(hook, {}).setdefault(server.name, []).append(run)
    return results


def median(runs: list[WrkResult]) -> WrkResult:
    """The median of each figure over the rounds."""
    return WrkResult(rps=statistics.median(r.rps for r in runs),
                     p50_ms=statistics.median(r.p50_ms for r in runs),
                     p99_ms=statistics.median(r.p99_ms for r in runs),
                     requests=sum(r.requests for r in runs), errors=0)


def report(results: dict) -> bool:
    """Print the figures and the ratios to the ceiling; return True when the IVR as shipped
    meets every target (the other IVR rows are printed for comparison only)."""
    ok = True
    for hook, by_server in results.items():
        figures = {name: median(runs) for name, runs in by_server.items()}
        ceiling = figures["ceiling"]
        print(f"\n{hook}")
        print(f"  {'server':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'req/s ratio':>13}"
              f"{'p99 ratio':>11}")
        for name, fig in figures.items():
            print(f"  {name:<24}{fig.rps:>9.0f}{fig.p50_ms:>9.2f}{fig.p99_ms:>9.2f}"
                  f"{fig.rps / ceiling.rps:>13.2f}{fig.p99_ms / ceiling.p99_ms:>11.2f}")
        practice = figures["common practice"]
        for name in (n for n in figures if n == SHIPPED):
            ours = figures[name]
            checks = {f"req/s >= {TARGET_RPS} x ceiling": ours.rps >= TARGET_RPS * ceiling.rps,
                      "req/s > common practice": ours.rps > practice.rps,
                      f"p99 <= {TARGET_P99} x ceiling": ours.p99_ms <= TARGET_P99 * ceiling.p99_ms}
            for label, passed in checks.items():
                print(f"  {'PASS' if passed else 'MISS'}  {name}: {label}")
                ok &= passed
    return ok


def main() -> int:
    """Start Redis and the three servers, run wrk, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each measured wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (all servers)")
    args = parser.parse_args()
    version = shipped_version()
    print(f"machine: {machine()}")
    print(f"gunicorn -w {args.workers} --threads 1 (sync) for every server; wrk -c "
          f"{args.connections} -t 2, {args.rounds} x {args.seconds:g} s per server and webhook")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp, redis_server() as url:
        specs = compared_servers(url, Path(tmp), args.workers)
        with servers(*specs):
            results = measure(specs, webhooks(version), args.seconds, args.rounds, Path(tmp))
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
