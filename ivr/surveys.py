"""Survey responses in Redis: one small hash per call, indexed by time and by queue or transfer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ivr import scripts
from ivr.simulated import is_simulated
from ivr.writer import Command

DISPOSITIONS = ("offered", "declined", "no_input", "partial", "completed")
CODES = {"offered": "o", "declined": "d", "no_input": "n", "partial": "p", "completed": "c"}
NAMES = {code: name for name, code in CODES.items()}
# Facts shared by many responses, stored once per distinct combination (see docs/surveys.md).
CONTEXT_FIELDS = ("survey", "kinds", "queue", "transfer", "agent", "lang", "path")
TIME_FIELDS = ("started_at", "completed_at", "updated_at")  # stored as seconds after the offer
INT64 = 1 << 64

# Shared by the scripts: `s` is "<disposition code>,<started>,<completed>,<updated>", the times
# in whole seconds after `o` (the offer, epoch seconds), empty until they happen.
_STATE_LUA = """
local o = redis.call('HGET', KEYS[1], 'o')
if not o then return 0 end
o = tonumber(o)
local st = {string.match(redis.call('HGET', KEYS[1], 's') or 'o,,,', '^(%a),([^,]*),([^,]*),([^,]*)$')}
local function after(at) return math.floor(tonumber(at) - o) end
local function save() redis.call('HSET', KEYS[1], 's', table.concat(st, ',')) end
"""

# KEYS[1] response; ARGV at.  Notes that the caller accepted (the first time only).
scripts.register("survey_start", _STATE_LUA + """
if st[2] ~= '' then return 0 end
st[2] = after(ARGV[1]); save()
return 1
""")

# KEYS[1] response hash; ARGV question position (1-based), value, asked_at, at, mode (answer |
# skip).  An answer is stored as "<value>@<tenths of a second after the offer it was asked>" unless
# a newer one is stored (a late duplicate never wins; a repeated webhook changes nothing, not even
# updated_at), and turns an open response into partial: a finished one keeps its disposition.
# A skip ("@<asked>") never replaces anything.  Returns 1 when written.
scripts.register("survey_answer", _STATE_LUA + """
local asked = math.floor((tonumber(ARGV[3]) - o) * 10 + 0.5)
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[5] == 'skip' then
  if stored then return 0 end
  redis.call('HSET', KEYS[1], ARGV[1], '@' .. asked)
  return 1
end
if stored then
  local value, at = string.match(stored, '^(.*)@(%-?%d+)$')
  if tonumber(at) > asked or (tonumber(at) == asked and value == ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '@' .. asked)
if st[1] == 'o' or st[1] == 'n' then st[1] = 'p' end
st[4] = after(ARGV[4]); save()
return 1
""")

# KEYS[1] response hash; ARGV ended_at, final ("completed": the caller heard the closing;
# "ended": the call ended).  Settles the disposition once: completed when any question was
# answered, else no_input; a call that ended keeps partial, and one that ended on the offer
# (never accepted) is declined.  Never creates a response, never reopens a finished one.
scripts.register("survey_finish", _STATE_LUA + """
local d = st[1]
if d == 'c' or d == 'd' or d == 'n' then return 0 end
st[4] = after(ARGV[1])
if ARGV[2] == 'ended' then
  if d == 'o' then st[1] = (st[2] ~= '') and 'n' or 'd' end
  save()
  return 1
