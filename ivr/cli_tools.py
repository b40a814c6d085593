"""The staff-tool parts of `ivr check`: time to destination (--timing) and menu diffs (--diff)."""

from __future__ import annotations

from pathlib import Path

import click

from ivr.menu_diff import DiffSourceError, diff_menus, load_side
from ivr.model import MenuSet
from ivr.problems import MenuError
from ivr.timing import Speaker, time_to_destinations, timing_lines


def run_timing(menuset: MenuSet, recordings: Path, budget: float, wpm: str) -> int:
    """Print the quickest way to every destination, warning (exit 0, like other warnings) above the budget."""
    from ivr.timing import parse_wpm

    try:
        default, per_lang = parse_wpm(wpm)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--wpm / IVR_SPEECH_WPM") from None
    routes = time_to_destinations(menuset, Speaker(recordings, per_lang, default))
    lines, over = timing_lines(routes, budget)
    click.echo(f"time to destination (first-time caller, full prompts, {default:g} words/min):")
    for line in lines:
        click.echo(line)
    if over:
        click.echo(f"warning: {over} destination(s) above the {budget:g} s budget: shorten the prompts "
                   "on the way or put the destination on fewer keys", err=True)
    return 0


def run_diff(sides: tuple[str, str], menus: Path, recordings: Path) -> int:
    """Print what changes for callers between two menu versions; 1 when a side cannot be read."""
    try:
        old, new = (load_side(side, menus, recordings) for side in sides)
    except DiffSourceError as exc:
        click.echo(str(exc), err=True)
        return 1
    except MenuError as exc:
        click.echo(f"{exc}\ncannot compare menus with errors", err=True)
        return 1
    lines = diff_menus(old, new, recordings)
    click.echo(f"changes for callers from {sides[0]} ({old.version}) to {sides[1]} ({new.version}):")
    for line in lines or ["no change a caller would notice"]:
        click.echo(f"  {line}")
    return 0
