"""Simulated calls: drive the real webhooks with signed requests and read back what callers hear."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

from ivr.simulated import new_sid

#: Verbs that wait for the caller or the other side before the call goes on.
BLOCKING = ("Gather", "Enqueue", "Record", "Dial")
#: What the other side of a transfer can do, as Twilio reports it in DialCallStatus.
DIAL_RESULTS = ("completed", "no-answer", "busy", "failed", "canceled")
ALIASES = {"a": "answer", "h": "hangup", "w": "wait", "r": "record", "n": "no-answer", "b": "busy",
           "f": "failed", "s": "silence", "-": "silence", "agent": "answer"}


class Transport(Protocol):
    """Sends one signed form POST and answers (HTTP status, body text)."""

    def post(self, url: str, form: dict[str, str], signature: str) -> tuple[int, str]: ...


class ClientTransport:
    """Posts through a WSGI test client (`app.test_client()`): the real app, in process."""

    def __init__(self, client, base: str = "http://localhost"):
        self.client, self.base = client, base

    def post(self, url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
        """POST to the app; the path is the URL without the base."""
        response = self.client.post(url.removeprefix(self.base), data=form,
                                    headers={"X-Twilio-Signature": signature})
        return response.status_code, response.get_data(as_text=True)


class HttpTransport:
    """Posts over HTTP to a running server."""

    def post(self, url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
        """POST with urllib; HTTP errors are answers too (403, 404...)."""
        request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST",
                                         headers={"X-Twilio-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


@dataclass(frozen=True)
class Heard:
    """One thing the caller hears: spoken text (with its language) or audio played."""

    text: str = ""
    lang: str = ""
    play: str = ""

    def __str__(self) -> str:
        if self.play:
            return f"[plays {self.play}]"
        return f"({self.lang}) {self.text}" if self.lang else self.text


@dataclass
class Turn:
    """One webhook request of the call and the TwiML the app answered."""

    url: str
    form: dict[str, str]
    status: int
    xml: str
    heard: list[Heard] = field(default_factory=list)


class SimulationError(Exception):
    """Raised when the app answers something a phone call could not go on with."""


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def place_of(element: ET.Element) -> str:
    """Where a caller waiting on a TwiML verb is, in words such as `menu main` or `queue billing`."""
    if element.tag == "Enqueue":
        return f"queue {(element.text or '').strip()}"
    action = element.get("action", "")
    query, path = _query(action), urlsplit(action).path
    if element.tag == "Gather" and path.endswith("/voice/menu"):
        return f"menu {query.get('n', '?')}"
    if element.tag == "Record":
        return f"voicemail {query.get('box', '?')}"
    if element.tag == "Dial":
        return f"transfer {query['t']}" if "t" in query else "dial"
    return " ".join(p for p in path.removeprefix("/voice/").split("/") if p) or element.tag.lower()


class SimulatedCall:
    """One simulated caller: follows TwiML as Twilio would and plays the other side on request."""

    def __init__(self, transport: Transport, token: str, base: str = "http://localhost",
                 number: str = "", to: str = "+15550001111", listen: Callable[[list[Heard]], None] | None = None):
        self.transport, self.base = transport, base.rstrip("/") + "/"
        self.validator = RequestValidator(token)
        self.number = number or "+1555" + str(secrets.randbelow(10**7)).zfill(7)
        self.to, self.sid = to, new_sid()  # recorded, never counted in reports
        self.listen = listen
        self.turns: list[Turn] = []
        self.destinations: list[str] = []
        self.place, self.ended = "not started", False
        self.verbs: list[ET.Element] = []
        self.waiting: ET.Element | None = None
        self.queue_time = 0
        self.hold: ET.Element | None = None
        self.pending_digits = ""
        self.heard: list[Heard] = []
        self._told = 0

    # -- requests ------------------------------------------------------------------------------
    def post(self, url: str, form: dict[str, str] | None = None) -> ET.Element:
        """Send one signed webhook as Twilio would and parse the TwiML answer."""
        full = urljoin(self.base, url)
        data = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "From": self.number, "To": self.to,
                "Direction": "inbound", "CallStatus": "in-progress"}
        data.update(form or {})
        status, text = self.transport.post(full, data, self.validator.compute_signature(full, data))
        turn = Turn(url=full, form=data, status=status, xml=text)
        self.turns.append(turn)
        if status != 200:
            raise SimulationError(f"{urlsplit(full).path} answered HTTP {status}: {text.strip()[:300]}")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise SimulationError(f"{urlsplit(full).path} answered something that is not TwiML: {exc}") from None
        if root.tag != "Response":
            raise SimulationError(f"{urlsplit(full).path} answered <{root.tag}>, not a TwiML <Response>")
        return root

    def run_document(self, root: ET.Element) -> None:
        """Carry out a TwiML document from the top."""
        self.verbs = list(root)
        self._continue()

    def _continue(self) -> None:
        """Run verbs until one waits for someone, the call is redirected, or the call ends."""
        self.waiting = None
        while self.verbs:
            verb = self.verbs.pop(0)
            if verb.tag in ("Say", "Play", "Pause"):
                self._hear(verb)
            elif verb.tag == "Redirect":
                self._say_turn()
                return self.run_document(self.post((verb.text or "").strip()))
            elif verb.tag in BLOCKING:
                return self._wait_on(verb)
            elif verb.tag in ("Hangup", "Reject", "Leave"):
                break
        self._say_turn()
        self._end()

    def _wait_on(self, verb: ET.Element) -> None:
        self.waiting, self.place = verb, place_of(verb)
        if verb.tag != "Gather":
            self.destinations.append(self.place)
        if verb.tag == "Gather":
            for child in verb:
                self._hear(child)
        self._say_turn()
        if verb.tag == "Enqueue":
            self.queue_time = 0
            self.wait_in_queue(0)
        elif verb.tag == "Gather" and self.pending_digits:
            self.press("")

    def _hear(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            heard = Heard(text=" ".join((verb.text or "").split()), lang=verb.get("language", ""))
        elif verb.tag == "Play":
            heard = Heard(play=(verb.text or "").strip())
        else:
            heard = Heard(play=f"silence {verb.get('length', '1')} s")
        self.turns[-1].heard.append(heard)
        self.heard.append(heard)

    def _say_turn(self) -> None:
        """Tell the listener what the caller heard since last time."""
        new, self._told = self.heard[self._told:], len(self.heard)
        if self.listen and new:
            self.listen(new)

    def _end(self) -> None:
        if self.ended:
            return
        self.ended, self.waiting, self.place = True, None, "hangup"
        try:  # the number's status callback: Twilio reports the end of every call
            self.post("/voice/status", {"CallStatus": "completed", "CallDuration": "60"})
        except SimulationError:
            pass

    # -- what the caller and the other side do ----------------------------------------------------
    def start(self) -> None:
        """Place the call: Twilio's "a call comes in" webhook."""
        self.run_document(self.post("/voice/incoming"))

    def do(self, token: str) -> None:
        """One scripted event: keys, `silence`, `hangup`, or what the other side does here."""
        word = ALIASES.get(token.lower(), token.lower())
        if self.ended:
            raise SimulationError(f"the call has ended; cannot do {token!r}")
        if word == "hangup":
            return self.hang_up()
        kind = self.waiting.tag if self.waiting is not None else ""
        handler = {"Gather": self._at_gather, "Enqueue": self._at_queue, "Record": self._at_record,
                   "Dial": self._at_dial}.get(kind)
        if handler is None:
            raise SimulationError(f"nothing waits for {token!r} here")
        handler(word)

    def _at_gather(self, word: str) -> None:
        if word == "silence":
            return self._continue()
        if not all(c in "0123456789*#" for c in word):
            raise SimulationError(f"{word!r} is not keys; here the caller can press keys or stay silent")
        self.press(word)

    def press(self, digits: str) -> None:
        """Press keys in the waiting Gather; keys beyond what it takes go to the next one."""
        gather, digits = self.waiting, self.pending_digits + digits
        size, finish = int(gather.get("numDigits") or 0), gather.get("finishOnKey", "")
        end = digits.find(finish) if finish and finish in digits else -1
        if size and (end < 0 or end > size):
            taken, self.pending_digits = digits[:size], digits[size:]
        elif end >= 0:
            taken, self.pending_digits = digits[:end], digits[end + 1:]
        else:
            taken, self.pending_digits = digits, ""
        form = {"Digits": taken}
        if end >= 0 and len(taken) == end:
            form["FinishedOnKey"] = finish
        self.run_document(self.post(gather.get("action"), form))

    def _at_queue(self, word: str) -> None:
        if word == "wait" or word.startswith("wait:"):
            return self.wait_in_queue(int(word.partition(":")[2] or 60))
        if word == "answer":
            return self.queue_result("bridged")
        gather = self.hold.find(".//Gather") if self.hold is not None else None
        if gather is None or not all(c in "0123456789*#" for c in word):
            raise SimulationError(f"{word!r} does nothing in a queue; try wait, answer, hangup or a key")
        root = self.post(gather.get("action"), {"Digits": word[:1], "QueueTime": str(self.queue_time)})
        self._hear_all(root)
        if root.find("Leave") is not None:
            self.queue_result("leave")

    def wait_in_queue(self, seconds: int) -> None:
        """Time passes on hold; Twilio asks the wait URL what to play next."""
        self.queue_time += seconds
        self.hold = self.post(self.waiting.get("waitUrl"), {
            "QueuePosition": "1", "QueueTime": str(self.queue_time), "AvgQueueTime": "60",
            "CurrentQueueSize": "1", "QueueSid": "QU" + "0" * 32})
        self._hear_all(self.hold)
        if self.hold.find("Leave") is not None:
            self.queue_result("leave")

    def queue_result(self, result: str) -> None:
        """The queue ends for this caller (bridged, leave, hangup...): Enqueue's action runs."""
        action = self.waiting.get("action")
        root = self.post(action, {"QueueResult": result, "QueueTime": str(self.queue_time)})
        if result == "hangup":
            return self._end()
        self.run_document(root)

    def _hear_all(self, root: ET.Element) -> None:
        for element in root.iter():
            if element.tag in ("Say", "Play", "Pause"):
                self._hear(element)
        self._say_turn()

    def _at_record(self, word: str) -> None:
        if word == "silence":
            return self._continue()
        if word != "record" and not word.startswith("record:"):
            raise SimulationError(f"{word!r}: at the tone the caller can record, stay silent or hang up")
        self.leave_message(int(word.partition(":")[2] or 12))

    def leave_message(self, seconds: int, finished_by: str = "#") -> None:
        """The caller records a message: status and transcription callbacks, then Record's action."""
        record, rid = self.waiting, "RE" + secrets.token_hex(16)
        found = {"RecordingSid": rid, "RecordingUrl": f"https://api.twilio.com/recordings/{rid}",
                 "RecordingDuration": str(seconds)}
        if record.get("recordingStatusCallback"):
            self.post(record.get("recordingStatusCallback"), {**found, "RecordingStatus": "completed"})
        if record.get("transcribeCallback"):
            self.post(record.get("transcribeCallback"), {**found, "TranscriptionStatus": "completed",
                                                         "TranscriptionText": "A simulated message."})
        root = self.post(record.get("action"), {**found, "Digits": finished_by})
        if finished_by == "hangup":
            return self._end()
        self.run_document(root)

    def _at_dial(self, word: str) -> None:
        status = "completed" if word == "answer" else word
        if status not in DIAL_RESULTS:
            raise SimulationError(f"{word!r}: a transfer can be answer, {', '.join(DIAL_RESULTS[1:])}")
        duration = "60" if status == "completed" else "0"
        self.run_document(self.post(self.waiting.get("action"),
                                    {"DialCallStatus": status, "DialCallDuration": duration}))

    def hang_up(self) -> None:
        """The caller hangs up: whatever they were waiting on hears so, then the status callback."""
        kind = self.waiting.tag if self.waiting is not None else ""
        if kind == "Enqueue":
            return self.queue_result("hangup")
        if kind == "Record":
            return self.leave_message(5, finished_by="hangup")
        if kind == "Dial":
            self.post(self.waiting.get("action"), {"DialCallStatus": "completed", "DialCallDuration": "0"})
        self._end()

    # -- pausing between requests (the web simulator keeps the call in a signed token) -------------
    def snapshot(self) -> dict:
        """Everything needed to go on with this call later, as JSON-ready values."""
        xml = (lambda e: ET.tostring(e, encoding="unicode") if e is not None else "")  # noqa: E731
        return {"number": self.number, "to": self.to, "sid": self.sid, "place": self.place,
                "ended": self.ended, "destinations": self.destinations, "queue_time": self.queue_time,
                "pending": self.pending_digits, "verbs": [xml(v) for v in self.verbs],
                "waiting": xml(self.waiting), "hold": xml(self.hold)}

    def restore(self, data: dict) -> SimulatedCall:
        """Go on with a call from its snapshot (what the caller heard before is not kept)."""
        element = (lambda text: ET.fromstring(text) if text else None)  # noqa: E731
        self.number, self.to, self.sid = data["number"], data["to"], data["sid"]
        self.place, self.ended, self.destinations = data["place"], data["ended"], list(data["destinations"])
        self.queue_time, self.pending_digits = int(data["queue_time"]), data["pending"]
        self.verbs = [element(v) for v in data["verbs"]]
        self.waiting, self.hold = element(data["waiting"]), element(data["hold"])
        return self

    # -- results -----------------------------------------------------------------------------------
    def reached(self, expected: str) -> bool:
        """True when the call ended where `expected` says: its final place or last destination."""
        want = " ".join(expected.lower().split())
        return want == self.place or bool(self.destinations) and want == self.destinations[-1]

    @property
    def version(self) -> str:
        """The menu version the call runs on, as carried in its URLs."""
        for turn in reversed(self.turns):
            for url in [turn.url] + [v for v in _urls(turn.xml)]:
                version = _query(url).get("v")
                if version:
                    return version
        return ""


def _urls(xml: str) -> list[str]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    found = [e.get("action", "") for e in root.iter()] + [(e.text or "") for e in root.iter("Redirect")]
    return [u for u in found if u]
