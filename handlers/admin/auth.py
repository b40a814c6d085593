"""Dashboard sign-in: who is signed in, expiring sessions, roles, and CSRF tokens for every form.

Any blueprint under /admin protects its views with `@login_required()` (any signed-in user) or
`@login_required("supervisor")`. Every request that is not GET/HEAD must carry the session's CSRF
token (form field `csrf_token` or header `X-CSRF-Token`) and be made by a supervisor: viewers are
read-only whatever the view says. Templates put `{{ csrf_field() }}` inside each form.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, session, url_for
from markupsafe import Markup

from ivr.accounts import Account, Accounts

SESSION_KEY = "admin"
CSRF_KEY = "csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

F = TypeVar("F", bound=Callable[..., Any])


def session_minutes() -> int:
    """How long a sign-in lasts (IVR_SESSION_MINUTES)."""
    return current_app.extensions["ivr"].config.int("IVR_SESSION_MINUTES")


def configure(app: Any) -> None:
    """Make session cookies expire with the sign-in, stay out of scripts and off other sites."""
    config = app.extensions["ivr"].config
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=config.int("IVR_SESSION_MINUTES"))
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = config.production
    app.extensions["ivr_accounts"] = Accounts.from_settings(config.get("IVR_ADMIN_USERS"),
                                                            config.get("IVR_ADMIN_TOKEN"))
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field,
                                 current_account=current_account)


def accounts() -> Accounts:
    """The accounts allowed to sign in to this app."""
    return current_app.extensions["ivr_accounts"]


def current_account() -> Account | None:
    """The signed-in account, or None (also when the sign-in has expired)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("since", 0)) > session_minutes() * 60:
        session.pop(SESSION_KEY, None)
        return None
    return Account(data["name"], data["role"])


def sign_in(account: Account) -> None:
    """Start a fresh session for the account (a new CSRF token too, against session fixation)."""
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = {"name": account.name, "role": account.role, "since": time.time()}
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """Forget the session."""
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    if not session.get(CSRF_KEY):
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_KEY]


def csrf_field() -> Markup:
    """A hidden form field carrying the CSRF token."""
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % csrf_token()


def check_csrf() -> None:
    """Abort with 400 unless the request carries this session's CSRF token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_KEY) or ""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, "missing or stale CSRF token: reload the page and submit the form again")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a local /admin path only, never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or "\\" in target:
        return "/admin/"
    return target


def login_required(role: str | None = None) -> Callable[[F], F]:
    """Protect a view: sign-in required, `role` if given, and CSRF + supervisor for any change.

    role None or "viewer": anyone signed in; "supervisor": supervisors only (viewers get 403).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
            if request.method not in SAFE_METHODS:
                check_csrf()
                if not account.can_change:
                    abort(403, "viewers are read-only: ask a supervisor")
            if role == "supervisor" and not account.can_change:
                abort(403, "this page is for supervisors")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
