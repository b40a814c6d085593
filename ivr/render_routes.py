"""TwiML for routes: queues (Enqueue), voicemail (Record) and transfers (Dial)."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.model import MenuSet
from ivr.render import Urls, speak
from ivr.state import CallState
from ivr.steps import Step


def route_query(state: CallState, **extra: str) -> dict[str, str]:
    """The call state plus route parameters, for a route's callback URLs."""
    query = state.to_query()
    query.update({k: str(v) for k, v in extra.items()})
    return query


class RouteRenderer:
    """Appends the TwiML of a RouteTo step to a response."""

    def __init__(self, ms: MenuSet, urls: Urls):
        self.ms = ms
        self.urls = urls

    def __call__(self, response: VoiceResponse, step: Step) -> None:
        route = step.route
        getattr(self, route.kind)(response, route.target, route.state)

    def queue(self, response: VoiceResponse, name: str, state: CallState) -> None:
        """Put the caller in a Twilio queue; the wait URL plays music and announcements."""
        query = route_query(state, q=name)
        response.enqueue(name, action=self.urls.path("/voice/queue/done", query), method="POST",
                         wait_url=self.urls.path("/voice/queue/wait", query), wait_url_method="POST")

    def voicemail(self, response: VoiceResponse, name: str, state: CallState) -> None:
        """Greet and record a message; callbacks store it and its transcription."""
        box = self.ms.voicemail[name]
        greeting = box.greeting or self.ms.message("voicemail_greeting")
        speak(response, greeting.speech(state.lang), state.lang, self.ms, self.urls)
        query = route_query(state, box=name)
        kwargs = {}
        if box.transcribe:
            kwargs = {"transcribe": True,
                      "transcribe_callback": self.urls.path("/voice/voicemail/transcription", query)}
        response.record(action=self.urls.path("/voice/voicemail/done", query), method="POST",
                        max_length=box.max_length, finish_on_key=box.finish_on, play_beep=True,
                        timeout=10, trim="trim-silence",
                        recording_status_callback=self.urls.path("/voice/voicemail/recording", query),
                        recording_status_callback_method="POST", **kwargs)
        # Reached only when Record ends without recording anything.
        response.redirect(self.urls.path("/voice/voicemail/done", query), method="POST")

    def transfer(self, response: VoiceResponse, name: str, state: CallState) -> None:
        """Dial a number or SIP address; the action decides what happens on no answer."""
        transfer = self.ms.transfers[name]
        speak(response, self.ms.message("transferring").speech(state.lang), state.lang, self.ms, self.urls)
        query = route_query(state, t=name)
        dial = response.dial(action=self.urls.path("/voice/transfer/done", query), method="POST",
                             timeout=transfer.timeout, caller_id=transfer.caller_id)
        if transfer.to.startswith("sip:"):
            dial.sip(transfer.to)
        else:
            dial.number(transfer.to)
