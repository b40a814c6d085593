"""`ivr check`: every problem in menu files reported at once as file:line: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
languages:
  en-US: {voice: Polly.Joanna, name: English}
  es-US: {voice: Polly.Lupe, name: Español}
line: {start: main}
"""


def run_check(tmp_path: Path, body: str, head: str = HEAD) -> tuple[int, list[str]]:
    folder = tmp_path / "menus"
    folder.mkdir(exist_ok=True)
    (folder / "m.yaml").write_text(head + textwrap.dedent(body))
    (tmp_path / "recordings").mkdir(exist_ok=True)
    (tmp_path / "recordings" / "hello.wav").write_bytes(b"RIFF")
    result = CliRunner().invoke(main, ["check", str(folder), "--recordings", str(tmp_path / "recordings")])
    lines = [line.replace(str(folder) + "/", "") for line in result.output.splitlines()]
    return result.exit_code, lines


def test_shipped_menus_are_valid():
    result = CliRunner().invoke(main, ["check", str(ROOT / "menus"), "--recordings", str(ROOT / "recordings")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


GOOD = """\
menus:
  main:
    prompt: {en-US: Press 1 for sales., es-US: Oprima 1 para ventas.}
    options:
      1: sales
      2: hangup
  sales:
    prompt: {en-US: Sales. Press star to go back., es-US: Ventas. Oprima asterisco para volver.}
    options:
      "*": back
      9: {say: {en-US: Bye, es-US: Adiós}}
"""


def test_small_valid_menu(tmp_path):
    code, lines = run_check(tmp_path, GOOD)
    assert code == 0, lines
    assert lines[-1].startswith("ok: 2 menus, 2 languages")


@pytest.mark.parametrize("body, expected", [
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    promt: x\n    options: {1: hangup}\n",
     "m.yaml:8: unknown field 'promt' in menu 'main' (did you mean 'prompt'?); allowed fields: "
     "title, all_languages, prompt, short_prompt, options, timeout, attempts, no_input, invalid, "
     "fallback, collect, branches, otherwise"),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options:\n      1: hangup\n      1: main\n",
     "m.yaml:10: duplicate key 1 (first defined on line 9); YAML would silently keep only the last "
     "one: remove or rename one of them"),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options: {12: hangup, 1: hangup}\n",
     "m.yaml:8: invalid key 12 in menu 'main': a caller can only press one of 0-9, * and # "
     "(write \"*\" and \"#\" in quotes, or star and pound)"),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options: {1: billing}\n",
     "m.yaml:8: option 1 of menu 'main' goes to menu 'billing', which does not exist"),
    ("menus:\n  main:\n    prompt: {en-US: a}\n    options: {1: hangup}\n",
     "m.yaml:7: prompt of menu 'main' is missing its text in es-US: every prompt must be given in "
     "every declared language"),
    ("menus:\n  main:\n    prompt: {play: recordings/missing.wav}\n    options: {1: hangup}\n",
     "m.yaml:7: recording file 'recordings/missing.wav' not found in "),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options: {1: hangup}\n"
     "  lost:\n    prompt: {en-US: a, es-US: b}\n    options: {1: hangup}\n",
     "m.yaml:9: menu 'lost' is never reached: no option, branch or fallback leads to it; link it "
     "from a menu or delete it"),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options:\n      1: [x\n",
     "m.yaml:10: YAML syntax: "),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options:\n      *: repeat\n",
     "m.yaml:9: YAML syntax: expected alphabetic or numeric character, but found ':' (the keys * "
     "and # must be written in quotes: \"*\" and \"#\", or as star and pound)"),
    ("menus:\n  main:\n    prompt: {en-US: a, es-US: b}\n    options: {1: loop}\n"
     "  loop:\n    prompt: {en-US: a, es-US: b}\n    options: {1: repeat, 2: main}\n    fallback: repeat\n",
     "m.yaml:12: fallback of menu 'loop' cannot be 'repeat': the caller would be reprompted "
     "forever; use a goodbye, voicemail, a queue or another menu"),
])
def test_each_problem_is_reported_with_file_and_line(tmp_path, body, expected):
    code, lines = run_check(tmp_path, body)
    assert code == 1
    assert any(line.startswith(expected) for line in lines), "\n".join(lines)


