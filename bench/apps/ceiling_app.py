"""Ceiling baseline: minimal Flask routes answering constant TwiML (no signature, no Redis)."""

from flask import Flask, Response

LANGUAGE = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/menu?n=language&amp;'
    'l=en-US&amp;v=0&amp;s=0&amp;h=1" actionOnEmptyResult="false" finishOnKey="" input="dtmf" '
    'method="POST" numDigits="1" timeout="6"><Say language="en-US" voice="Polly.Joanna-Neural">'
    "Thank you for calling Acme. For English, press 1.</Say><Say language=\"es-US\" "
    'voice="Polly.Lupe-Neural">Para español, oprima 2.</Say></Gather><Redirect method="POST">'
    "/voice/menu?n=language&amp;l=en-US&amp;v=0&amp;s=0&amp;h=1</Redirect></Response>")
SUPPORT = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/menu?n=support&amp;'
    'l=en-US&amp;v=0&amp;s=2&amp;h=1&amp;b=main" actionOnEmptyResult="false" finishOnKey="" '
    'input="dtmf" method="POST" numDigits="1" timeout="6"><Say language="en-US" '
    'voice="Polly.Joanna-Neural">For internet problems, press 1. For TV problems, press 2. To '
    "report an outage, press 3. To go back, press star. For the main menu, press 0.</Say>"
    '</Gather><Redirect method="POST">/voice/menu?n=support&amp;l=en-US&amp;v=0&amp;s=2&amp;h=1'
    "&amp;b=main</Redirect></Response>")

app = Flask(__name__)


@app.post("/voice/incoming")
def incoming() -> Response:
    """The language menu, as constant text."""
    return Response(LANGUAGE, mimetype="text/xml")


@app.post("/voice/menu")
def menu() -> Response:
    """The support menu, as constant text."""
    return Response(SUPPORT, mimetype="text/xml")
