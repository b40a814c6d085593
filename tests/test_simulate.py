"""`ivr simulate`: simulated calls through the real signed webhooks, scripted from the CLI and YAML."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from phone import TOKEN

from ivr.cli import main
from ivr.simulate import ClientTransport, SimulatedCall, SimulationError

ROOT = Path(__file__).resolve().parent.parent
OPEN = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in New York: office open
CHRISTMAS = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # holiday: office closed


@pytest.fixture
def call_at(app):
    """Factory: a simulated call on the test app, with the app's clock set to `at`."""

    def make(at: datetime = OPEN, token: str = TOKEN) -> SimulatedCall:
        app.config["IVR_CLOCK"] = lambda: at
        return SimulatedCall(ClientTransport(app.test_client()), token)

    return make


@pytest.fixture
def env(tmp_path, menus_dir, redis_url) -> dict[str, str]:
    """Environment for the CLI: the test menus and Redis, the test token."""
    return {"IVR_MENUS": str(menus_dir), "REDIS_URL": redis_url, "TWILIO_AUTH_TOKEN": TOKEN,
            "IVR_DATA_DIR": str(tmp_path / "data"), "IVR_RECORDINGS": str(ROOT / "recordings"),
            "IVR_LOG_LEVEL": "WARNING", "IVR_PUBLIC_URL": ""}


def play(call: SimulatedCall, keys: str) -> SimulatedCall:
    call.start()
    for token in keys.split():
        call.do(token)
    return call


def test_keys_reach_the_billing_queue_and_the_call_record_says_so(call_at, redis_client):
    call = play(call_at(), "1 1")
    assert call.place == "queue billing" and call.reached("queue billing")
    texts = [h.text for h in call.heard]
    assert "For billing, press 1." in texts[2]  # after the two-language welcome
    assert "You are caller number 1." in texts  # Twilio asked the wait URL at once
    assert redis_client.hget(f"ivr:call:{{{call.sid}}}", "route") == "queue:billing"


def test_the_same_keys_on_christmas_end_in_billing_voicemail(call_at):
    call = play(call_at(CHRISTMAS), "1 1")
    assert call.place == "voicemail billing" and not call.reached("queue billing")
    assert any("Monday to Friday" in h.text for h in call.heard)


def test_leave_key_then_record_stores_the_message(call_at, redis_client):
    call = play(call_at(), "1 1 wait:120 * record:20")
    assert call.destinations == ["queue billing", "voicemail billing"]
    assert call.ended and call.place == "hangup" and call.reached("voicemail billing")
    assert "Thank you, your message has been recorded." in [h.text for h in call.heard]
    record = redis_client.hgetall(f"ivr:call:{{{call.sid}}}")
    assert record["queue_result"] == "leave" and record["voicemail"] == "left"
    assert redis_client.hget(f"ivr:vm:{{{record['voicemail_id']}}}", "box") == "billing"


def test_agent_answers_then_the_survey_is_answered_with_keys(make_app, menus_dir, redis_client):
    routing = menus_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("survey_rate: 30%", "survey_rate: 100%"))
    app = make_app()
    app.config["IVR_CLOCK"] = lambda: OPEN
    call = play(SimulatedCall(ClientTransport(app.test_client()), TOKEN), "1 1 answer")
    assert call.place.startswith("survey") and call.reached("queue billing")
    for key in "1 5 1 9#".split():
        call.do(key)
    assert call.ended and call.heard[-1].text == "Thank you for your feedback. Goodbye."
    assert redis_client.hget(f"ivr:call:{{{call.sid}}}", "queue_result") == "bridged"


def test_silence_follows_the_redirect_to_the_fallback(call_at):
    call = play(call_at(), "1 silence silence silence")
    said = [h.text for h in call.heard]
    assert "Sorry, I did not hear a choice." in said
    assert call.place == "queue operator"


def test_transfer_no_answer_goes_to_the_general_box(call_at):
    call = play(call_at(), "2 0 no-answer")
    assert call.destinations == ["transfer operator", "voicemail general"]
    assert call.heard[-1].lang == "es-US"