def test_every_problem_reported_at_once(tmp_path):
    body = """\
    menus:
      main:
        promt: x
        prompt: {en-US: a}
        options: {1: nowhere, x: hangup}
    """
    code, lines = run_check(tmp_path, body)
    assert code == 1
    problems = [line for line in lines if line.startswith("m.yaml:")]
    assert [p.split(":")[1] for p in problems] == ["7", "8", "9", "9"]
    assert "1 error(s)" not in lines[-1]


def test_loop_without_caller_input_is_refused(tmp_path):
    body = """\
    menus:
      main:
        prompt: {en-US: a, es-US: b}
        options: {1: other}
        fallback: other
      other:
        prompt: {en-US: a, es-US: b}
        options: {1: hangup}
        fallback: main
    """
    code, lines = run_check(tmp_path, body)
    assert code == 1
    loop = [line for line in lines if "endless loop" in line]
    assert loop and loop[0].startswith("m.yaml:")
    assert "menu:main -> menu:other -> menu:main" in loop[0] or "menu:other -> menu:main -> menu:other" in loop[0]


def test_menu_that_never_leads_anywhere(tmp_path):
    body = """\
    menus:
      main:
        prompt: {en-US: a, es-US: b}
        options: {1: trap}
      trap:
        prompt: {en-US: a, es-US: b}
        options: {1: repeat, 2: trap2}
        fallback: trap2
      trap2:
        prompt: {en-US: a, es-US: b}
        options: {1: trap}
        fallback: trap3
      trap3:
        prompt: {en-US: a, es-US: b}
        options: {1: trap}
        fallback: {menu: trap, label: x}
    """
    code, lines = run_check(tmp_path, body)
    assert code == 1
    assert lines[0] == ("m.yaml:20: endless loop without caller input: menu:trap -> menu:trap2 -> "
                        "menu:trap3 -> menu:trap; a caller who presses nothing would go round forever. "
                        "Make one fallback, on_timeout or on_fail end the call (a goodbye, voicemail or "
                        "hangup)")


def test_warnings_do_not_fail(tmp_path):
    options = "\n".join(f"      {k}: hangup" for k in range(1, 8))
    levels = "".join(f"""
  l{i}:
    prompt: {{en-US: a, es-US: b}}
    options: {{1: l{i + 1}}}""" for i in range(1, 6))
    body = f"""\
menus:
  main:
    prompt: {{en-US: a, es-US: b}}
    options:
{options}
      8: l1
{levels.lstrip(chr(10))}
  l6:
    prompt: {{en-US: a, es-US: b}}
    options: {{1: hangup}}
"""
    code, lines = run_check(tmp_path, body)
    assert code == 0, lines
    assert any("warning: menu 'main' has 8 options" in line for line in lines)
    assert any(line.startswith("m.yaml:") and "warning: menu 'l5' is 5 levels deep" in line for line in lines)


def test_reference_and_graph_problems_are_reported_together(tmp_path):
    body = """\
    menus:
      main:
        prompt: {en-US: a, es-US: b}
        options: {1: nowhere, 2: other}
        fallback: other
      other:
        prompt: {en-US: a, es-US: b}
        options: {1: hangup}
        fallback: main
      orphan:
        prompt: {en-US: a, es-US: b}
        options: {1: hangup}
    """
    code, lines = run_check(tmp_path, body)
    assert code == 1
    text = "\n".join(lines)
    assert "goes to menu 'nowhere', which does not exist" in text
    assert "menu 'orphan' is never reached" in text
    assert "endless loop without caller input" in text
