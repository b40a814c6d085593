"""Low-score alerts: stored once for supervisors, and POSTed to a webhook with retries, never twice."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from ivr import scripts
from ivr.simulated import is_simulated
from ivr.writer import UNAVAILABLE, Command

log = logging.getLogger("ivr.alerts")
STATUSES = ("open", "acknowledged")

# KEYS[1] alert hash; ARGV field, value, ...  Creates the alert only when it does not exist, so a
# repeated or late answer webhook never makes a second alert nor changes the first.
scripts.register("alert_create", """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
""")


@dataclass(frozen=True)
class AlertStore:
    """Owns alert key names: one hash per (call, question), a time index and a delivery outbox."""

    retention_seconds: int = 395 * 86400

    KEY = "ivr:alert:{%s}"
    LOCK = "ivr:alert:{%s}:sending"  # same slot as the alert: one sender at a time
    BY_TIME = "ivr:alerts:by_time"
    OUTBOX = "ivr:alerts:outbox"  # alert ids waiting for webhook delivery, scored by next try

    def key(self, alert_id: str) -> str:
        """The hash of one alert."""
        return self.KEY % alert_id

    def raised(self, fields: dict[str, str], at: float, deliver: bool) -> list[Command]:
        """Commands creating an alert (once) and, with a webhook configured, queueing its delivery."""
        if is_simulated(fields.get("call_sid")):
            return []  # a low score typed into the simulator alerts nobody
        alert_id = fields["id"]
        values = {**fields, "at": f"{at:.1f}", "status": "open"}
        flat = tuple(x for k, v in values.items() for x in (k, str(v)))
        commands = [Command.script("alert_create", self.key(alert_id), argv=flat),
                    Command("EXPIRE", self.key(alert_id), (self.retention_seconds,)),
                    Command("ZADD", self.BY_TIME, ("NX", f"{at:.1f}", alert_id))]
        if deliver:
            commands.append(Command("ZADD", self.OUTBOX, ("NX", f"{at:.1f}", alert_id)))
        return commands

    def get(self, client: Any, alert_id: str) -> dict[str, str]:
        """One alert (empty when unknown)."""
        return client.hgetall(self.key(alert_id))

    def list(self, client: Any, status: str | None = None, limit: int = 200) -> list[dict[str, str]]:
        """Alerts newest first, optionally only open or acknowledged ones."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        out: list[dict[str, str]] = []
        for alert_id in client.zrevrange(self.BY_TIME, 0, -1):
            alert = client.hgetall(self.key(alert_id))
            if alert and (status is None or alert.get("status") == status):
                out.append(alert)
                if len(out) >= limit:
                    break
        return out

    def acknowledge(self, client: Any, alert_id: str, by: str) -> bool:
        """Mark an alert acknowledged by a supervisor; False when there is no such alert."""
        if not client.exists(self.key(alert_id)):
            return False
        client.hset(self.key(alert_id), mapping={"status": "acknowledged", "acknowledged_by": by,
                                                 "acknowledged_at": f"{time.time():.1f}"})
        return True

    def purge(self, client: Any, before: float) -> int:
        """Delete alerts raised before `before`; return how many."""
        ids = client.zrangebyscore(self.BY_TIME, "-inf", f"({before}")
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            pipe = client.pipeline(transaction=False)
            for alert_id in chunk:
                pipe.delete(self.key(alert_id))
            pipe.zrem(self.BY_TIME, *chunk)
            pipe.zrem(self.OUTBOX, *chunk)
            pipe.execute()
        return len(ids)


def slack_text(alert: dict[str, str]) -> str:
    """The alert as one line of text for a Slack incoming webhook (no caller number, ever)."""
    where = alert.get("queue") or "unknown queue"
    agent = f", agent {alert['agent']}" if alert.get("agent") else ""
    return (f":warning: Low survey score: {alert.get('question')} = {alert.get('score')} "
            f"({alert.get('survey')}) on {where}{agent}, call {alert.get('call_sid')} "
            f"[{alert.get('lang')}]")


class AlertSender:
    """Delivers queued alerts from a background thread, so callers never wait on the webhook."""

    def __init__(self, client: Any, url: str, store: AlertStore | None = None, timeout: float = 3.0,
                 retry_after: float = 30.0, attempts: int = 8):
        self.client, self.url, self.store = client, url, store or AlertStore()
        self.timeout, self.retry_after, self.attempts = timeout, retry_after, attempts
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def kick(self) -> None:
        """Ask the background thread to look at the outbox now (starting it on first use)."""
        if not self.url or self._stopped:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ivr-alerts", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop the background thread (alerts not yet sent stay queued in Redis for the next start)."""
        self._stopped = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(timeout=self.retry_after)
            self._wake.clear()
            if self._stopped:
                return
            try:
                while self.deliver_due() and not self._wake.is_set():
                    pass
            except UNAVAILABLE as exc:  # alerts wait in Redis: nothing is lost, try again later
                log.warning("alert delivery paused, Redis unavailable: %s", exc)
            except Exception:  # a bug: log it, and keep the thread for the next wake-up
                log.exception("alert delivery failed; will retry")

    def deliver_due(self, now: float | None = None) -> int:
        """POST every alert whose delivery is due; return how many were sent."""
        now = time.time() if now is None else now
        sent = 0
        for alert_id in self.client.zrangebyscore(self.store.OUTBOX, "-inf", now, start=0, num=50):
            sent += self._deliver_one(alert_id, now)
        return sent

    def _deliver_one(self, alert_id: str, now: float) -> int:
        store, client = self.store, self.client
        if not client.set(store.LOCK % alert_id, "1", nx=True, ex=max(int(self.timeout * 3), 10)):
            return 0  # another process is sending it
        try:
            alert = store.get(client, alert_id)
            if not alert or alert.get("delivered_at"):
                client.zrem(store.OUTBOX, alert_id)  # a duplicate queued again after delivery
                return 0
            if self._post(alert):
                client.hset(store.key(alert_id), "delivered_at", f"{time.time():.1f}")
                client.zrem(store.OUTBOX, alert_id)
                return 1
            self._later(alert_id, int(client.hincrby(store.key(alert_id), "delivery_attempts", 1)), now)
            return 0
        finally:
            client.delete(store.LOCK % alert_id)

    def _later(self, alert_id: str, tries: int, now: float) -> None:
        """Try again later with a growing delay, or give up after `attempts` tries."""
        if tries >= self.attempts:
            log.error("alert %s: webhook refused it %d times; giving up", alert_id, tries)
            self.client.zrem(self.store.OUTBOX, alert_id)  # first: "failed" means out of the outbox
            self.client.hset(self.store.key(alert_id), "delivery", "failed")
            return
        delay = self.retry_after * min(2 ** (tries - 1), 32)
        self.client.zadd(self.store.OUTBOX, {alert_id: now + delay}, xx=True)
        self._wake_later(delay)

    def _wake_later(self, delay: float) -> None:
        timer = threading.Timer(delay, self._wake.set)
        timer.daemon = True
        timer.start()

    def _post(self, alert: dict[str, str]) -> bool:
        """POST the alert as Slack-compatible JSON; True on a 2xx answer."""
        body = json.dumps({"text": slack_text(alert), "alert": alert}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return 200 <= response.status < 300
        except (OSError, ValueError) as exc:  # HTTPError, URLError and timeouts are OSErrors
            log.warning("alert %s: webhook failed: %s", alert.get("id"), exc)
            return False
