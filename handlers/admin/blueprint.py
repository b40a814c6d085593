"""The `admin` blueprint that every dashboard page attaches to, and its one-time app setup."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from handlers.admin import auth
from handlers.admin.params import local_time

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static")


@bp.record_once
def _configure(state) -> None:
    auth.configure(state.app)


@bp.errorhandler(RedisConnectionError)
@bp.errorhandler(RedisTimeoutError)
def redis_unreachable(exc: Exception) -> Response:
    """Say plainly that the data store is unreachable instead of a generic 500."""
    return Response("503 Service Unavailable: Redis is unreachable, so the dashboard cannot read "
                    "its data; calls keep being answered. Try again in a minute.\n",
                    status=503, mimetype="text/plain")


NAV = (("admin.dashboard", "Dashboard"), ("admin.responses", "Responses"), ("admin.alerts", "Alerts"),
       ("admin.voicemail", "Voicemail"), ("admin.menus", "Menus"))


def admin_nav() -> list[tuple[str, str]]:
    """The menu: this blueprint's pages, then other parameterless /admin pages (e.g. the simulator)."""
    functions = current_app.view_functions
    links = [(endpoint, label) for endpoint, label in NAV if endpoint in functions]
    for rule in current_app.url_map.iter_rules():
        if (rule.rule.startswith("/admin/") and not rule.endpoint.startswith("admin.")
                and not rule.arguments and "GET" in (rule.methods or ())):
            links.append((rule.endpoint, rule.rule.rsplit("/", 1)[-1].replace("-", " ").capitalize()))
    return links


@bp.app_template_global()
def admin_endpoints() -> set[str]:
    """Endpoints that exist in this app (templates link only to pages that do)."""
    return set(current_app.view_functions)


bp.add_app_template_global(admin_nav)
bp.add_app_template_filter(local_time, "admin_time")
