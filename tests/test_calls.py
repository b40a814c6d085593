"""Whole calls through the signed webhooks: menus, languages, input, errors, reloads."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlparse

import pytest
from phone import Phone

from ivr.calls import CallStore
from ivr.privacy import mask_number


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_language_choice_english(phone):
    first = phone.call()
    assert first.verbs == ["Gather", "Redirect"]
    gather = first.first("Gather")
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert first.said == ["Thank you for calling Acme. For English, press 1.", "Para español, oprima 2."]
    assert first.languages == ["en-US", "es-US"]
    main = phone.press("1")
    assert main.said[0].startswith("For billing, press 1.")
    assert set(main.languages) == {"en-US"}
    assert query(phone.action_of("Gather"))["n"] == "main"


def test_language_choice_spanish_sticks_for_the_call(phone):
    phone.call()
    main = phone.press("2")
    assert main.said[0].startswith("Para facturación, oprima 1.")
    support = phone.press("2")
    assert support.said[0].startswith("Para problemas de internet")
    assert support.languages == ["es-US"]
    assert support.first("Say").get("voice") == "Polly.Lupe-Neural"


def test_submenu_and_back(phone):
    phone.call()
    phone.press("1")
    support = phone.press("2")
    assert support.said[0].startswith("For internet problems")
    back = phone.press("*")
    assert back.said[0].startswith("For billing, press 1.")  # main entered anew: full prompt
    assert query(phone.action_of("Gather"))["n"] == "main"


def test_main_menu_key_from_submenu(phone):
    phone.call()
    phone.press("1")
    phone.press("2")
    main = phone.press("0")
    assert query(phone.action_of("Gather"))["n"] == "main"
    assert main.said[0].startswith("For billing, press 1.")


def test_repeat_plays_short_prompt(phone):
    phone.call()
    phone.press("1")
    again = phone.press("*")
    assert again.said == ["Billing 1, support 2, order status 3, operator 0, message 9."]


def test_order_number_entry_with_pound(phone, redis_client):
    phone.call()
    phone.press("1")
    entry = phone.press("3")
    gather = entry.first("Gather")
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
    routed = phone.press("123456#")
    enqueue = routed.first("Enqueue")
    assert enqueue.text == "orders"
    assert query(enqueue.get("action"))["x_order_number"] == "123456"
    record = CallStore().get(redis_client, phone.sid)
    assert record["route"] == "queue:orders"
    assert record["entered_order_number"] == "123456"


def test_order_number_prefix_branch(phone):
    phone.call()
    phone.press("1")
    phone.press("3")
    partner = phone.press("9123456#")
    assert partner.said[0].startswith("Orders starting with 9")
    assert query(phone.action_of("Gather"))["n"] == "main"


def test_order_number_too_short_reprompts(phone):
    phone.call()
    phone.press("1")
    phone.press("3")
    again = phone.press("12#")
    assert again.said[0] == "Sorry, that is not a valid choice."
    assert query(phone.action_of("Gather")) ["n"] == "order_status"


def test_wrong_key_then_second_wording(phone):
    phone.call()
    phone.press("1")
    wrong = phone.press("7")
    assert wrong.said[0] == "Sorry, that is not a valid choice."
    assert query(phone.action_of("Gather"))["a"] == "1"
    wrong2 = phone.press("8")
    assert wrong2.said[0] == "Sorry, that key is not one of the choices. Please listen again."


def test_silence_gets_no_input_prompt(phone):
    phone.call()
    phone.press("2")
    quiet = phone.silence()
    assert quiet.said[0] == "Lo siento, no escuché ninguna opción."
    assert quiet.verbs == ["Gather", "Redirect"]


def test_attempts_exhausted_goes_to_fallback(phone, redis_client):
    phone.call()
    phone.press("1")
    phone.silence()
    phone.press("7")
    final = phone.silence()
    assert final.first("Enqueue").text == "operator"
    path = CallStore().path(redis_client, phone.sid)
    assert path[-1].startswith("silence | attempts exhausted main | route queue operator")


def test_counters_reset_when_menu_entered_anew(phone):
    phone.call()
    phone.press("1")
    phone.press("7")  # one failure in main
    phone.press("2")  # support
    phone.press("*")  # back in main: counter starts again
    assert "a" not in query(phone.action_of("Gather"))


def test_language_menu_fallback_after_two_silences(phone):
    phone.call()
    phone.silence()
    main = phone.silence()
    assert main.said[0].startswith("For billing")


def test_call_path_and_status_recorded(phone, redis_client):
    phone.call()
    phone.press("2")
    phone.press("2")
    phone.press("3")  # outage message then hang up
    assert phone.last.verbs == ["Say", "Hangup"]
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": "42"})
    store = CallStore()
    record = store.get(redis_client, phone.sid)
    assert record["lang"] == "es-US"
    assert record["status"] == "completed" and record["duration"] == "42"
    assert record["caller"] == "+1******4567"
    assert "+15551234567" not in str(record)
    assert store.path(redis_client, phone.sid) == [
        "menu language", "key 2 | language es-US | menu main", "key 2 | menu support", "key 3 | hangup"]
    assert phone.sid in store.sids(redis_client, 0, 10**11)


def test_repeated_webhook_is_idempotent(phone, redis_client):
    phone.call()
    action = phone.action_of("Gather")
    phone.post(action, {"Digits": "1"})
    phone.post(action, {"Digits": "1"})  # Twilio retried
    store = CallStore()
    assert store.path(redis_client, phone.sid) == ["menu language", "key 1 | language en-US | menu main"]
    assert redis_client.zcard(store.BY_TIME) == 1


# -- bad input -----------------------------------------------------------------------------------
def test_missing_signature_is_403(phone):
    response = phone.post("/voice/incoming", signed=False, raw=True)
    assert response.status_code == 403
    assert b"X-Twilio-Signature" in response.data and b"Traceback" not in response.data


def test_wrong_signature_is_403(app):
    other = Phone(app.test_client(), token="not-the-token")
    response = other.post("/voice/incoming", raw=True)
    assert response.status_code == 403


def test_tampered_state_is_403(phone):
    phone.call()
    action = phone.action_of("Gather").replace("n=language", "n=main")
    sig = phone.sign("http://localhost" + phone.action_of("Gather"), {"Digits": "1"})
    response = phone.client.post(action, data={"Digits": "1"}, headers={"X-Twilio-Signature": sig})
    assert response.status_code == 403


def test_unknown_menu_in_url_returns_to_main_with_apology(phone):
    recovered = phone.post("/voice/menu?n=nosuchmenu&l=en-US&v=0123456789&s=3", {"Digits": "1"})
    assert recovered.said[0] == "Sorry, our menu has just changed. Returning to the main menu."
    assert query(phone.action_of("Gather"))["n"] == "main"


def test_garbage_state_gets_twiml_recovery(phone):
    recovered = phone.post("/voice/menu?n=<script>&l=xx&v=1&s=abc", {"Digits": "1"})
    assert recovered.said[0] == "We are sorry, we are having a technical problem."
    assert recovered.first("Enqueue").text == "operator"


def test_garbage_digits_are_invalid_choice(phone):
    phone.call()
    phone.press("1")
    wrong = phone.press("\u00e9\u0000x")
    assert wrong.said[0] == "Sorry, that is not a valid choice."


def test_oversized_body_is_413(phone):
    response = phone.post("/voice/incoming", {"Junk": "x" * 100_000}, raw=True)
    assert response.status_code == 413
    assert b"Traceback" not in response.data


def test_non_utf8_body_is_refused_cleanly(app):
    client = app.test_client()
    response = client.post("/voice/incoming", data=b"CallSid=\xff\xfe&From=%FF",
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "abc"})
    assert response.status_code == 403
    assert b"Traceback" not in response.data


def test_wrong_method_is_405(app):
    response = app.test_client().get("/voice/incoming")
    assert response.status_code == 405
    assert response.mimetype == "text/plain"


def test_fallback_url_apologises_and_routes(phone):
    answer = phone.post("/voice/fallback")
    assert answer.said[0] == "We are sorry, we are having a technical problem."
    assert answer.first("Enqueue").text == "operator"


def test_unexpected_error_still_answers_twiml(phone, app, monkeypatch):
    from ivr import navigator

    def broken(self, state, digits):
        raise RuntimeError("boom")

    monkeypatch.setattr(navigator.Navigator, "press", broken)
    phone.call()
    answer = phone.press("1")
    assert answer.status == 200
    assert answer.said[0] == "We are sorry, we are having a technical problem."
    assert "boom" not in answer.text


# -- proxies -------------------------------------------------------------------------------------
def test_signature_behind_trusted_proxy(make_app):
    app = make_app(IVR_TRUSTED_PROXIES=1)
    phone = Phone(app.test_client())
    url = "https://ivr.example.com/voice/incoming"
    form = {"CallSid": "CA9", "From": "+15550001234"}
    headers = {"X-Twilio-Signature": phone.sign(url, form), "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "ivr.example.com"}
    assert app.test_client().post("/voice/incoming", data=form, headers=headers).status_code == 200
    untrusted = make_app(IVR_TRUSTED_PROXIES=0)
    assert untrusted.test_client().post("/voice/incoming", data=form, headers=headers).status_code == 403


def test_public_url_setting(make_app):
    app = make_app(IVR_PUBLIC_URL="https://ivr.example.com")
    phone = Phone(app.test_client())
    url = "https://ivr.example.com/voice/incoming"
    form = {"CallSid": "CA9", "From": "+15550001234"}
    response = app.test_client().post("/voice/incoming", data=form,
                                      headers={"X-Twilio-Signature": phone.sign(url, form)})
    assert response.status_code == 200
    assert "https://ivr.example.com/voice/menu?" in response.get_data(as_text=True)


# -- health and Redis outage ---------------------------------------------------------------------
def test_healthz_reports_version_and_redis(app):
    body = app.test_client().get("/healthz").get_json()
    assert body["redis"] == "ok" and body["status"] == "ok"
    assert body["menu_version"] == app.extensions["ivr"].menus.current.version


def test_calls_go_on_when_redis_is_down(make_app, stoppable_redis):
    app = make_app(REDIS_URL=stoppable_redis.url)
    phone = Phone(app.test_client())
    stoppable_redis.stop()
    assert phone.call().verbs == ["Gather", "Redirect"]
    assert phone.press("2").said[0].startswith("Para facturación")
    health = app.test_client().get("/healthz").get_json()
    assert health["redis"] == "unreachable" and health["spooled_writes"] >= 1
    stoppable_redis.start()
    app.extensions["ivr"].writer._open_until = 0  # let the next write retry at once
    assert app.extensions["ivr"].writer.replay() >= 1
    with stoppable_redis.client() as client:
        assert CallStore().path(client, phone.sid) == ["menu language", "key 2 | language es-US | menu main"]


# -- reload --------------------------------------------------------------------------------------
def test_reload_during_call_keeps_call_working(make_app, menus_dir):
    app = make_app(IVR_RELOAD_SECONDS="0.000001")
    phone = Phone(app.test_client())
    phone.call()
    phone.press("1")
    phone.press("2")  # in support
    old_version = query(phone.action_of("Gather"))["v"]
    main_yaml = menus_dir / "main.yaml"
    text = main_yaml.read_text()
    main_yaml.write_text(text.replace("For internet problems, press 1.", "For internet, press 1."))
    new = Phone(app.test_client()).call()
    registry = app.extensions["ivr"].menus
    assert len(registry.versions) == 2
    assert new.status == 200
    assert query(new.first("Gather").get("action"))["v"] != old_version
    still = phone.press("*")  # the call goes on, on the version it started with
    assert still.said[0].startswith("For billing, press 1.")
    assert query(phone.action_of("Gather"))["v"] == old_version


def test_broken_edit_never_replaces_running_menus(make_app, menus_dir, app):
    app = make_app(IVR_RELOAD_SECONDS="0.000001")
    before = app.extensions["ivr"].menus.current.version
    (menus_dir / "main.yaml").write_text((menus_dir / "main.yaml").read_text().replace("prompt:", "promt:", 1))
    phone = Phone(app.test_client())
    assert phone.call().said[0].startswith("Thank you for calling Acme")
    health = app.test_client().get("/healthz").get_json()
    assert health["menu_version"] == before and health["status"] == "degraded"
    assert any("unknown field 'promt'" in e for e in health["menu_reload_errors"])


def test_menu_removed_by_reload_sends_call_to_main(make_app, menus_dir, tmp_path):
    app = make_app(IVR_RELOAD_SECONDS="0.000001", IVR_VERSIONS_KEPT=1)
    phone = Phone(app.test_client())
    phone.call()
    phone.press("1")
    phone.press("2")  # in support
    text = (menus_dir / "main.yaml").read_text()
    start = text.index("  support:")
    end = text.index("  order_status:")
    text = text[:start] + text[end:]
    text = text.replace("2: {menu: support, label: Technical support}", "2: {queue: support}")
    (menus_dir / "main.yaml").write_text(text)
    app.extensions["ivr"].menus.maybe_reload()
    for saved in (tmp_path / "data" / "menu-versions").glob("*.json"):
        saved.unlink()  # the old version is neither in memory nor on disk any more
    answer = phone.press("1")
    assert answer.said[0] == "Sorry, our menu has just changed. Returning to the main menu."
    assert query(phone.action_of("Gather"))["n"] == "main"


@pytest.mark.parametrize("module", ["ivr"])
def test_engine_never_imports_flask(module):
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent / module
    offenders = [str(p) for p in root.rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+(flask|handlers)\b", p.read_text(), re.M)]
    assert offenders == []


def test_a_worker_started_after_a_reload_serves_calls_on_their_version(make_app, menus_dir):
    first = make_app(IVR_RELOAD_SECONDS="0.000001")
    phone = Phone(first.test_client())
    phone.call()
    phone.press("1")
    phone.press("2")  # in support, version 1
    old = query(phone.action_of("Gather"))["v"]
    text = (menus_dir / "main.yaml").read_text()
    (menus_dir / "main.yaml").write_text(text.replace("For internet problems, press 1.",
                                                      "For internet, press 1."))
    second = make_app()  # a new worker: it never had version 1 in memory
    assert second.extensions["ivr"].menus.current.version != old
    phone.client = second.test_client()
    answer = phone.press("*")  # back to main, still on version 1, rebuilt from the version store
    assert query(phone.action_of("Gather"))["v"] == old
    assert answer.said[0].startswith("For billing, press 1.")


def test_a_broken_edit_does_not_stop_a_new_worker(make_app, menus_dir):
    make_app()  # a worker that loaded the good version (and saved it)
    (menus_dir / "main.yaml").write_text("menus:\n  main: [\n")
    restarted = make_app()  # a worker restarted after the broken edit still boots
    health = restarted.test_client().get("/healthz").get_json()
    assert health["status"] == "degraded" and health["menu_reload_errors"]
    assert Phone(restarted.test_client()).call().said[0].startswith("Thank you for calling Acme")


def test_language_menu_reprompts_in_every_language(phone):
    phone.call()
    wrong = phone.press("7")
    assert wrong.said[:2] == ["Sorry, that is not a valid choice.", "Lo siento, esa no es una opción válida."]
    assert wrong.languages[:2] == ["en-US", "es-US"]


def test_returning_voicemail_caller_skips_the_language_menu(phone, new_phone):
    phone.call()
    phone.press("2")
    phone.press("9")  # voicemail: a destination that is not offered as "return to"
    again = new_phone().call()
    assert again.said[0].startswith("Para facturación, oprima 1.")
    assert again.languages == ["es-US"]


def test_privacy_setting_hides_the_whole_number(make_app, redis_client):
    phone = Phone(make_app(IVR_CALLER_DIGITS_SHOWN=0).test_client())
    phone.call()
    record = CallStore().get(redis_client, phone.sid)
    assert record["caller"] == "+1**********"
    assert not any("4567" in value for name, value in record.items()  # a start time's digits may
                   if name not in ("caller_hash", "started"))  # hold 4567 by chance


@pytest.mark.parametrize(("number", "keep", "masked"), [
    ("+15551234567", 4, "+1******4567"), (" +15551234567 ", 4, "+1******4567"),
    ("+15551234567", 0, "+1**********"), ("+15551234567", 2, "+1********67"),
    ("+15551234567", 9, "+1******4567"), ("+442071234567", 4, "+4*******4567"),
    ("+1555", 4, "*****"), ("12345678", 4, "****5678"), ("", 4, ""), (None, 4, ""),
    ("client:alice", 4, "client:alice"), ("sip:+15551234567@pbx.example.com", 4,
                                           "sip:+1******4567@pbx.example.com"),
    ("+1 555 123 4567", 4, "+1*********4567"), ("anonymous", 4, "*****mous"),
])
def test_numbers_are_masked_whatever_their_form(number, keep, masked):
    assert mask_number(number, keep) == masked


def test_a_callers_hash_is_the_keyed_hmac_of_the_number(make_app, redis_client):
    """Hashes stored by any release keep matching: HMAC-SHA256 under IVR_HASH_KEY, 32 hex digits."""
    for key in ("first-key", "another key"):
        phone = Phone(make_app(IVR_HASH_KEY=key).test_client(), number="+15557654321")
        phone.call()
        expected = hmac.new(key.encode(), b"+15557654321", hashlib.sha256).hexdigest()[:32]
        assert CallStore().get(redis_client, phone.sid)["caller_hash"] == expected


def test_recorded_prompts_are_played(make_app, menus_dir):
    main = menus_dir / "main.yaml"
    text = main.read_text()
    start = text.index("  support:\n    title: Technical support\n    prompt:\n")
    end = text.index("    options:", start)
    main.write_text(text[:start] + "  support:\n    title: Technical support\n    prompt:\n"
                    "      en-US: {play: recordings/hold.wav}\n"
                    "      es-US: {play: \"https://media.example.com/soporte.mp3\"}\n" + text[end:])
    for key, url in (("1", "/recordings/hold.wav"), ("2", "https://media.example.com/soporte.mp3")):
        phone = Phone(make_app().test_client(), number=f"+1555000000{key}")
        phone.call()
        phone.press(key)
        support = phone.press("2")
        gather = support.first("Gather")
        assert [p.text for p in gather.iter("Play")] == [url] and not support.said
    served = make_app().test_client().get("/recordings/hold.wav")
    assert served.status_code == 200 and served.data[:4] == b"RIFF"


def test_an_unexpected_error_is_logged_with_the_call_sid(phone, monkeypatch, caplog):
    from ivr import navigator

    def broken(self, state, digits):
        raise RuntimeError("boom")

    phone.call()
    monkeypatch.setattr(navigator.Navigator, "press", broken)
    with caplog.at_level("ERROR", logger="ivr.voice"):
        phone.press("1")
    failures = [r for r in caplog.records if r.name == "ivr.voice" and r.levelname == "ERROR"]
    assert failures and phone.sid in failures[0].getMessage()
    assert failures[0].exc_info and "boom" in str(failures[0].exc_info[1])
