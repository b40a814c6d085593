"""`ivr check --timing`: time to destination, figures worked out by hand on a small menu."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.loader import load_menus
from ivr.timing import Speaker, parse_wpm, time_to_destinations

# Words are counted by hand: 150 words per minute is 0.4 s a word.
SMALL = """
languages:
  en-US: {voice: Polly.Joanna, name: English}
line: {start: main, main: main, returning_callers: false}
defaults:
  timeout: 5
  attempts: 2
  no_input: [{en-US: Sorry.}]
  fallback: {voicemail: box}
menus:
  main:
    prompt: {en-US: For sales press 1. For help press 2.}
    options:
      1: {queue: sales}
      2: {menu: help}
  help:
    prompt: {en-US: {play: recordings/help.wav}}
    options:
      1: {voicemail: box}
      2:
        say: {en-US: Visit our web site.}
        then: hangup
queues:
  sales: {hold_music: recordings/help.wav}
voicemail:
  box:
    greeting: {en-US: Speak after the tone.}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """The small menu, and a 2.5 s recording it plays."""
    (tmp_path / "recordings").mkdir()
    with wave.open(str(tmp_path / "recordings" / "help.wav"), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 20000)  # 20000 frames at 8 kHz: 2.5 s
    (tmp_path / "menus").mkdir()
    (tmp_path / "menus" / "line.yaml").write_text(SMALL)
    return tmp_path


def routes(folder: Path, wpm: str = "150") -> dict[str, tuple[tuple[str, ...], float]]:
    default, per_lang = parse_wpm(wpm)
    ms = load_menus(folder / "menus", folder / "recordings")
    found = time_to_destinations(ms, Speaker(folder / "recordings", per_lang, default))
    return {r.destination: (r.keys, r.seconds) for r in found}


def test_hand_checked_figures(small):
    found = routes(small)
    # main prompt: 8 words = 3.2 s; then key 1 reaches the queue (nothing else said on the way).
    assert found["queue sales"] == (("1",), 3.2)
    # 3.2 s + help recording 2.5 s + greeting "Speak after the tone." 4 words = 1.6 s -> 7.3 s
    assert found["voicemail box"] == (("2", "1"), 7.3)
    # 3.2 + 2.5 + "Visit our web site." 4 words 1.6 -> 7.3 s
    assert found["message: Visit our web site."] == (("2", "2"), 7.3)


def test_silence_costs_the_timeouts_and_reprompts(small):
    (small / "menus" / "line.yaml").write_text(SMALL.replace("1: {queue: sales}", "1: {menu: help}")
                                               .replace("1: {voicemail: box}", "3: {queue: sales}"))
    found = routes(small)
    # the box is now only the fallback of main: prompt 3.2, timeout 5, "Sorry." 0.4 + prompt 3.2,
    # timeout 5, then the greeting 1.6 -> 18.4 s
    assert found["voicemail box"] == (("silence", "silence"), 18.4)


def test_speaking_rate_per_language(small):
    found = routes(small, "120,en-US=100")  # en-US: 0.6 s a word
    assert found["queue sales"] == (("1",), 4.8)


def test_cli_warns_above_the_budget(small):
    env = {"IVR_RECORDINGS": str(small / "recordings")}
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(small / "menus"), "--timing"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "voicemail box" in ok.output and "7.3 s  keys: 2 1" in ok.output
    over = runner.invoke(main, ["check", str(small / "menus"), "--timing", "--budget", "5"], env=env)
    assert over.exit_code == 0  # a warning, like every other warning of ivr check
    assert re.search(r"voicemail box +en-US +7\.3 s  keys: 2 1  warning: above the 5 s budget", over.output)
    assert re.search(r"queue sales +en-US +3\.2 s  keys: 1\n", over.output)
    assert "2 destination(s) above the 5 s budget" in over.output


def test_bad_speaking_rate_is_explained(small):
    result = CliRunner().invoke(main, ["check", str(small / "menus"), "--timing", "--wpm", "fast"],
                                env={"IVR_RECORDINGS": str(small / "recordings")})
    assert result.exit_code == 2 and "words per minute" in result.output
