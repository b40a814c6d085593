"""Sign-in and sign-out pages, with failed attempts throttled per address and user name."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from handlers.admin.auth import accounts, check_csrf, current_account, safe_next, sign_in, sign_out
from handlers.admin.blueprint import bp
from handlers.security import runtime
from ivr.accounts import LoginThrottle

log = logging.getLogger("ivr.admin")
THROTTLE = LoginThrottle()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Show the sign-in form; on POST check the password (or token) and start a session."""
    target = request.values.get("next")
    if request.method == "GET" and current_account():
        return redirect(safe_next(target))
    error, status = "", 200
    if request.method == "POST":
        check_csrf()
        error, status = _attempt(request.form.get("name", ""), request.form.get("password", ""))
        if not error:
            return redirect(safe_next(target))
    page = render_template("admin/login.html", error=error, next=target or "",
                           configured=accounts().configured, name=request.form.get("name", ""))
    return page, status


def _attempt(name: str, password: str) -> tuple[str, int]:
    """Try one sign-in: ("", 200) when it worked, else the message and HTTP status to show."""
    client = runtime().redis
    address = request.remote_addr or "unknown"
    name = name.strip()
    if THROTTLE.blocked(client, address, name):
        log.warning("admin sign-in refused: too many failures (user %r)", name)
        return "Too many failed sign-ins: wait 15 minutes and try again.", 429
    account = accounts().authenticate(name, password)
    if account is None:
        THROTTLE.failed(client, address, name)
        log.warning("admin sign-in failed (user %r)", name)
        return "Wrong name or password.", 401
    THROTTLE.succeeded(client, name)
    sign_in(account)
    log.info("admin sign-in: %s (%s)", account.name, account.role)
    return "", 200


@bp.post("/logout")
def logout() -> Response:
    """End the session (a form post with the CSRF token, so other sites cannot sign you out)."""
    check_csrf()
    sign_out()
    return redirect(url_for("admin.login"))
