"""The supervisors' dashboard under /admin: sign-in, KPIs, responses, alerts, voicemail, exports, menus."""

from __future__ import annotations

from handlers.admin import dashboard, exports, login, menus, records, responses  # noqa: F401 (routes)
from handlers.admin.blueprint import bp

__all__ = ["bp"]
