"""Queue waiting: position and wait announcements, hold music, and when to take a caller out."""

from __future__ import annotations

import math
import wave
from functools import lru_cache
from pathlib import Path

from twilio.twiml.voice_response import VoiceResponse

from ivr import scripts
from ivr.model import MenuSet, Queue, Speech
from ivr.render import Urls, speak
from ivr.render_routes import route_query
from ivr.state import CallState
from ivr.writer import Command

DEFAULT_MUSIC_SECONDS = 30

# KEYS[1] hash; ARGV[1] mark field, ARGV[2] mark value, then field/value pairs.  Writes the
# pairs and the mark unless the mark already holds this value, so a callback Twilio repeats
# for the same event never moves a timestamp such as answered_at.  Returns 1 when written.
scripts.register(
    "hset_once_per_mark",
    """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
""",
)


def once_per_event(key: str, mark: tuple[str, str], fields: dict[str, object], ttl: int) -> list[Command]:
    """Commands setting `fields` on the hash `key` once for the event `mark` (field, value)."""
    argv = [mark[0], mark[1]]
    for name, value in fields.items():
        argv += [name, "" if value is None else str(value)]
    return [Command.script("hset_once_per_mark", key, (), argv), Command("EXPIRE", key, (max(ttl, 1),))]


class WaitingList:
    """Who is waiting in each queue and since when, so an agent hears how long the next caller waited."""

    KEY = "ivr:queue:{%s}:waiting"

    def key(self, queue: str) -> str:
        """The sorted set of call ids waiting in `queue`, scored by when they joined."""
        return self.KEY % queue

    def joined(self, queue: str, sid: str, since: float, ttl: int) -> list[Command]:
        """Commands noting that call `sid` waits in `queue` since `since` (the first note wins)."""
        return [Command("ZADD", self.key(queue), ("NX", repr(since), sid)),
                Command("EXPIRE", self.key(queue), (max(ttl, 1),))]

    def left(self, queue: str, sid: str) -> list[Command]:
        """Commands noting that call `sid` left `queue`."""
        return [Command("ZREM", self.key(queue), (sid,))]

    def longest_wait(self, client, queue: str, now: float, max_age: int) -> float | None:
        """Seconds the longest-waiting caller has waited (stale entries dropped), None when empty."""
        client.zremrangebyscore(self.key(queue), "-inf", f"({now - max_age}")
        oldest = client.zrange(self.key(queue), 0, 0, withscores=True)
        return max(0.0, now - oldest[0][1]) if oldest else None


def estimated_wait(position: int, queue_time: int, avg_queue_time: int) -> int:
    """Seconds a caller may still wait: position times the average wait, less what they waited."""
    if position <= 0:
        return 0
    return max(0, position * max(avg_queue_time, 0) - max(queue_time, 0))


def wait_message(ms: MenuSet, lang: str, seconds: int) -> str:
    """The estimated-wait sentence: "less than a minute" rather than "0 minutes"."""
    if seconds < 60:
        return ms.message("queue_wait_short").speech(lang).text or ""
    minutes = math.ceil(seconds / 60)
    if minutes == 1:
        return ms.message("queue_wait_one").speech(lang).text or ""
    return (ms.message("queue_wait").speech(lang).text or "").replace("{minutes}", str(minutes))


def leave_reason(queue: Queue, position: int, queue_time: int) -> str | None:
    """Why the caller must leave the queue now (`timeout`, `full`), or None to keep waiting."""
    if queue_time >= queue.max_wait:
        return "timeout"
    if queue.max_size and position > queue.max_size:
        return "full"
    return None


@lru_cache(maxsize=64)
def audio_seconds(path: str) -> int:
    """Length of a local WAV file in whole seconds (a default for other formats and URLs)."""
    try:
        with wave.open(path) as audio:
            return max(1, int(audio.getnframes() / audio.getframerate()))
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return DEFAULT_MUSIC_SECONDS


def wait_twiml(ms: MenuSet, queue: Queue, state: CallState, form: dict[str, str], urls: Urls,
               recordings: Path) -> tuple[str, str | None]:
    """The wait-URL TwiML for one caller, and the leave reason when they must leave now."""
    position, waited, avg = (_int(form.get(k)) for k in ("QueuePosition", "QueueTime", "AvgQueueTime"))
    response = VoiceResponse()
    reason = leave_reason(queue, position, waited)
    if reason:
        response.leave()
        return str(response), reason
    lang = state.lang
    key_url = urls.path("/voice/queue/key", route_query(state, q=queue.name))
    gather = response.gather(input="dtmf", num_digits=1, timeout=1, action=key_url, method="POST")
    texts = [(ms.message("queue_position").speech(lang).text or "").replace("{position}", str(position)),
             wait_message(ms, lang, estimated_wait(position, waited, avg))]
    if queue.leave_key and queue.voicemail:
        hint = ms.message("queue_leave_hint").speech(lang).text or ""
        key_word = {"*": "star", "#": "pound"}.get(queue.leave_key, queue.leave_key)
        if lang.startswith("es"):
            key_word = {"*": "asterisco", "#": "numeral"}.get(queue.leave_key, queue.leave_key)
        texts.append(hint.replace("{key}", key_word))
    for text in texts if position > 0 else texts[2:]:
        speak(gather, Speech(text=text), lang, ms, urls)
    _hold_music(gather, queue, waited, urls, recordings)
    return str(response), None


def _hold_music(gather, queue: Queue, waited: int, urls: Urls, recordings: Path) -> None:
    """Music until the next announcement, never past the maximum wait."""
    until_next = min(queue.announce_every, max(queue.max_wait - waited, 1))
    if not queue.hold_music:
        gather.pause(length=until_next)
        return
    length = DEFAULT_MUSIC_SECONDS
    if not queue.hold_music.startswith("https://"):
        length = audio_seconds(str(recordings / queue.hold_music.removeprefix("recordings/")))
    gather.play(urls.media(queue.hold_music), loop=max(1, math.ceil(until_next / length)))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
