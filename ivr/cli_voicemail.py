"""`ivr voicemail list|mark`: staff work through voicemail from the terminal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ivr.redisconn import connect
from ivr.runtime import resolve_redis_url
from ivr.settings import load_config
from ivr.voicemail import STATUSES, VoicemailStore


def _store_and_client():
    config = load_config()
    return VoicemailStore(), connect(resolve_redis_url(config))


def register(main: click.Group) -> None:
    """Add the `voicemail` command group to the CLI."""

    @main.group()
    def voicemail() -> None:
        """List voicemail and mark messages heard or handled."""

    @voicemail.command("list")
    @click.option("--box", help="Only this voicemail box.")
    @click.option("--status", type=click.Choice(STATUSES), help="Only messages with this status.")
    @click.option("--limit", default=100, show_default=True)
    def list_(box: str | None, status: str | None, limit: int) -> None:
        """List messages, newest first (times in UTC)."""
        store, client = _store_and_client()
        rows = store.list(client, box=box, status=status, limit=limit)
        if not rows:
            click.echo("no messages")
            return
        for row in rows:
            at = datetime.fromtimestamp(float(row.get("at", 0)), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            text = (row.get("transcription") or "").replace("\n", " ")
            click.echo(f"{row['id']}  {at}  {row.get('box', ''):<10} {row.get('status', ''):<8} "
                       f"{row.get('caller', ''):<14} {row.get('duration', '0'):>4}s  {row.get('url', '')}"
                       + (f"\n    {text[:200]}" if text else ""))

    @voicemail.command("mark")
    @click.argument("message_id")
    @click.argument("status", type=click.Choice(STATUSES))
    def mark(message_id: str, status: str) -> None:
        """Set a message's status: new, heard or handled."""
        store, client = _store_and_client()
        if not store.mark(client, message_id, status):
            click.echo(f"no message {message_id}", err=True)
            sys.exit(1)
        click.echo(f"{message_id}: {status}")
