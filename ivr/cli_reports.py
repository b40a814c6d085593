"""`ivr export` and `ivr report`: survey, call and voicemail data and KPIs from the terminal."""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ivr.daily import forget_days
from ivr.export import KINDS, RowStream, rows, write_csv, write_jsonl, write_xlsx
from ivr.metrics import DIMENSIONS, PERIODS, Filters, Kpis, MetricSettings, breakdown, kpis
from ivr.redisconn import connect
from ivr.rollup import forget_rollups
from ivr.runtime import resolve_redis_url
from ivr.settings import load_config

PROGRESS_EVERY = 1000
# (heading, Kpis attribute, format) of each column of `ivr report`.
REPORT_COLUMNS = (
    ("calls", "calls", "{:d}"), ("answered", "answered", "{:d}"),
    ("ASA s", "asa_mean", "{:.1f}"), ("ASA med", "asa_median", "{:.1f}"),
    ("ASA p90", "asa_p90", "{:.0f}"), ("SL %", "service_level_pct", "{:.1f}"),
    ("AHT s", "aht_mean", "{:.0f}"), ("handling s", "handling_mean", "{:.0f}"),
    ("aband. menu", "abandon_menu", "{:d}"), ("menu %", "abandon_menu_pct", "{:.1f}"),
    ("aband. queue", "abandon_queue", "{:d}"), ("queue %", "abandon_queue_pct", "{:.1f}"),
    ("surveys", "offered", "{:d}"), ("resp. %", "response_rate", "{:.1f}"),
    ("CSAT %", "csat_pct", "{:.1f}"), ("CSAT avg", "csat_mean", "{:.2f}"),
    ("NPS", "nps", "{:+.0f}"), ("FCR %", "fcr_pct", "{:.1f}"),
)


def parse_moment(text: str, tz: str, end: bool = False) -> datetime:
    """A --since/--until value in `tz`: a date (an --until date includes that day), a time, or now."""
    if text == "now":
        return datetime.now(ZoneInfo(tz))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (2026-03-01) or time "
                                 "(2026-03-01T08:00, with an optional +02:00)") from None
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def _zone(tz: str | None) -> str:
    """The report zone: --tz, else IVR_REPORT_TZ; an unknown zone is a usage error."""
    tz = tz or load_config().get("IVR_REPORT_TZ")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz!r} (use an IANA name such as "
                                 "Europe/Paris or America/New_York)", param_hint="--tz") from None
    return tz


def _client() -> Any:
    return connect(resolve_redis_url(load_config()))


