"""`ivr purge`: delete call records, voicemail, survey responses and alerts older than a date."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from ivr.alerts import AlertStore
from ivr.calls import CallStore
from ivr.daily import forget_days
from ivr.redisconn import connect
from ivr.rollup import forget_rollups_before
from ivr.runtime import resolve_redis_url
from ivr.settings import load_config
from ivr.surveys import SurveyStore
from ivr.voicemail import VoicemailStore


def cutoff(before: datetime | None, retention_days: int, now: float | None = None) -> float:
    """The purge limit as epoch seconds: `before` (a UTC date) or now minus the retention period."""
    if before is not None:
        return before.replace(tzinfo=UTC).timestamp()
    return (time.time() if now is None else now) - retention_days * 86400


def register(main: click.Group) -> None:
    """Add the `purge` command to the CLI."""

    @main.command()
    @click.option("--before", type=click.DateTime(formats=["%Y-%m-%d"]),
                  help="Delete what was offered before this UTC date (default: older than "
                       "IVR_RETENTION_DAYS).")
    def purge(before: datetime | None) -> None:
        """Delete call records, voicemail records, survey responses and alerts older than a date
        (and the cached report figures that counted them)."""
        config = load_config()
        limit = cutoff(before, config.int("IVR_RETENTION_DAYS"))
        client = connect(resolve_redis_url(config))
        responses = SurveyStore().purge(client, limit)
        alerts = AlertStore().purge(client, limit)
        calls = CallStore().purge(client, limit)
        messages = VoicemailStore().purge(client, limit)
        # Cached figures of the purged hours and days would still count what was deleted.
        forget_rollups_before(client, limit)
        forget_days(client)
        day = datetime.fromtimestamp(limit, UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"deleted {responses} survey response(s), {alerts} alert(s), {calls} call "
                   f"record(s) and {messages} voicemail record(s) from before {day}")
