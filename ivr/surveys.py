"""Survey responses in Redis: one small hash per call, indexed by time and by queue or transfer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ivr import scripts
from ivr.writer import Command

DISPOSITIONS = ("offered", "declined", "no_input", "partial", "completed")

# KEYS[1] response hash; ARGV answer field, value, time field, time, updated_at.
# Writes the answer unless a newer one is stored (a late duplicate never wins; a repeated
# webhook changes nothing, not even updated_at), and turns an
# open response into `partial`: a finished one keeps its disposition.  Returns 1 when written.
scripts.register("survey_answer", """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local stored = redis.call('HGET', KEYS[1], ARGV[3])
if stored and tonumber(stored) > tonumber(ARGV[4]) then return 0 end
if stored == ARGV[4] and redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'updated_at', ARGV[5])
local d = redis.call('HGET', KEYS[1], 'disposition')
if d == 'offered' or d == 'no_input' then redis.call('HSET', KEYS[1], 'disposition', 'partial') end
return 1
""")

# KEYS[1] response hash; ARGV ended_at, final ("completed": the caller heard the closing;
# "ended": the call ended).  Settles the disposition once: completed when any question was
# answered, else no_input; a call that ended keeps partial, and one that ended on the offer
# (never accepted) is declined.  Never creates a response, never reopens a finished one.
scripts.register("survey_finish", """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local d = redis.call('HGET', KEYS[1], 'disposition')
if d == 'completed' or d == 'declined' or d == 'no_input' then return 0 end
if ARGV[2] == 'ended' then
  if d == 'offered' then
    d = redis.call('HEXISTS', KEYS[1], 'started_at') == 1 and 'no_input' or 'declined'
  end
  redis.call('HSET', KEYS[1], 'disposition', d, 'updated_at', ARGV[1])
  return 1
end
local answered = false
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  if string.sub(flat[i], 1, 2) == 'a:' and flat[i + 1] ~= '' then answered = true end
end
d = answered and 'completed' or 'no_input'
redis.call('HSET', KEYS[1], 'disposition', d, 'completed_at', ARGV[1], 'updated_at', ARGV[1])
return 1
""")


def stamp(at: float) -> str:
    """An epoch time as stored: seconds with one decimal, short and still ordered."""
    return f"{at:.1f}"


@dataclass(frozen=True)
class SurveyStore:
    """Owns survey key names and builds the idempotent commands that write responses."""

    retention_seconds: int = 395 * 86400

    KEY = "ivr:survey:{%s}"
    BY_TIME = "ivr:surveys:by_time"
    BY_QUEUE = "ivr:surveys:queue:%s"
    SURVEYED = "ivr:surveyed:{%s}"  # a caller surveyed recently (by keyed hash), with a TTL

    def key(self, sid: str) -> str:
        """The hash holding one call's response."""
        return self.KEY % sid

    def offered(self, sid: str, at: float, fields: dict[str, str], holder: str,
                caller_hash: str = "", quiet_days: int = 0) -> list[Command]:
        """Commands opening a response (a repeated webhook keeps the first offer and its answers)."""
        key = self.key(sid)
        values = {k: v for k, v in fields.items() if v}
        flat = tuple(x for k, v in values.items() for x in (k, str(v)))
        commands = [Command("HSETNX", key, ("offered_at", stamp(at))),
                    Command("HSETNX", key, ("disposition", "offered")),
                    Command("HSET", key, flat + ("call_sid", sid)),
                    Command("EXPIRE", key, (self.retention_seconds,)),
                    Command("ZADD", self.BY_TIME, ("NX", stamp(at), sid)),
                    Command("ZADD", self.BY_QUEUE % holder, ("NX", stamp(at), sid))]
        if caller_hash and quiet_days:
            commands.append(Command("SET", self.SURVEYED % caller_hash, (stamp(at), "EX", quiet_days * 86400)))
        return commands

    def started(self, sid: str, at: float) -> list[Command]:
        """Commands noting that the caller accepted the survey."""
        return [Command("HSETNX", self.key(sid), ("started_at", stamp(at)))]

    def declined(self, sid: str, at: float) -> list[Command]:
        """Commands noting that the caller turned the survey down (only while still just offered)."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "ended"))]

    def answered(self, sid: str, qid: str, value: str, asked_at: float, at: float) -> list[Command]:
        """Commands storing an answer, ordered by when the question was asked (late duplicates lose)."""
        return [Command.script("survey_answer", self.key(sid),
                               argv=(f"a:{qid}", value, f"t:{qid}", stamp(asked_at), stamp(at)))]

    def skipped(self, sid: str, qid: str, asked_at: float) -> list[Command]:
        """Commands recording a question left unanswered, never over an answer already stored."""
        return [Command("HSETNX", self.key(sid), (f"a:{qid}", "")),
                Command("HSETNX", self.key(sid), (f"t:{qid}", stamp(asked_at)))]

    def transcribed(self, sid: str, qid: str, text: str) -> list[Command]:
        """Commands attaching the transcription of a spoken comment."""
        return [Command("HSET", self.key(sid), (f"x:{qid}", text))]

    def finished(self, sid: str, at: float) -> list[Command]:
        """Commands closing a response once the caller heard the closing words."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "completed"))]

    def call_ended(self, sid: str, at: float) -> list[Command]:
        """Commands settling a response whose call ended mid-survey (nothing when there is none)."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "ended"))]

    # -- reads -----------------------------------------------------------------------------
    def get(self, client: Any, sid: str) -> dict[str, str]:
        """One call's response (empty when the call was not surveyed)."""
        return client.hgetall(self.key(sid))

    def last_surveyed(self, client: Any, caller_hash: str) -> float | None:
        """When this caller was last offered a survey (kept for the survey's quiet period)."""
        found = client.get(self.SURVEYED % caller_hash) if caller_hash else None
        return float(found) if found else None

    def sids(self, client: Any, since: float, until: float, holder: str | None = None) -> list[str]:
        """Calls offered a survey in [since, until), optionally only those of one queue or transfer."""
        index = self.BY_QUEUE % holder if holder else self.BY_TIME
        return client.zrangebyscore(index, since, f"({until}")

    def responses(self, client: Any, since: float, until: float) -> Iterator[dict[str, str]]:
        """Responses offered in [since, until), oldest first, read in pipelined batches."""
        sids = self.sids(client, since, until)
        for start in range(0, len(sids), 200):
            pipe = client.pipeline(transaction=False)
            for sid in sids[start:start + 200]:
                pipe.hgetall(self.key(sid))
            yield from (r for r in pipe.execute() if r)

    def purge(self, client: Any, before: float, batch: int = 500) -> int:
        """Delete responses offered before `before` and their index entries; return how many."""
        removed = 0
        while sids := client.zrangebyscore(self.BY_TIME, "-inf", f"({before}", start=0, num=batch):
            pipe = client.pipeline(transaction=False)
            for sid in sids:
                pipe.hmget(self.key(sid), "queue", "transfer")
            holders = pipe.execute()
            pipe = client.pipeline(transaction=False)
            for sid, names in zip(sids, holders, strict=True):
                pipe.delete(self.key(sid))
                for name in {n for n in names if n}:
                    pipe.zrem(self.BY_QUEUE % name, sid)
            pipe.zrem(self.BY_TIME, *sids)
            pipe.execute()
            removed += len(sids)
        return removed
