"""Voicemail records in Redis: one hash per recording, an index by time, statuses for staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.simulated import is_simulated
from ivr.writer import Command

STATUSES = ("new", "heard", "handled")


@dataclass(frozen=True)
class VoicemailStore:
    """Owns voicemail key names; builds idempotent writes and answers staff queries."""

    retention_seconds: int = 395 * 86400

    KEY = "ivr:vm:{%s}"
    INDEX = "ivr:vm:index"
    EMPTY = "ivr:vm:empty"

    def key(self, rid: str) -> str:
        """The hash of one voicemail (by Twilio RecordingSid)."""
        return self.KEY % rid

    def recorded(self, rid: str, at: float, fields: dict[str, Any], duration: int) -> list[Command]:
        """Commands storing a finished recording; an empty one is kept aside, not shown as a message."""
        key = self.key(rid)
        status = "new" if duration > 0 else "empty"
        flat = tuple(x for k, v in fields.items() for x in (k, "" if v is None else str(v)))
        commands = [Command("HSET", key, flat + ("duration", str(duration), "id", rid)),
                    Command("HSETNX", key, ("status", status)),
                    Command("HSETNX", key, ("at", repr(at))),
                    Command("EXPIRE", key, (self.retention_seconds,))]
        if is_simulated(fields.get("call_sid")):  # kept for the simulator, never listed for staff
            return commands
        index = self.INDEX if duration > 0 else self.EMPTY
        return commands + [Command("ZADD", index, ("NX", repr(at), rid))]

    def transcribed(self, rid: str, text: str, status: str) -> list[Command]:
        """Commands attaching a transcription (it may arrive before or after the recording)."""
        return [Command("HSET", self.key(rid), ("transcription", text, "transcription_status", status,
                                                "id", rid)),
                Command("EXPIRE", self.key(rid), (self.retention_seconds,))]

    def mark(self, client: Any, rid: str, status: str) -> bool:
        """Set a message's status (new, heard, handled); False when there is no such message."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if client.zscore(self.INDEX, rid) is None:
            return False
        client.hset(self.key(rid), "status", status)
        return True

    def purge(self, client: Any, before: float, batch: int = 500) -> int:
        """Delete voicemail records (messages and empty ones) from before `before`."""
        removed = 0
        for index in (self.INDEX, self.EMPTY):
            while rids := client.zrangebyscore(index, "-inf", f"({before}", start=0, num=batch):
                pipe = client.pipeline(transaction=False)
                for rid in rids:
                    pipe.delete(self.key(rid))
                pipe.zrem(index, *rids)
                pipe.execute()
                removed += len(rids)
        return removed

    def get(self, client: Any, rid: str) -> dict[str, str]:
        """One voicemail record."""
        return client.hgetall(self.key(rid))

    def list(self, client: Any, box: str | None = None, status: str | None = None,
             since: float = 0, until: float = float("inf"), limit: int = 500) -> list[dict[str, str]]:
        """Messages newest first, filtered by box and status (empty recordings never listed)."""
        high = "+inf" if until == float("inf") else f"({until}"
        out = []
        for rid in client.zrevrangebyscore(self.INDEX, high, since):
            record = client.hgetall(self.key(rid))
            if not record or (box and record.get("box") != box) or (status and record.get("status") != status):
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out