def _range_options(fn: Any) -> Any:
    """The --since/--until/--tz and filter options shared by export and report."""
    options = [
        click.option("--since", required=True, help="Start (2026-03-01 or 2026-03-01T08:00), included."),
        click.option("--until", default="now", show_default=True,
                     help="End, excluded; a bare date includes that whole day."),
        click.option("--tz", help="Time zone for dates and output times (default IVR_REPORT_TZ)."),
        click.option("--queue", help="Only this queue or transfer (a voicemail box for voicemail)."),
        click.option("--language", help="Only this language."),
        click.option("--agent", help="Only this agent."),
        click.option("--path", help="Only this menu path (main>support) and deeper ones."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def export_command(kind: str, since: str, until: str, tz: str | None, queue: str | None,
                   language: str | None, agent: str | None, path: str | None, fmt: str,
                   bom: bool, output: str | None, progress: bool | None) -> None:
    """Stream an export to a file or stdout."""
    tz = _zone(tz)
    filters = Filters(queue=queue, language=language, agent=agent, path=path)
    if fmt == "xlsx" and output in (None, "-"):
        raise click.UsageError("XLSX is a binary workbook: give a file with -o export.xlsx")
    stream = rows(_client(), kind, parse_moment(since, tz), parse_moment(until, tz, end=True),
                  filters, tz)
    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        lines = stream
        if show:  # a progress bar on stderr, moved a page of rows at a time
            bar = stack.enter_context(click.progressbar(length=stream.total, label="exporting",
                                                        file=sys.stderr, show_pos=True))
            lines = stream.with_progress(bar.update)
        count = _write(lines, kind, fmt, output, bom)
    if output not in (None, "-"):
        click.echo(f"{count} {kind} row(s) written to {output} (times in {tz})", err=True)


def _write(lines: RowStream, kind: str, fmt: str, output: str | None, bom: bool) -> int:
    """Write the rows in the chosen format to a file or stdout; the number of rows."""
    if fmt == "xlsx":
        count = write_xlsx(lines, output, title=kind)
    else:
        out = open(output, "wb") if output not in (None, "-") else sys.stdout.buffer  # noqa: SIM115
        try:
            count = write_csv(lines, out, bom=bom) if fmt == "csv" else write_jsonl(lines, out)
        finally:
            out.flush()
            if out is not sys.stdout.buffer:
                out.close()
    return count


def report_table(rows_: list[tuple[str, Kpis]], first: str) -> list[str]:
    """Lines of a plain-text table: one row per group, one column per KPI."""
    head = [first] + [h for h, _, _ in REPORT_COLUMNS]
    body = [[label or "(none)"] + [_cell(getattr(k, a), f) for _, a, f in REPORT_COLUMNS]
            for label, k in rows_]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in body]


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _top(title: str, counts: dict[str, Any], limit: int = 10) -> list[str]:
    """A short `title: key n, key n` section (largest first)."""
    if not counts:
        return []
    shown = list(counts.items())[:limit]
    return [f"{title}:"] + [f"  {k or '(none)'}  {v}" for k, v in shown]


def report_command(since: str, until: str, tz: str | None, by: str | None, rebuild: bool,
                   **filters: Any) -> None:
    """Print the KPIs of a range, optionally broken down."""
    tz = _zone(tz)
    start, end = parse_moment(since, tz), parse_moment(until, tz, end=True)
    settings, client = MetricSettings.from_config(load_config()), _client()
    if rebuild:  # the dashboard's cached days are built from these hours: drop them too
        forget_rollups(client, start.timestamp(), end.timestamp())
        forget_days(client)
    offset = start.astimezone(ZoneInfo(tz)).strftime("%z")
    click.echo(f"KPIs from {start.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} to "
               f"{end.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}, time zone {tz} (UTC{offset} at "
               f"the start); service level {settings.service_level_seconds} s, queue abandons "
               f"under {settings.abandon_grace_seconds} s excluded")
    total = kpis(client, start, end, Filters(**filters), tz, settings)
    grouped = breakdown(client, start, end, Filters(**filters), tz, settings, by) if by else []
    for line in report_table(grouped + [("total", total)], by or "range"):
        click.echo(line)
    if not by:
        paths = {p: f"CSAT {_cell(v['csat_pct'], '{:.0f}')}% of {v['responses']}"
                 for p, v in total.csat_by_path.items()}
        for line in (_top("calls by menu option", total.by_option)
                     + _top("calls by route", total.by_route)
                     + _top("CSAT by menu path (lowest first)", paths)
                     + _top("survey dispositions", total.dispositions)):
            click.echo(line)


def register(main: click.Group) -> None:
    """Add `export` and `report` to the CLI."""

    @main.command("export")
    @click.argument("kind", type=click.Choice(KINDS))
    @_range_options
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "xlsx"]), default="csv",
                  show_default=True, help="Output format.")
    @click.option("--bom", is_flag=True, help="Start a CSV with a UTF-8 BOM (for Excel).")
    @click.option("-o", "--output", help="Output file (default: stdout; required for xlsx).")
    @click.option("--progress/--no-progress", default=None,
                  help="Progress bar on stderr (default: when stderr is a terminal).")
    def export(**options: Any) -> None:
        """Export survey responses, calls or voicemail (one row each) as CSV, JSON Lines or XLSX."""
        export_command(**options)

    @main.command("report")
    @_range_options
    @click.option("--by", type=click.Choice(DIMENSIONS + PERIODS), help="One row per group.")
    @click.option("--rebuild", is_flag=True,
                  help="Recompute the cached hourly rollups of the range (after late data).")
    def report(**options: Any) -> None:
        """Print KPIs for a time range as a table (in the report time zone)."""
        report_command(**options)
