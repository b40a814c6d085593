"""The table of survey responses with filters, paged newest first, linking to each call record."""

from __future__ import annotations

from flask import abort, render_template, request

from handlers.admin.auth import login_required
from handlers.admin.blueprint import bp
from handlers.admin.params import read_filters, read_range
from handlers.security import runtime
from ivr.browse import response_page


@bp.get("/responses")
@login_required()
def responses() -> str:
    """One page of responses in the chosen days, filtered by queue, language and agent."""
    days, filters = read_range(), read_filters()
    before = request.args.get("before")
    try:
        cursor = float(before) if before else None
    except ValueError:
        abort(400, "before must be a number (it comes from the Next page link)")
    page = response_page(runtime().redis, days.since.timestamp(), days.until.timestamp(), filters,
                         before=cursor)
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("admin/responses.html", page=page, days=days, filters=filters,
                           args=args)
