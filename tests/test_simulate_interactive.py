"""`ivr simulate` without --keys: an interactive phone in a terminal (stdin and a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

from click.testing import CliRunner
from test_simulate import env  # noqa: F401  (fixture)

from ivr.cli import main


def test_interactive_from_stdin_enter_is_silence_and_q_hangs_up(env):  # noqa: F811
    typed = "1\n\n1\nq\n"  # English, silence (no-input prompt), billing, quit
    result = CliRunner().invoke(main, ["simulate", "--at", "2026-06-01 10:00"], input=typed, env=env)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("[menu language]") < out.index("Sorry, I did not hear a choice.")
    assert "Billing 1, support 2" in out  # the short prompt after silence
    assert "[queue billing] Enter/w = wait on hold" in out
    assert "ended at: hangup (reached queue billing)" in out


def test_interactive_unknown_input_is_explained_and_the_call_goes_on(env):  # noqa: F811
    result = CliRunner().invoke(main, ["simulate"], input="answer\n1\n", env=env)
    assert "! 'answer' is not keys" in result.output
    assert "[menu main]" in result.output  # end of input hangs up after the menu


def read_until(fd: int, text: str, seen: bytearray) -> str:
    """Read the terminal until `text` appears (the child is killed by the test's timeout otherwise)."""
    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], 30)
        assert ready, f"no {text!r} in terminal output: {seen.decode(errors='replace')[-500:]}"
        seen += os.read(fd, 4096)
    return seen.decode(errors="replace")


def test_interactive_in_a_pseudo_terminal(env):  # noqa: F811
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", "from ivr.cli import main; main()", "simulate",
                              "--at", "2026-06-01 10:00"], stdin=slave, stdout=slave, stderr=slave,
                             env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    seen = bytearray()
    try:
        read_until(master, "[menu language]", seen)
        os.write(master, b"2\n")
        read_until(master, "Para facturación, oprima 1.", seen)
        os.write(master, b"0\n")
        read_until(master, "[transfer operator]", seen)
        os.write(master, b"b\n")  # busy: the transfer fails over to the general box
        out = read_until(master, "[voicemail general]", seen)
        assert "Por favor deje su nombre" in out
        os.write(master, b"r\n")
        out = read_until(master, "ended at", seen)
        assert child.wait(timeout=60) == 0
        assert "reached voicemail general" in out
    finally:
        child.kill() if child.poll() is None else None
        os.close(master)
