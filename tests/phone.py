"""A test phone: drives the app exactly as Twilio would (signed form posts) and parses the TwiML."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token"
BASE = "http://localhost"
_sids = itertools.count(1)


class Twiml:
    """A parsed TwiML document with helpers to read verbs, speech and URLs."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.text = response.get_data(as_text=True)
        assert response.mimetype == "text/xml", f"not TwiML ({response.status_code}): {self.text[:300]}"
        self.root = ET.fromstring(self.text)
        assert self.root.tag == "Response", self.text

    @property
    def verbs(self) -> list[str]:
        """Top-level verb names in order."""
        return [child.tag for child in self.root]

    def all(self, tag: str) -> list[ET.Element]:
        """Every element named `tag`, at any depth."""
        return list(self.root.iter(tag))

    def first(self, tag: str) -> ET.Element:
        """The first element named `tag` (fails the test when absent)."""
        found = self.root.find(f".//{tag}")
        assert found is not None, f"no <{tag}> in {self.text}"
        return found

    def has(self, tag: str) -> bool:
        """True when an element named `tag` appears."""
        return self.root.find(f".//{tag}") is not None

    @property
    def said(self) -> list[str]:
        """Texts of every Say, in order."""
        return [(say.text or "").strip() for say in self.root.iter("Say")]

    @property
    def speech(self) -> str:
        """All Say texts joined by spaces."""
        return " ".join(self.said)

    @property
    def languages(self) -> list[str]:
        """The language attribute of each Say."""
        return [say.get("language", "") for say in self.root.iter("Say")]


@dataclass
class Phone:
    """One caller's phone: keeps the last TwiML and follows its URLs with signed requests."""

    client: object
    token: str = TOKEN
    number: str = "+15551234567"
    sid: str = field(default_factory=lambda: f"CA{next(_sids):032d}")
    last: Twiml | None = None
    history: list = field(default_factory=list)

    def sign(self, url: str, form: dict) -> str:
        """The X-Twilio-Signature Twilio would send for this URL and form."""
        return RequestValidator(self.token).compute_signature(url, form)

    def post(self, url: str, form: dict | None = None, signed: bool = True, raw: bool = False):
        """POST form fields to `url` (relative URLs resolve as Twilio resolves them)."""
        full = urljoin(BASE + "/", url)
        data = {"CallSid": self.sid, "From": self.number, "To": "+15550001111", "AccountSid": "AC" + "0" * 32}
        data.update({k: str(v) for k, v in (form or {}).items()})
        headers = {"X-Twilio-Signature": self.sign(full, data)} if signed else {}
        path = full[len(BASE):]
        response = self.client.post(path, data=data, headers=headers)
        if raw:
            return response
        self.last = Twiml(response)
        if hasattr(response, "close"):  # as a server closes the body it has sent (the app may
            response.close()  # work after that); a client over real HTTP has nothing to close
        self.history.append(self.last)
        return self.last

    def call(self) -> Twiml:
        """Place the call: Twilio's "A call comes in" webhook."""
        return self.post("/voice/incoming")

    def press(self, digits: str) -> Twiml:
        """Press keys in the current Gather."""
        gather = self.last.first("Gather")
        return self.post(gather.get("action"), {"Digits": digits})

    def silence(self) -> Twiml:
        """Stay silent: Twilio runs the Redirect after the Gather times out."""
        return self.post(self.last.first("Redirect").text)

    def action_of(self, tag: str) -> str:
        """The action URL of the first `tag` element in the last TwiML."""
        return self.last.first(tag).get("action")
