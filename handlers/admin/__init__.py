"""The supervisors' dashboard under /admin: sign-in, KPIs, responses, alerts, voicemail, exports."""

from __future__ import annotations

from handlers.admin import login, records  # noqa: F401  (their routes attach to bp)
from handlers.admin.blueprint import bp

__all__ = ["bp"]