def test_caller_hangs_up_in_the_queue(call_at, redis_client):
    call = play(call_at(), "1 2 1 hangup")
    assert call.ended
    assert redis_client.hget(f"ivr:call:{{{call.sid}}}", "abandoned") == "queue"


def test_digits_beyond_one_key_feed_the_next_menus(call_at):
    call = play(call_at(), "13123456#")
    assert call.place == "queue orders"


def test_a_wrong_token_is_refused_with_a_clear_message(call_at):
    call = call_at(token="not-the-token")
    with pytest.raises(SimulationError, match="403"):
        call.start()


def test_events_that_do_not_fit_the_moment_say_what_fits(call_at):
    call = call_at()
    call.start()
    with pytest.raises(SimulationError, match="keys"):
        call.do("answer")


def test_cli_keys_expect_and_at(env):
    runner = CliRunner()
    ok = runner.invoke(main, ["simulate", "--keys", "1 1", "--expect", "queue billing",
                              "--at", "2026-06-01 10:00"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "For billing, press 1." in ok.output and "ended at: queue billing" in ok.output
    closed = runner.invoke(main, ["simulate", "--keys", "1 1", "--expect", "queue billing",
                                  "--at", "2026-12-25 10:00"], env=env)
    assert closed.exit_code == 1
    assert "expected the call to end at 'queue billing'; it ended at 'voicemail billing'" in closed.output


def test_cli_lang_shows_only_the_chosen_language(env):
    result = CliRunner().invoke(main, ["simulate", "--keys", "2", "--lang", "es-US",
                                       "--expect", "menu main"], env=env)
    assert result.exit_code == 0, result.output
    assert "Para español, oprima 2." in result.output and "For English" not in result.output
    assert "Para facturación, oprima 1." in result.output


def test_scripted_calls_from_a_yaml_file(env, menus_dir):
    checks = menus_dir / "more-checks"
    checks.mkdir()
    (checks / "hours.yaml").write_text(
        "calls:\n"
        "  - name: billing in office hours\n    at: 2026-06-01 10:00\n    keys: 1 1\n"
        "    expect: queue billing\n"
        "  - name: billing on Christmas\n    at: 2026-12-25 10:00\n    keys: 1 1\n"
        "    expect: voicemail billing\n    expect_heard: Monday to Friday\n"
        "  - name: a wrong expectation\n    keys: 1 9\n    expect: queue billing\n")
    result = CliRunner().invoke(main, ["simulate", "--script", str(checks)], env=env)
    assert result.exit_code == 1
    assert "PASS billing in office hours" in result.output
    assert "PASS billing on Christmas" in result.output
    assert "FAIL a wrong expectation" in result.output and "2 passed, 1 failed" in result.output
    # the loader reads only top-level menus/*.yaml: the checks folder does not disturb the menus
    assert CliRunner().invoke(main, ["check", str(menus_dir)], env=env).exit_code == 0


def test_shipped_scripted_checks_pass(env, menus_dir):
    result = CliRunner().invoke(main, ["simulate", "--script", str(menus_dir / "checks")], env=env)
    assert result.exit_code == 0, result.output
    assert "5 passed, 0 failed" in result.output


def test_script_mistakes_are_explained(env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("calls:\n  - keys: 1\n    expct: queue billing\n")
    result = CliRunner().invoke(main, ["simulate", "--script", str(bad)], env=env)
    assert result.exit_code == 1
    assert "unknown field(s) expct" in result.output


def test_speak_runs_espeak_ng_with_the_prompt_language(env, tmp_path):
    tool = tmp_path / "bin" / "espeak-ng"
    tool.parent.mkdir()
    log = tmp_path / "spoken.txt"
    tool.write_text(f'#!/bin/sh\necho "$2|$3" >> {log}\n')
    tool.chmod(0o755)
    env = {**env, "PATH": f"{tool.parent}:/usr/bin:/bin"}
    result = CliRunner().invoke(main, ["simulate", "--keys", "2", "--speak"], env=env)
    assert result.exit_code == 0, result.output
    spoken = log.read_text().splitlines()
    assert spoken[0] == "en-us|Thank you for calling Acme. For English, press 1."
    assert spoken[-1].startswith("es-us|Para facturación, oprima 1.")
