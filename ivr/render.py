"""Turning engine Steps into TwiML with the `twilio` package's vocabulary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from ivr.memo import keep
from ivr.model import MenuSet, Speech
from ivr.state import CallState
from ivr.steps import Step


@dataclass(frozen=True)
class Urls:
    """Builds the webhook and media URLs written into TwiML (relative unless a base is set)."""

    base: str = ""

    def path(self, path: str, query: dict[str, str] | None = None) -> str:
        """An URL for `path` with `query`."""
        return self.base + path + ("?" + urlencode(query) if query else "")

    def menu(self, state: CallState) -> str:
        """The webhook that receives the caller's keys in `state`."""
        return self.path("/voice/menu", state.to_query())

    def media(self, ref: str) -> str:
        """The URL of a recording: https URLs as they are, local files served under /recordings/."""
        return ref if ref.startswith("https://") else self.path("/" + ref)


def speak(parent, speech: Speech, lang: str, ms: MenuSet, urls: Urls) -> None:
    """Append one Say or Play to a TwiML element."""
    if speech.play:
        parent.play(urls.media(speech.play))
    elif speech.text:
        lang = speech.lang or lang
        language = ms.languages.get(lang)
        parent.say(speech.text, voice=language.voice if language else None, language=lang)


RouteRenderer = Callable[[VoiceResponse, Step], None]


# Rendered documents by (menu version, URL base, routes rendered, step): a step's TwiML depends on
# nothing else, and most webhooks of most calls render one of a few hundred distinct steps.
_RENDERED: dict[tuple, str] = {}
_BY_ID: dict[int, tuple[Step, tuple, str]] = {}  # id(step) -> (step, rest of its key, TwiML)
RENDER_CACHE_SIZE = 4096


def render(step: Step, ms: MenuSet, urls: Urls, route: RouteRenderer | None = None) -> str:
    """The TwiML document for `step` (rendered once per menu version, then served from memory)."""
    # The navigator hands out the same Step objects again (its own caches), so look for this
    # very object first: hashing a step hashes every field of it, its states included. The
    # entry holds the step, so its id cannot be reused while the entry lives.
    seen = _BY_ID.get(id(step))
    if seen is not None and seen[0] is step and seen[1] == (ms.version, urls.base, route is not None):
        return seen[2]
    key = (ms.version, urls.base, route is not None, step)
    try:
        xml = _RENDERED[key]
    except KeyError:
        xml = keep(_RENDERED, key, render_uncached(step, ms, urls, route), RENDER_CACHE_SIZE)
    except TypeError:  # a step holding something unhashable: render it every time
        return render_uncached(step, ms, urls, route)
    keep(_BY_ID, id(step), (step, key[:3], xml), RENDER_CACHE_SIZE)
    return xml


def render_uncached(step: Step, ms: MenuSet, urls: Urls, route: RouteRenderer | None = None) -> str:
    """The TwiML document for `step`, built with twilio's VoiceResponse."""
    response = VoiceResponse()
    if step.gather is not None:
        gather_step(response, step, ms, urls)
    else:
        for speech in step.say:
            speak(response, speech, step.lang, ms, urls)
        if step.route is not None and route is not None:
            route(response, step)
        elif step.redirect:
            response.redirect(step.redirect, method="POST")
        else:
            response.hangup()
    return str(response)


def gather_step(response: VoiceResponse, step: Step, ms: MenuSet, urls: Urls) -> None:
    """A Gather holding the prompts, then a Redirect that reports silence to the same webhook."""
    gather = step.gather
    url = urls.menu(gather.state)
    kwargs = {"input": "dtmf", "action": url, "method": "POST", "timeout": gather.timeout,
              "finish_on_key": gather.finish_on, "action_on_empty_result": False}
    if gather.num_digits:
        kwargs["num_digits"] = gather.num_digits
    element = response.gather(**kwargs)
    for speech in step.say:
        speak(element, speech, step.lang, ms, urls)
    response.redirect(url, method="POST")
