"""CPU time per webhook inside one process (direct WSGI calls, no HTTP): the IVR against the
constant-TwiML ceiling app, side by side in the same run.

    python bench/inprocess_bench.py [--batch-ms 0] [--requests 3000]

It shows where a request's own time goes without gunicorn, wrk and the loopback sharing the
cores; `time.process_time` leaves out the time spent waiting for Redis.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "apps")]

from twilio.request_validator import RequestValidator  # noqa: E402

from bench.harness import TOKEN, machine, redis_server  # noqa: E402
from bench.webhook_bench import shipped_version, twilio_form, webhooks  # noqa: E402

HOST = "127.0.0.1:8000"


def environ(path: str, body: bytes, signature: str) -> dict:
    """The WSGI environ gunicorn would build for a signed Twilio form post."""
    route, _, query = path.partition("?")
    return {"REQUEST_METHOD": "POST", "PATH_INFO": route, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": HOST,
            "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_X_TWILIO_SIGNATURE": signature, "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False}


def cpu_per_request(app, path: str, extra: dict, requests: int) -> float:
    """Microseconds of CPU per request, after a warm-up pass (200 distinct signed calls)."""
    validator = RequestValidator(TOKEN)
    signed = []
    for sid in range(200):
        form = twilio_form(sid, **extra)
        signed.append((urlencode(form).encode(), validator.compute_signature(f"http://{HOST}{path}", form)))
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    for _ in range(2):  # the first pass warms connections, scripts and caches
        started = time.process_time()
        for n in range(requests):
            body, signature = signed[n % len(signed)]
            b"".join(app(environ(path, body, signature), start_response))
        spent = (time.process_time() - started) / requests * 1e6
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"{path}: {statuses[-1]}")
    return spent


def main() -> int:
    """Build both apps on a throwaway Redis and print CPU per request for each webhook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-ms", type=float, default=20,
                        help="IVR_EVENT_BATCH_MS for the IVR (shipped default 20; 0: at once)")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    version = shipped_version()
    print(f"machine: {machine()}; IVR_EVENT_BATCH_MS={args.batch_ms:g}")
    with redis_server() as url, tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        os.environ.update(REDIS_URL=url, TWILIO_AUTH_TOKEN=TOKEN, IVR_DATA_DIR=tmp,
                          IVR_LOG_LEVEL="WARNING", IVR_WARM_SECONDS="0",
                          IVR_EVENT_BATCH_MS=str(args.batch_ms))
        import ceiling_app

        from app import create_app

        ivr = create_app()
        print(f"  {'webhook':<16}{'ceiling us':>12}{'ivr us':>10}{'ratio':>8}")
        for name, (path, extra) in webhooks(version).items():
            ceiling = cpu_per_request(ceiling_app.app, path, extra, args.requests)
            ours = cpu_per_request(ivr, path, extra, args.requests)
            print(f"  {name:<16}{ceiling:>12.1f}{ours:>10.1f}{ours / ceiling:>8.2f}")
        ivr.extensions["ivr"].events.flush()  # batched events out before Redis stops
    return 0


if __name__ == "__main__":
    sys.exit(main())
