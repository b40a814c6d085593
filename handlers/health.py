"""`GET /healthz`: menu version, reload errors, Redis and journal status for monitors and ops staff."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from handlers.security import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Report menus and Redis; 200 while calls can be served (Redis down degrades, not fails)."""
    rt = runtime()
    menus = rt.menus.current
    redis_ok = rt.writer.read(lambda client: bool(client.ping()), False)
    journal = rt.events.journal
    set_aside = journal.set_aside() if journal is not None else []
    body = {
        "status": "ok" if redis_ok and not rt.menus.error and not set_aside else "degraded",
        "menu_version": menus.version,
        "menu_versions_kept": list(rt.menus.versions),
        "menu_reload_errors": [str(p) for p in rt.menus.error],
        "menu_warnings": [str(p) for p in rt.menus.problems if not p.is_error],
        "redis": "ok" if redis_ok else "unreachable",
        "spooled_writes": rt.writer.spool.pending(),
        "journal_set_aside": set_aside,  # unreadable event journal segments: see docs/deploy.md
    }
    return jsonify(body)
