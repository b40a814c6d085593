"""Queue waiting: position and wait announcements, hold music, and when to take a caller out."""

from __future__ import annotations

import math
import wave
from functools import lru_cache
from pathlib import Path

from twilio.twiml.voice_response import VoiceResponse

from ivr.model import MenuSet, Queue, Speech
from ivr.render import Urls, speak
from ivr.render_routes import route_query
from ivr.state import CallState

DEFAULT_MUSIC_SECONDS = 30


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
