"""Scripted calls kept next to the menus (menus/checks/*.yaml), run by `ivr simulate --script`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from ivr.simulate import SimulatedCall, SimulationError

FIELDS = ("name", "from", "keys", "expect", "expect_heard", "at", "lang")


@dataclass(frozen=True)
class ScriptedCall:
    """One check: who calls, when, what they press, and where the call must end."""

    name: str
    keys: str
    expect: str | None = None
    expect_heard: str | None = None
    number: str = ""
    at: str | None = None
    lang: str | None = None
    where: str = ""


def script_files(paths: tuple[Path, ...]) -> list[Path]:
    """The YAML files named, folders expanded to their *.yaml files."""
    files = []
    for path in paths:
        files += sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
    return files


def load_script(file: Path) -> list[ScriptedCall]:
    """Read scripted calls: a list, or a mapping with `calls:`; raise click errors that say the fix."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{file}: cannot read scripted calls: {exc}") from None
    items = data.get("calls") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise click.ClickException(f"{file}: write a list of calls under `calls:`, each with keys "
                                   "and expect")
    return [_scripted(file, index, item) for index, item in enumerate(items, 1)]


def _scripted(file: Path, index: int, item: object) -> ScriptedCall:
    where = f"{file}: call {index}"
    if not isinstance(item, dict):
        raise click.ClickException(f"{where}: each call is a mapping (name, keys, expect...)")
    unknown = sorted(set(map(str, item)) - set(FIELDS))
    if unknown:
        raise click.ClickException(f"{where}: unknown field(s) {', '.join(unknown)}; "
                                   f"fields are {', '.join(FIELDS)}")
    if not item.get("expect") and not item.get("expect_heard"):
        raise click.ClickException(f"{where}: say what to check with `expect:` or `expect_heard:`")
    return ScriptedCall(name=str(item.get("name") or f"call {index}"), keys=str(item.get("keys") or ""),
                        expect=item.get("expect"), expect_heard=item.get("expect_heard"),
                        number=str(item.get("from") or ""), at=_text(item.get("at")),
                        lang=item.get("lang"), where=where)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def run_scripts(line, paths: tuple[Path, ...], printer, zone: str | None = None) -> bool:
    """Run every scripted call; print PASS/FAIL lines; True when all pass."""
    from ivr.cli_simulate import parse_at, report

    calls = [call for file in script_files(paths) for call in load_script(file)]
    if not calls:
        raise click.ClickException("no scripted calls found in " + ", ".join(map(str, paths)))
    failed = 0
    for scripted in calls:
        click.echo(f"--- {scripted.name} ({scripted.where})")
        line.set_clock(parse_at(scripted.at, zone) if scripted.at else None)
        printer.lang = scripted.lang
        call = SimulatedCall(line.transport, line.token, line.base, number=scripted.number, listen=printer)
        try:
            call.start()
            for token in scripted.keys.split():
                click.echo(f"> {token}")
                call.do(token)
            ok = report(call, scripted.expect, scripted.expect_heard)
        except SimulationError as exc:
            click.echo(f"FAIL: {exc}", err=True)
            ok = False
        failed += not ok
        click.echo(f"{'PASS' if ok else 'FAIL'} {scripted.name}")
    click.echo(f"{len(calls) - failed} passed, {failed} failed")
    return failed == 0
