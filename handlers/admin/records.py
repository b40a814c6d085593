"""Records staff look at one by one: a call with its path and survey, voicemail, low-score alerts."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from handlers.admin.auth import current_account, login_required, safe_next
from handlers.admin.blueprint import bp
from handlers.admin.params import read_tz
from handlers.security import runtime
from ivr.alerts import AlertStore
from ivr.surveys import SurveyStore
from ivr.voicemail import STATUSES

TIME_FIELDS = ("started", "routed_at", "left_queue_at", "answered_at", "ended")
CALL_FIELDS = ("started", "caller", "to", "lang", "direction", "version", "last_menu", "route",
               "routed_at", "queue", "queue_result", "queue_time", "left_queue_at", "leave_reason",
               "abandoned", "agent", "answered_at", "transfer", "transfer_result", "talk_time",
               "voicemail", "voicemail_id", "status", "duration", "ended")


@bp.get("/calls/<sid>")
@login_required()
def call(sid: str) -> str:
    """A call's record, the path it took through the menus, and its survey answers."""
    read_tz()
    rt = runtime()
    record = rt.calls.get(rt.redis, sid)
    if not record:
        abort(404, f"no call record for {sid} (it may be older than the retention period)")
    fields = [(name, record[name]) for name in CALL_FIELDS if record.get(name)]
    return render_template("admin/call.html", sid=sid, fields=fields, time_fields=TIME_FIELDS,
                           path=rt.calls.path(rt.redis, sid), survey=_survey(rt.redis, sid))


def _survey(client, sid: str) -> list[tuple[str, str, str]]:
    """The call's survey answers as (question, type, answer) in question order."""
    response = SurveyStore().get(client, sid)
    if not response:
        return []
    answers = []
    for spec in filter(None, (response.get("kinds") or "").split(",")):
        qid, _, kind = spec.partition(":")
        answer = response.get(f"a:{qid}")
        if kind.startswith("comment") and response.get(f"x:{qid}"):
            answer = f"{answer} — {response[f'x:{qid}']}"
        answers.append((qid, kind, "(skipped)" if answer == "" else answer or "(not reached)"))
    return [("disposition", "", response.get("disposition", ""))] + answers


@bp.get("/voicemail")
@login_required()
def voicemail() -> str:
    """Voicemail newest first, filtered by box and status, with playback links."""
    read_tz()
    rt = runtime()
    box, status = request.args.get("box") or None, request.args.get("status") or None
    if status and status not in STATUSES:
        abort(400, f"status must be one of {', '.join(STATUSES)}")
    messages = rt.voicemail.list(rt.redis, box=box, status=status, limit=200)
    return render_template("admin/voicemail.html", messages=messages, statuses=STATUSES,
                           box=box or "", status=status or "")


@bp.post("/voicemail/<rid>/status")
@login_required("supervisor")
def voicemail_status(rid: str) -> Response:
    """Mark a message new, heard or handled."""
    status = request.form.get("status", "")
    if status not in STATUSES:
        abort(400, f"status must be one of {', '.join(STATUSES)}")
    rt = runtime()
    if not rt.voicemail.mark(rt.redis, rid, status):
        abort(404, f"no voicemail {rid}")
    flash(f"Message {rid} marked {status}.")
    return redirect(safe_next(request.form.get("back") or url_for("admin.voicemail")))


@bp.get("/alerts")
@login_required()
def alerts() -> str:
    """Low-score alerts newest first (open ones by default), each acknowledgeable by a supervisor."""
    read_tz()
    status = request.args.get("status", "open")
    if status not in ("open", "acknowledged", "all"):
        abort(400, "status must be open, acknowledged or all")
    rows = AlertStore().list(runtime().redis, status=None if status == "all" else status, limit=200)
    return render_template("admin/alerts.html", alerts=rows, status=status)


@bp.post("/alerts/<path:alert_id>/acknowledge")
@login_required("supervisor")
def acknowledge(alert_id: str) -> Response:
    """Acknowledge an alert in the signed-in supervisor's name."""
    account = current_account()
    if not AlertStore().acknowledge(runtime().redis, alert_id, account.name if account else ""):
        abort(404, f"no alert {alert_id}")
    flash(f"Alert {alert_id} acknowledged.")
    return redirect(safe_next(request.form.get("back") or url_for("admin.alerts")))
