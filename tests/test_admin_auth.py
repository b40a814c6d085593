"""Dashboard access: sign-in on every page, roles, CSRF, expiring sessions, throttled logins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from admin_seed import PASSWORDS, USERS, csrf_of, seed, sign_in
from click.testing import CliRunner
from werkzeug.security import check_password_hash

from ivr.accounts import Accounts, AccountsError, parse_users
from ivr.cli import main

RANGE = "since=2024-03-04&until=2024-03-06"


@pytest.fixture
def admin_app(make_app, redis_client):
    """The real app with a supervisor (alice) and a viewer (victor), on the seeded data."""
    seed(redis_client)
    return make_app(IVR_ADMIN_USERS=USERS, IVR_ADMIN_TOKEN="team-token-123", IVR_SESSION_MINUTES=30)


def admin_pages(app) -> list[str]:
    """Every GET page under /admin except sign-in and static files, with sample arguments."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and "GET" in rule.methods and \
                rule.endpoint not in ("admin.login", "admin.static"):
            urls.append(re.sub(r"<(?:\w+:)?(\w+)>", "CA01", rule.rule))
    return urls


def test_every_admin_page_sends_strangers_to_sign_in(admin_app):
    client = admin_app.test_client()
    pages = admin_pages(admin_app)
    assert {"/admin/", "/admin/responses", "/admin/alerts", "/admin/voicemail", "/admin/export",
            "/admin/calls/CA01"} <= set(pages)
    for url in pages:
        answer = client.get(url)
        assert answer.status_code == 302, url
        assert answer.location.startswith("/admin/login?next="), url
    assert client.post("/admin/alerts/CA02:csat/acknowledge").status_code == 302


def test_sign_in_with_password_then_dashboard(admin_app):
    client = admin_app.test_client()
    answer = sign_in(client, "alice")
    assert answer.status_code == 302 and answer.location == "/admin/"
    page = client.get(f"/admin/?{RANGE}").get_data(as_text=True)
    assert "alice" in page and "supervisor" in page


def test_wrong_password_and_unknown_user_are_refused_alike(admin_app):
    client = admin_app.test_client()
    for name in ("alice", "mallory"):
        answer = sign_in(client, name, "wrong-password")
        assert answer.status_code == 401
        assert "Wrong name or password." in answer.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_team_token_signs_in_as_a_supervisor(admin_app):
    client = admin_app.test_client()
    assert sign_in(client, "", "team-token-123").status_code == 302
    assert "token <small class=\"role\">supervisor" in client.get("/admin/alerts").get_data(as_text=True)
    assert sign_in(admin_app.test_client(), "", "team-token-12").status_code == 401


def test_next_goes_back_to_the_page_but_never_to_another_site(admin_app):
    def sign_in_to(target: str) -> str:
        client = admin_app.test_client()
        token = csrf_of(client.get("/admin/login").get_data(as_text=True))
        return client.post("/admin/login", data={"csrf_token": token, "name": "alice", "next": target,
                                                 "password": PASSWORDS["alice"]}).location

    assert sign_in_to("/admin/voicemail?status=new") == "/admin/voicemail?status=new"
    for elsewhere in ("https://evil.example/admin", "//evil.example/admin", "/healthz"):
        assert sign_in_to(elsewhere) == "/admin/"


def test_signing_in_replaces_the_session_and_its_token(admin_app):
    client = admin_app.test_client()
    before = csrf_of(client.get("/admin/login").get_data(as_text=True))
    sign_in(client, "alice")
    assert csrf_of(client.get("/admin/alerts").get_data(as_text=True)) != before


def test_viewer_reads_everything_but_changes_nothing(admin_app, redis_client):
    client = admin_app.test_client()
    sign_in(client, "victor")
    for url in (f"/admin/?{RANGE}", "/admin/alerts", "/admin/voicemail", "/admin/calls/CA01",
                f"/admin/responses?{RANGE}", f"/admin/export?{RANGE}&kind=calls&format=csv"):
        assert client.get(url).status_code == 200, url
    page = client.get("/admin/alerts").get_data(as_text=True)
    assert "Acknowledge" not in page  # no buttons that would only fail
    token = csrf_of(page)
    answer = client.post("/admin/alerts/CA02:csat/acknowledge", data={"csrf_token": token})
    assert answer.status_code == 403
    answer = client.post("/admin/voicemail/RE01/status", data={"csrf_token": token, "status": "handled"})
    assert answer.status_code == 403
    assert redis_client.hget("ivr:alert:{CA02:csat}", "status") == "open"
    assert redis_client.hget("ivr:vm:{RE01}", "status") == "new"


