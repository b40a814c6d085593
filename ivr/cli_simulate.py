"""`ivr simulate`: a terminal phone on the real webhooks, interactive or scripted."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ivr.privacy import mask_number
from ivr.settings import load_config
from ivr.simulate import (
    ClientTransport,
    Heard,
    HttpTransport,
    SimulatedCall,
    SimulationError,
    Transport,
)

HINTS = {
    "Gather": "keys, Enter = silence, h = hang up",
    "Enqueue": "Enter/w = wait on hold (w:300 = 300 s), a = agent answers, h = hang up, or a key",
    "Record": "r = record a message (r:30 = 30 s), Enter = say nothing, h = hang up",
    "Dial": "a = answered, n = no-answer, b = busy, f = failed, h = hang up",
}
ENTER = {"Gather": "silence", "Enqueue": "wait", "Record": "silence", "Dial": "no-answer"}


@dataclass
class Line:
    """Where simulated calls go: a transport, the token that signs them, and the base URL."""

    transport: Transport
    token: str
    base: str = "http://localhost"
    allows_clock: bool = True
    app: object = None

    def set_clock(self, at: datetime | None) -> None:
        """Run the next calls as if at `at` (None: real time)."""
        if self.app is not None:
            self.app.config["IVR_CLOCK"] = (lambda: at) if at else None


@contextlib.contextmanager
def local_line(menus: Path | None = None) -> Iterator[Line]:
    """The real app in this process, on REDIS_URL or on an embedded Redis of its own."""
    from ivr.redisconn import start_embedded, stop_embedded

    config = load_config()
    overrides = {"IVR_PUBLIC_URL": "", "IVR_RELOAD_SECONDS": "0", "IVR_TRUSTED_PROXIES": "0"}
    if menus:
        overrides["IVR_MENUS"] = str(menus)
    folder = None
    if not config.get("REDIS_URL"):
        folder = Path(tempfile.mkdtemp(prefix="ivr-sim-"))
        overrides["REDIS_URL"] = start_embedded(folder)
    try:
        from app import create_app  # the CLI is where the engine meets the web app

        app = create_app(overrides)
        yield Line(ClientTransport(app.test_client()), app.extensions["ivr"].auth_token, app=app)
    finally:
        if folder:
            stop_embedded(folder)
            shutil.rmtree(folder, ignore_errors=True)


def remote_line(url: str) -> Line:
    """A running server at `url`, signed with TWILIO_AUTH_TOKEN or the local generated token."""
    from ivr.runtime import resolve_auth_token

    return Line(HttpTransport(), resolve_auth_token(load_config()), base=url.rstrip("/"),
                allows_clock=False)


def parse_at(text: str, zone: str | None) -> datetime:
    """A moment such as `2026-12-25 10:00` (in `zone`, else UTC) or with an offset or zone name."""
    text, name = text.strip(), ""
    if text.count(" ") == 2:
        text, name = text.rsplit(" ", 1)
    try:
        moment = datetime.fromisoformat(text)
        tz = ZoneInfo(name or zone or "UTC")
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise click.BadParameter(f"{exc}; write for example \"2026-12-25 10:00\" or "
                                 "\"2026-12-25 10:00 Europe/Paris\"", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def schedule_zone(menus: Path | None) -> str | None:
    """The time zone of the first schedule in the menus: `--at` times are read in it."""
    from ivr.loader import check_menus

    config = load_config()
    menuset, _ = check_menus(menus or config.path("IVR_MENUS"), config.path("IVR_RECORDINGS"))
    if menuset is None or not menuset.schedules:
        return None
    return next(iter(menuset.schedules.values())).timezone


class Printer:
    """Prints what the caller hears (only `lang` on multi-language prompts) and speaks it if asked."""

    def __init__(self, lang: str | None = None, speak: bool = False, out=None):
        self.lang, self.out = lang, out or sys.stdout
        self.voice = shutil.which("espeak-ng") if speak else None
        if speak and not self.voice:
            click.echo("--speak: espeak-ng is not installed; printing only", err=True)

    def __call__(self, heard: list[Heard]) -> None:
        langs = {h.lang for h in heard}
        for item in heard:
            if self.lang and item.lang and item.lang != self.lang and self.lang in langs:
                continue
            click.echo(f"  hears: {item}", file=self.out)
            if self.voice and item.text:
                subprocess.run([self.voice, "-v", (item.lang or "en").lower(), item.text], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_keys(call: SimulatedCall, keys: str) -> None:
    """Place the call and play a scripted key string such as `2 1 silence 3 #`."""
    call.start()
    for token in keys.split():
        click.echo(f"> {token}")
        call.do(token)


def run_interactive(call: SimulatedCall, show_twiml: bool = False) -> None:
    """Place the call and take keys from the terminal until it ends (EOF hangs up)."""
    call.start()
    while not call.ended:
        kind = call.waiting.tag
        click.echo(f"[{call.place}] {HINTS[kind]}, q = quit")
        try:
            typed = input("> ").strip()
        except EOFError:
            typed = "h"
        if typed.lower() in ("q", "quit"):
            call.do("hangup")
            break
        try:
            call.do(typed or ENTER[kind])
        except SimulationError as exc:
            click.echo(f"  ! {exc}")
        if show_twiml:
            click.echo(call.turns[-1].xml)


def report(call: SimulatedCall, expect: str | None, heard: str | None) -> bool:
    """Print where the call ended; False when it is not where `expect` and `heard` say."""
    where = call.destinations[-1] if call.destinations else call.place
    click.echo(f"= call ended at: {call.place}" + (f" (reached {where})" if where != call.place else "")
               + f", menu version {call.version}")
    ok = True
    if expect and not call.reached(expect):
        click.echo(f"FAIL: expected the call to end at {expect!r}; it ended at {call.place!r}"
                   + (f" after reaching {where!r}" if where != call.place else ""), err=True)
        ok = False
    text = " ".join(h.text for h in call.heard).lower()
    if heard and heard.lower() not in text:
        click.echo(f"FAIL: the caller never heard {heard!r}", err=True)
        ok = False
    return ok


def register(main: click.Group) -> None:
    """Add the `simulate` command to the CLI."""

    @main.command()
    @click.option("--from", "number", default="", help="Caller number (default: a new random one).")
    @click.option("--keys", help='Scripted events, e.g. "2 1 silence 3 #" (no --keys: interactive).')
    @click.option("--expect", help='Where the call must end, e.g. "queue billing"; exit 1 if not.')
    @click.option("--expect-heard", help="Words the caller must hear at some point; exit 1 if not.")
    @click.option("--lang", help="On prompts in several languages, show only this one (e.g. es-US).")
    @click.option("--at", help='Run as if at this time, e.g. "2026-12-25 10:00" (schedule time zone).')
    @click.option("--script", "scripts", multiple=True, type=click.Path(exists=True, path_type=Path),
                  help="YAML file or folder of scripted calls (e.g. menus/checks/); repeatable.")
    @click.option("--menus", type=click.Path(exists=True, path_type=Path),
                  help="Menus folder to try (default: IVR_MENUS).")
    @click.option("--url", help="Call a running server (e.g. http://127.0.0.1:5000) instead.")
    @click.option("--speak", is_flag=True, help="Speak prompts aloud with espeak-ng when installed.")
    @click.option("--twiml", "show_twiml", is_flag=True, help="Print the TwiML of each step.")
    def simulate(number, keys, expect, expect_heard, lang, at, scripts, menus, url, speak,
                 show_twiml) -> None:
        """Call the menus without a phone: hear the prompts, press keys, play the other side."""
        from ivr.simulate_script import run_scripts

        if (at or url and menus) and url:
            raise click.UsageError("--at and --menus need the local app; leave out --url")
        moment = parse_at(at, schedule_zone(menus)) if at else None
        with contextlib.ExitStack() as stack:
            line = remote_line(url) if url else stack.enter_context(local_line(menus))
            if scripts:
                sys.exit(0 if run_scripts(line, scripts, Printer(lang), schedule_zone(menus)) else 1)
            line.set_clock(moment)
            call = SimulatedCall(line.transport, line.token, line.base, number=number,
                                 listen=Printer(lang, speak))
            click.echo(f"calling from {mask_number(call.number)}"
                       + (f" at {moment.isoformat(' ')}" if moment else ""))
            try:
                run_keys(call, keys) if keys is not None else run_interactive(call, show_twiml)
            except SimulationError as exc:
                click.echo(f"FAIL: {exc}", err=True)
                sys.exit(1)
            if not report(call, expect, expect_heard):
                sys.exit(1)
