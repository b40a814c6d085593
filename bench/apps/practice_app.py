"""Common-practice baseline: hand-written Flask routes that check the signature, build the menu
with twilio's VoiceResponse on every request and record the call event in Redis."""

import os
import time
from urllib.parse import urlencode

import redis
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

app = Flask(__name__)
r = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
VOICES = {"en-US": "Polly.Joanna-Neural", "es-US": "Polly.Lupe-Neural"}
MENUS = {
    "language": [("en-US", "Thank you for calling Acme. For English, press 1."),
                 ("es-US", "Para español, oprima 2.")],
    "support": [("en-US", "For internet problems, press 1. For TV problems, press 2. To report an "
                 "outage, press 3. To go back, press star. For the main menu, press 0.")],
}


def check_signature() -> None:
    """The check Twilio's docs show: validate URL, form and header with the auth token."""
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    if not validator.validate(request.url, request.form.to_dict(),
                              request.headers.get("X-Twilio-Signature", "")):
        abort(403)


def menu_twiml(node: str, query: dict) -> str:
    """A Gather with the menu's prompts, then a Redirect back on silence."""
    url = "/voice/menu?" + urlencode(query)
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=url, method="POST", timeout=6, finish_on_key="",
                             action_on_empty_result=False, num_digits=1)
    for lang, text in MENUS[node]:
        gather.say(text, voice=VOICES[lang], language=lang)
    response.redirect(url, method="POST")
    return str(response)


@app.post("/voice/incoming")
def incoming() -> Response:
    """Record the call start and answer the language menu."""
    check_signature()
    sid = request.form["CallSid"]
    r.hset(f"call:{sid}", mapping={"started": time.time(), "from": request.form.get("From", ""),
                                   "to": request.form.get("To", ""), "lang": "en-US"})
    query = {"n": "language", "l": "en-US", "v": "0", "s": "0", "h": "1"}
    return Response(menu_twiml("language", query), mimetype="text/xml")


@app.post("/voice/menu")
def menu() -> Response:
    """Record the key press and answer the next menu."""
    check_signature()
    sid, digits = request.form["CallSid"], request.form.get("Digits", "")
    step = int(request.args.get("s", "0")) + 1
    r.hset(f"call:{sid}:path", str(step), f"{request.args.get('n')} pressed {digits}")
    node = "support" if request.args.get("n") == "main" and digits == "2" else "language"
    query = {"n": node, "l": "en-US", "v": "0", "s": str(step), "h": "1", "b": "main"}
    return Response(menu_twiml(node, query), mimetype="text/xml")
