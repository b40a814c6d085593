"""Scale: app instances share nothing but Redis, so a call may hop between them on every webhook;
large menus load; any instance accepts exactly what Twilio signs."""

from __future__ import annotations

import itertools
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from phone import TOKEN, Phone
from test_cluster_storage import survey_call
from test_journal import eventually, segments
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from bench.harness import ROOT, Server, app_env, open_all_hours
from bench.menus_bench import generate
from handlers.security import Signature
from ivr.calls import CallStore
from ivr.loader import build_menuset, read_sources
from ivr.surveys import SurveyStore

TIME_FIELDS = {"started", "routed_at", "left_queue_at", "answered_at", "ended", "updated_at"}


@dataclass
class HttpResponse:
    """The parts of a response that the test phone reads."""

    status_code: int
    body: bytes
    mimetype: str

    def get_data(self, as_text: bool = False):
        """The body, as text when asked."""
        return self.body.decode() if as_text else self.body


class RoundRobin:
    """An HTTP client for the test phone: each request goes to the next instance, signed for the
    URL of the instance it is sent to (as Twilio signs what it calls)."""

    def __init__(self, bases: list[str]):
        self.bases = bases
        self._next = itertools.cycle(bases)
        self.sent_to: list[str] = []

    def post(self, path: str, data: dict, headers: dict) -> HttpResponse:
        """POST the form to the next instance."""
        base = next(self._next)
        self.sent_to.append(base)
        signature = RequestValidator(TOKEN).compute_signature(base + path, data)
        request = urllib.request.Request(base + path, data=urlencode(data).encode(), method="POST",
                                         headers={"X-Twilio-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return HttpResponse(response.status, response.read(),
                                    response.headers.get_content_type())
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.read(), exc.headers.get_content_type())


@pytest.fixture
def instances(tmp_path, redis_url, menus_dir):
    """Two gunicorn instances on their own ports and data folders, sharing one Redis."""
    open_all_hours(menus_dir)
    shared = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_MENUS": str(menus_dir), "IVR_HASH_KEY": "h" * 64,
              "IVR_SECRET_KEY": "s" * 64, "IVR_RELOAD_SECONDS": "0"}
    servers = [Server(f"ivr{i}", "app:app", app_env(redis_url, tmp_path / f"data{i}", **shared),
                      workers=1) for i in (1, 2)]
    try:
        yield [server.start() for server in servers]
    finally:
        for server in servers:
            server.stop()


def untimed(history: list) -> list[str]:
    """The TwiML documents of a call with the timestamps that survey URLs carry blanked."""
    return [re.sub(r"=\d{9,}(\.\d+)?", "=<time>", twiml.text) for twiml in history]


def stored(redis_client, sid: str) -> tuple[dict, list, dict]:
    """A call's record (without times), path and survey answers as Redis holds them."""
    calls = CallStore()
    record = {k: v for k, v in calls.get(redis_client, sid).items() if k not in TIME_FIELDS}
    survey = {k: v for k, v in SurveyStore().get(redis_client, sid).items()
              if k.startswith("a:") or k in ("disposition", "path", "queue", "agent", "lang")}
    return record, calls.path(redis_client, sid), survey


def test_a_call_hopping_between_two_instances_ends_as_on_one(instances, redis_client, tmp_path):
    bases = [server.base for server in instances]
    hopping = Phone(RoundRobin(bases), sid="CA" + "1" * 32)
    survey_call(hopping)
    assert set(hopping.client.sent_to) == set(bases)  # both instances served the call
    single = Phone(RoundRobin(bases[:1]), sid="CA" + "2" * 32, number="+15557654321")
    survey_call(single)
    # events are batched by default: wait until both instances' journals are written out
    assert eventually(lambda: not any(segments(tmp_path / f"data{i}") for i in (1, 2)))
    assert untimed(hopping.history) == untimed(single.history)
    hopped, alone = stored(redis_client, hopping.sid), stored(redis_client, single.sid)
    survey_hash = SurveyStore().get(redis_client, hopping.sid)["caller_hash"]
    assert hopped[0]["caller_hash"][:16] == survey_hash  # hashed alike by both instances
    for record in (hopped[0], alone[0]):
        del record["caller_hash"], record["caller"]
    assert hopped == alone
    assert hopped[2]["a:csat"] == "5" and hopped[0]["status"] == "completed"


def test_an_instance_refuses_a_request_signed_for_the_other(instances):
    first, second = instances
    phone = Phone(RoundRobin([first.base]))
    form = {"CallSid": phone.sid, "From": phone.number}
    signature = RequestValidator(TOKEN).compute_signature(second.base + "/voice/incoming", form)
    request = urllib.request.Request(first.base + "/voice/incoming", data=urlencode(form).encode(),
                                     headers={"X-Twilio-Signature": signature}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


@pytest.mark.parametrize("form", [
    {"CallSid": "CA1", "From": "+15551234567", "Digits": "12#"},
    {"B": "2", "A": "1", "Empty": "", "Unicode": "Ñandú ☎"},
    [("Multi", "b"), ("Multi", "a"), ("Multi", "b"), ("Other", "x")],
    [],
])
@pytest.mark.parametrize("url", ["https://ivr.example.com/voice/menu?n=main&l=en-US&v=abc",
                                 "http://127.0.0.1:8000/voice/incoming"])
def test_signature_agrees_with_twilio_request_validator(form, url):
    expected = RequestValidator(TOKEN).compute_signature(url, MultiDict(form))
    signature = Signature(TOKEN)
    assert signature.compute(url, MultiDict(form)) == expected
    assert signature.valid(url, MultiDict(form), expected)
    assert not signature.valid(url + "&x=1", MultiDict(form), expected)
    assert not Signature("other-token").valid(url, MultiDict(form), expected)


def test_signature_accepts_twilio_port_variants():
    form = MultiDict({"CallSid": "CA1"})
    with_port = RequestValidator(TOKEN).compute_signature("https://ivr.example.com:443/voice/x", form)
    assert Signature(TOKEN).valid("https://ivr.example.com/voice/x", form, with_port)


def test_five_thousand_menus_load_and_a_loop_among_them_is_reported(tmp_path):
    folder = generate(tmp_path / "menus", 5000)
    menuset, problems = build_menuset(*read_sources(folder)[:1], ROOT / "recordings")
    assert menuset is not None and len(menuset.menus) == 5000
    last = folder / sorted(p.name for p in folder.glob("tree*.yaml"))[-1]
    loop = "".join(f"  {name}:\n    prompt: {{en-US: Hi, es-US: Hola}}\n    options: {{1: repeat}}\n"
                   f"    fallback: {{menu: {other}}}\n"
                   for name, other in (("dead_end", "dead_loop"), ("dead_loop", "dead_end")))
    last.write_text(last.read_text() + loop)
    tree = (folder / "tree000.yaml").read_text().replace('"*": repeat', "9: {menu: dead_end}", 1)
    (folder / "tree000.yaml").write_text(tree)
    menuset, problems = build_menuset(*read_sources(folder)[:1], ROOT / "recordings")
    assert menuset is None
    assert [p.message for p in problems if p.is_error] == [
        "endless loop without caller input: menu:dead_end -> menu:dead_loop -> menu:dead_end; a "
        "caller who presses nothing would go round forever. Make one fallback, on_timeout or "
        "on_fail end the call (a goodbye, voicemail or hangup)"]