def test_viewer_sees_masked_caller_numbers_only(admin_app):
    client = admin_app.test_client()
    sign_in(client, "victor")
    page = client.get("/admin/calls/CA01").get_data(as_text=True)
    assert "+1******4567" in page
    assert not re.search(r"\+1\d{10}", page.replace("+15550000000", ""))  # only the IVR's own line


def test_changes_without_the_csrf_token_are_refused(admin_app, redis_client):
    client = admin_app.test_client()
    sign_in(client, "alice")
    assert client.post("/admin/alerts/CA02:csat/acknowledge").status_code == 400
    answer = client.post("/admin/voicemail/RE01/status", data={"csrf_token": "forged", "status": "heard"})
    assert answer.status_code == 400
    assert redis_client.hget("ivr:alert:{CA02:csat}", "status") == "open"
    assert redis_client.hget("ivr:vm:{RE01}", "status") == "new"
    stranger = admin_app.test_client()
    stranger.get("/admin/login")
    assert stranger.post("/admin/login", data={"name": "alice", "password": PASSWORDS["alice"]}) \
        .status_code == 400


def test_sign_out_needs_the_token_and_ends_the_session(admin_app):
    client = admin_app.test_client()
    sign_in(client, "alice")
    assert client.post("/admin/logout").status_code == 400
    token = csrf_of(client.get("/admin/alerts").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/alerts").status_code == 302


def test_sessions_expire_after_the_configured_minutes(admin_app):
    with time_machine.travel("2030-01-01 12:00:00Z", tick=False) as clock:
        client = admin_app.test_client()
        sign_in(client, "alice")
        clock.shift(timedelta(minutes=29))
        assert client.get("/admin/alerts").status_code == 200
        clock.shift(timedelta(minutes=2))  # 31 minutes after signing in, the limit is 30
        answer = client.get("/admin/alerts")
        assert answer.status_code == 302 and answer.location.startswith("/admin/login")


def test_the_session_cookie_is_http_only_and_expires(admin_app):
    client = admin_app.test_client()
    answer = sign_in(client, "alice")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_repeated_failures_lock_the_name_and_address_for_a_while(admin_app):
    client = admin_app.test_client()
    for _ in range(10):
        assert sign_in(client, "alice", "guess").status_code == 401
    answer = sign_in(client, "alice")  # even the right password waits now
    assert answer.status_code == 429
    assert "Too many failed sign-ins" in answer.get_data(as_text=True)


def test_users_setting_is_checked_with_helpful_messages():
    with pytest.raises(AccountsError, match="role must be supervisor or viewer"):
        parse_users("alice:admin:scrypt:1$a$b")
    with pytest.raises(AccountsError, match="never the password itself"):
        parse_users("alice:viewer:hunter2")
    with pytest.raises(AccountsError, match="expected name:role:hash"):
        parse_users("alice")
    assert parse_users(" ") == {}
    assert not Accounts.from_settings("", "").configured


def test_hash_password_command_makes_a_usable_entry():
    result = CliRunner().invoke(main, ["admin", "hash-password", "--name", "carol", "--role", "viewer"],
                                input="long-password\nlong-password\n")
    assert result.exit_code == 0, result.output
    entry = result.output.strip().splitlines()[-1]
    name, role, hashed = entry.split(":", 2)
    assert (name, role) == ("carol", "viewer") and check_password_hash(hashed, "long-password")
    account = Accounts.from_settings(entry, "").authenticate("carol", "long-password")
    assert account is not None and account.role == "viewer" and not account.can_change
    short = CliRunner().invoke(main, ["admin", "hash-password"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least 8 characters" in short.output
