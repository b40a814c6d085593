"""Survey answers stored per second over HTTP (signed webhooks to gunicorn), and Redis memory per
stored 3-answer response (`MEMORY USAGE`) against the raw size of its fields and values.

    python bench/survey_bench.py [--calls 600] [--threads 16] [--workers 4]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.harness import (  # noqa: E402
    ROOT,
    TOKEN,
    Server,
    app_env,
    machine,
    menus_open_all_hours,
    redis_server,
    servers,
)
from ivr.loader import check_menus  # noqa: E402
from ivr.state import CallState  # noqa: E402
from ivr.surveys import SurveyStore  # noqa: E402

ANSWERS = ("1", "4", "1", "9")  # accept the offer, CSAT 4, resolved yes, NPS 9
TARGET_BYTES = 200


class Caller:
    """One keep-alive HTTP connection that posts signed Twilio webhooks and parses the TwiML."""

    def __init__(self, server: Server):
        self.base = server.base
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.sign = RequestValidator(TOKEN).compute_signature

    def post(self, path: str, sid: str, **extra: str) -> ET.Element:
        """POST a signed webhook for call `sid`; the parsed TwiML answer."""
        form = {"CallSid": sid, "From": "+1555" + sid[-7:], "To": "+15550001111",
                "AccountSid": "AC" + "1" * 32, "CallStatus": "in-progress", **extra}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": self.sign(self.base + path, form)}
        self.conn.request("POST", path, body=urlencode(form), headers=headers)
        reply = self.conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{path} answered {reply.status}: {body[:200]!r}")
        return ET.fromstring(body)


def offer(caller: Caller, sid: str, version: str) -> str:
    """The agent leg of a support call ends (bridged): the survey URL the caller is redirected to."""
    state = CallState(node="support", lang="en-US", version=version, step=3, stack=("language", "main"))
    path = "/voice/queue/done?" + urlencode({**state.to_query(), "q": "support"})
    return caller.post(path, sid, QueueResult="bridged", QueueTime="20").find("Redirect").text


def answer(caller: Caller, sid: str, ask_url: str) -> None:
    """The survey itself: the offer, then one answer per question, each from the last Gather."""
    twiml = caller.post(ask_url, sid)
    for digits in ANSWERS:
        twiml = caller.post(twiml.find("Gather").get("action"), sid, Digits=digits)


def run_calls(server: Server, version: str, calls: int, threads: int) -> tuple[float, list[str]]:
    """Offer `calls` surveys (untimed), then time the answering; answers stored per second."""
    sids = [f"CA{n:032d}" for n in range(calls)]
    chunks = [sids[i::threads] for i in range(threads)]

    def setup(chunk: list[str]) -> list[tuple[str, str]]:
        caller = Caller(server)
        return [(sid, offer(caller, sid, version)) for sid in chunk]

    def survey(pairs: list[tuple[str, str]]) -> None:
        caller = Caller(server)
        for sid, url in pairs:
            answer(caller, sid, url)

    with ThreadPoolExecutor(threads) as pool:
        offers = list(pool.map(setup, chunks))
        started = time.perf_counter()
        list(pool.map(survey, offers))
        elapsed = time.perf_counter() - started
    return 3 * calls / elapsed, sids


def memory(client: redis.Redis, sids: list[str]) -> dict[str, float]:
    """Average bytes per response: the hash (MEMORY USAGE), the raw fields+values of the response
    in the contract's names, index entries, and the shared contexts (ivr:survey:contexts)."""
    used, raw, store = [], [], SurveyStore()
    for sid in sids:
        response = store.get(client, sid)
        if response.get("disposition") != "completed" or \
                not {"a:csat", "a:resolved", "a:nps"} <= set(response):
            raise RuntimeError(f"{sid}: response incomplete: {response}")
        used.append(client.memory_usage(store.key(sid), samples=0))
        raw.append(sum(len(k) + len(v) for k, v in response.items()))
    indexes = sum(client.memory_usage(k, samples=0) for k in (store.BY_TIME,
                                                              store.BY_QUEUE % "support"))
    return {"hash": statistics.mean(used), "raw": statistics.mean(raw), "index": indexes / len(sids),
            "contexts": client.memory_usage(store.CONTEXTS, samples=0) / len(sids),
            "encoding": client.object("encoding", store.key(sids[0]))}


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, redis_server() as url:
        menus = menus_open_all_hours(Path(tmp) / "menus")
        version = check_menus(menus, ROOT / "recordings")[0].version
        env = app_env(url, Path(tmp) / "data", IVR_MENUS=str(menus), IVR_RETURNING_HOURS="0")
        with servers(Server("ivr", "app:app", env, workers=args.workers)) as (server,):
            rate, sids = run_calls(server, version, args.calls, args.threads)
        client = redis.Redis.from_url(url, decode_responses=True)
        mem = memory(client, sids)
    print(f"machine: {machine()}")
    print(f"gunicorn {args.workers} workers, {args.threads} client threads, {args.calls} surveys "
          f"(offer + 3 answers each, signed, one pipelined write per answer)")
    print(f"survey answers stored: {rate:,.0f} per second ({rate / 3 * 4:,.0f} answer webhooks/s)")
    print(f"memory per 3-answer response: hash {mem['hash']:.0f} B ({mem['encoding']}), raw fields+values "
          f"{mem['raw']:.0f} B ({mem['hash'] / mem['raw']:.2f}x raw), index entries "
          f"{mem['index']:.0f} B, shared contexts {mem['contexts']:.0f} B; hash {mem['hash']:.0f} B "
          f"against a {TARGET_BYTES} B target")


if __name__ == "__main__":
    main()
