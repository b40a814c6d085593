"""gunicorn settings for the IVR: timeouts well under Twilio's 15-second webhook limit."""

import multiprocessing
import os

bind = os.environ.get("IVR_BIND") or f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("IVR_THREADS", "1"))
timeout = 10  # a stuck worker is replaced before Twilio gives up on the webhook (15 s)
graceful_timeout = 10
keepalive = 5
accesslog = "-"
# The path only: query strings carry call state, which may hold digits a caller entered.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker):
    """Build the app when a worker starts, so a broken setup fails at start, not on a call."""
    import app

    app.app.load()