end
local answered = false
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  if string.match(flat[i], '^%d+$') and string.sub(flat[i + 1], 1, 1) ~= '@' then answered = true end
end
st[1] = answered and 'c' or 'n'
st[3] = st[4]; save()
return 1
""")


def stamp(at: float) -> str:
    """An epoch time as the survey state in URLs carries it: seconds with one decimal."""
    return f"{at:.1f}"


def context_ref(context: str) -> str:
    """The short name of a stored context: 63 bits of its SHA-256, so the same facts share it."""
    return str(int.from_bytes(hashlib.sha256(context.encode()).digest()[:8], "big") >> 1)


def pack_hash(caller_hash: str) -> str:
    """A caller hash as stored: its first 16 hex digits as a signed 64-bit integer, else as is."""
    head = caller_hash[:16]
    if len(head) == 16 and all(ch in "0123456789abcdef" for ch in head):
        return str(int.from_bytes(bytes.fromhex(head), "big", signed=True))
    return "~" + caller_hash


def unpack_hash(stored: str) -> str:
    """The caller hash (16 hex digits) behind a stored value."""
    return stored[1:] if stored.startswith("~") else f"{int(stored) % INT64:016x}"


_contexts: dict[str, list[str]] = {}  # ref -> context facts: a ref never changes meaning


@dataclass(frozen=True)
class SurveyStore:
    """Owns survey key names and builds the idempotent commands that write responses."""

    retention_seconds: int = 395 * 86400

    KEY = "ivr:survey:{%s}"
    CONTEXTS = "ivr:survey:contexts"  # context ref -> JSON list of CONTEXT_FIELDS values
    BY_TIME = "ivr:surveys:by_time"
    BY_QUEUE = "ivr:surveys:queue:%s"
    SURVEYED = "ivr:surveyed:{%s}"  # a caller surveyed recently (by keyed hash), with a TTL

    def key(self, sid: str) -> str:
        """The hash holding one call's response."""
        return self.KEY % sid

    def offered(self, sid: str, at: float, fields: dict[str, str], holder: str,
                caller_hash: str = "", quiet_days: int = 0) -> list[Command]:
        """Commands opening a response (a repeated webhook keeps the first offer and its answers)."""
        key, offer = self.key(sid), str(int(at))
        context = _context_text(fields)
        ref = context_ref(context)
        flat: tuple[str, ...] = ("c", ref)
        if fields.get("caller_hash"):
            flat += ("h", pack_hash(fields["caller_hash"]))
        commands = [Command("HSETNX", self.CONTEXTS, (ref, context)),
                    Command("HSETNX", key, ("o", offer)),
                    Command("HSETNX", key, ("s", "o,,,")),
                    Command("HSET", key, flat),
                    Command("EXPIRE", key, (self.retention_seconds,))]
        if is_simulated(sid):  # answered in the simulator: kept, never reported nor resting the caller
            return commands
        commands += [Command("ZADD", self.BY_TIME, ("NX", offer, sid)),
                     Command("ZADD", self.BY_QUEUE % holder, ("NX", offer, sid))]
        if caller_hash and quiet_days:
            commands.append(Command("SET", self.SURVEYED % caller_hash, (stamp(at), "EX", quiet_days * 86400)))
        return commands

    def started(self, sid: str, at: float) -> list[Command]:
        """Commands noting that the caller accepted the survey."""
        return [Command.script("survey_start", self.key(sid), argv=(stamp(at),))]

    def declined(self, sid: str, at: float) -> list[Command]:
        """Commands noting that the caller turned the survey down (only while still just offered)."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "ended"))]

    def answered(self, sid: str, position: int, value: str, asked_at: float, at: float
                 ) -> list[Command]:
        """Commands storing the answer to question `position` (0-based), ordered by when it was
        asked (late duplicates lose)."""
        return [Command.script("survey_answer", self.key(sid),
                               argv=(str(position + 1), value, stamp(asked_at), stamp(at), "answer"))]

    def skipped(self, sid: str, position: int, asked_at: float) -> list[Command]:
        """Commands recording a question left unanswered, never over an answer already stored."""
        return [Command.script("survey_answer", self.key(sid),
                               argv=(str(position + 1), "", stamp(asked_at), stamp(asked_at), "skip"))]

    def transcribed(self, sid: str, position: int, text: str) -> list[Command]:
        """Commands attaching the transcription of a spoken comment (question `position`)."""
        return [Command("HSET", self.key(sid), (f"x{position + 1}", text)),
                Command("EXPIRE", self.key(sid), (self.retention_seconds,))]

    def finished(self, sid: str, at: float) -> list[Command]:
        """Commands closing a response once the caller heard the closing words."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "completed"))]

    def call_ended(self, sid: str, at: float) -> list[Command]:
        """Commands settling a response whose call ended mid-survey (nothing when there is none)."""
        return [Command.script("survey_finish", self.key(sid), argv=(stamp(at), "ended"))]

    # -- the stored form -------------------------------------------------------------------
    @staticmethod
    def encode(record: dict[str, str]) -> tuple[dict[str, str], str, str]:
        """A response in contract names as stored: (hash fields, context ref, context text)."""
        context = _context_text(record)
        ref, offer = context_ref(context), int(float(record["offered_at"]))
        after = [str(int(float(record[f])) - offer) if record.get(f) else "" for f in TIME_FIELDS]
        fields = {"c": ref, "o": str(offer),
                  "s": ",".join([CODES.get(record.get("disposition", ""), "o"), *after])}
        if record.get("caller_hash"):
            fields["h"] = pack_hash(record["caller_hash"])
        for n, qid in enumerate(question_ids(record.get("kinds", "")), 1):
            if f"a:{qid}" in record:
                asked = float(record.get(f"t:{qid}") or offer)
                fields[str(n)] = f"{record[f'a:{qid}']}@{round((asked - offer) * 10)}"
            if record.get(f"x:{qid}"):
                fields[f"x{n}"] = record[f"x:{qid}"]
        return fields, ref, context

    def save(self, client: Any, sid: str, record: dict[str, str]) -> None:
        """Store a response given in contract names, with its context and index entries."""
        fields, ref, context = self.encode(record)
        holder = record.get("queue") or record.get("transfer") or ""
        pipe = client.pipeline(transaction=False)
        pipe.hsetnx(self.CONTEXTS, ref, context)
        pipe.hset(self.key(sid), mapping=fields)
        pipe.zadd(self.BY_TIME, {sid: int(fields["o"])})
        pipe.zadd(self.BY_QUEUE % holder, {sid: int(fields["o"])})
        pipe.execute()

    def contexts(self, client: Any, refs: Iterable[str | None]) -> dict[str, list[str]]:
        """Context facts by ref, read once per process for each ref (a ref never changes meaning)."""
        missing = list({r for r in refs if r and r not in _contexts})
        if missing:
            if len(_contexts) > 100_000:
                _contexts.clear()
            for ref, text in zip(missing, client.hmget(self.CONTEXTS, missing), strict=True):
                if text:
                    _contexts[ref] = json.loads(text)
        return _contexts

    @staticmethod
    def decode(raw: dict[str, str], sid: str, contexts: dict[str, list[str]]) -> dict[str, str]:
        """A stored response in the contract's field names (empty when there is none)."""
        if "o" not in raw:  # nothing stored, or a response written before this encoding
            return {**raw, "call_sid": raw.get("call_sid") or sid} if raw else {}
        offer = int(raw["o"])
        facts = contexts.get(raw.get("c", "")) or [""] * len(CONTEXT_FIELDS)
        out = {name: fact for name, fact in zip(CONTEXT_FIELDS, facts, strict=True) if fact}
        code, *after = (raw.get("s") or "o,,,").split(",")
        out.update(call_sid=sid, offered_at=f"{offer:.1f}", disposition=NAMES.get(code, code))
        out.update((f, f"{offer + int(v):.1f}") for f, v in zip(TIME_FIELDS, after, strict=True) if v)
        if raw.get("h"):
            out["caller_hash"] = unpack_hash(raw["h"])
        for n, qid in enumerate(question_ids(out.get("kinds", "")), 1):
            if (stored := raw.get(str(n))) is not None:
                value, _, asked = stored.rpartition("@")
                out[f"a:{qid}"], out[f"t:{qid}"] = value, f"{offer + int(asked) / 10:.1f}"
            if f"x{n}" in raw:
                out[f"x:{qid}"] = raw[f"x{n}"]
        return out

    def read(self, client: Any, sids: list[str], raws: list[dict[str, str]]) -> list[dict[str, str]]:
        """Stored responses (HGETALL replies) of calls `sids` decoded; missing ones left out."""
        known = self.contexts(client, (raw.get("c") for raw in raws))
        return [self.decode(raw, sid, known) for sid, raw in zip(sids, raws, strict=True) if raw]

    # -- reads -----------------------------------------------------------------------------
    def get(self, client: Any, sid: str) -> dict[str, str]:
        """One call's response in contract names (empty when the call was not surveyed)."""
        return next(iter(self.read(client, [sid], [client.hgetall(self.key(sid))])), {})

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
            batch = sids[start:start + 200]
            pipe = client.pipeline(transaction=False)
            for sid in batch:
                pipe.hgetall(self.key(sid))
            yield from self.read(client, batch, pipe.execute())

    def purge(self, client: Any, before: float, batch: int = 500) -> int:
        """Delete responses offered before `before` and their index entries; return how many."""
        removed = 0
        while sids := client.zrangebyscore(self.BY_TIME, "-inf", f"({before}", start=0, num=batch):
            pipe = client.pipeline(transaction=False)
            for sid in sids:
                pipe.hmget(self.key(sid), "c", "queue", "transfer")  # older responses: names
            found = pipe.execute()
            known = self.contexts(client, (ref for ref, _, _ in found))
            holders = [known[row[0]][2:4] if row[0] in known else row[1:] for row in found]
            pipe = client.pipeline(transaction=False)
            for sid, names in zip(sids, holders, strict=True):
                pipe.delete(self.key(sid))
                for name in {n for n in names if n}:
                    pipe.zrem(self.BY_QUEUE % name, sid)
            pipe.zrem(self.BY_TIME, *sids)
            pipe.execute()
            removed += len(sids)
        return removed


def _context_text(fields: dict[str, str]) -> str:
    """The facts a response shares with others, as stored once under their ref."""
    return json.dumps([fields.get(name) or "" for name in CONTEXT_FIELDS], separators=(",", ":"))


def question_ids(kinds: str) -> list[str]:
    """Question ids in order from a `kinds` text (csat:scale:1-5,resolved:yes_no,...)."""
    return [part.partition(":")[0] for part in kinds.split(",") if part]
