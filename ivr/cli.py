"""The `ivr` command: check menus, serve calls, and the staff tools registered below."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ivr.loader import check_menus
from ivr.settings import load_config


@click.group()
@click.version_option(package_name="ivr")
def main() -> None:
    """Touch-tone IVR server: YAML menus served as Twilio TwiML."""


def print_problems(problems, out=None) -> None:
    """Print problems as `file:line: message`, errors then warnings."""
    for problem in problems:
        click.echo(str(problem), file=out or sys.stderr)


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--recordings", type=click.Path(path_type=Path), help="Recordings folder (default: IVR_RECORDINGS).")
@click.option("--timing", is_flag=True, help="List the quickest keys to each destination and the seconds "
              "of prompts on the way.")
@click.option("--budget", type=float, default=30.0, show_default=True,
              help="With --timing: warn (and exit 1) when a destination takes more seconds than this.")
@click.option("--wpm", help="With --timing: speaking rate in words per minute, e.g. 150 or "
              "150,es-US=170 (default: IVR_SPEECH_WPM).")
@click.option("--diff", nargs=2, metavar="OLD NEW", help="List what changes for callers between two menu "
              "files/folders or git revisions (e.g. --diff HEAD menus).")
def check(path: Path | None, recordings: Path | None, timing: bool, budget: float, wpm: str | None,
          diff: tuple[str, str] | None) -> None:
    """Validate menu files; print every problem as file:line: message; exit 1 on errors."""
    config = load_config()
    path = path or config.path("IVR_MENUS")
    recordings = recordings or config.path("IVR_RECORDINGS")
    if diff:
        from ivr.cli_tools import run_diff

        sys.exit(run_diff(diff, path, recordings))
    menuset, problems = check_menus(path, recordings)
    print_problems(problems)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    if menuset is None:
        click.echo(f"{errors} error(s), {warnings} warning(s): the menus would not be loaded", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(menuset.menus)} menus, {len(menuset.languages)} languages, version "
               f"{menuset.version}" + (f", {warnings} warning(s)" if warnings else ""))
    if timing:
        from ivr.cli_tools import run_timing

        sys.exit(run_timing(menuset, recordings, budget, wpm or config.get("IVR_SPEECH_WPM")))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the server under gunicorn (embedded Redis and a local token when none are configured)."""
    from ivr.runtime import ConfigError, check_production, resolve_auth_token, resolve_redis_url

    config = load_config()
    menuset, problems = check_menus(config.path("IVR_MENUS"), config.path("IVR_RECORDINGS"))
    print_problems(problems)
    if menuset is None:
        click.echo("refusing to start: fix the menu errors above (ivr check)", err=True)
        sys.exit(1)
    try:
        check_production(config)
        token = resolve_auth_token(config)
        redis_url = resolve_redis_url(config)
    except ConfigError as exc:
        click.echo(f"refusing to start: {exc}", err=True)
        sys.exit(1)
    if not config.get("TWILIO_AUTH_TOKEN"):
        click.echo(f"No TWILIO_AUTH_TOKEN set: using a local token kept in {config.get('IVR_DATA_DIR')}/"
                   "local_auth_token. Signatures are still checked; `ivr simulate` signs with it.")
        os.environ["TWILIO_AUTH_TOKEN"] = token
    if not config.get("REDIS_URL"):
        click.echo(f"No REDIS_URL set: using an embedded Redis persisted in {config.get('IVR_DATA_DIR')}/redis")
        os.environ["REDIS_URL"] = redis_url
    click.echo(f"menus version {menuset.version}: point your Twilio number at "
               f"http://{host}:{port}/voice/incoming (via a public https URL)")
    os.environ["IVR_BIND"] = f"{host}:{port}"
    os.environ["WEB_CONCURRENCY"] = str(workers)
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--config", "python:ivr.gunicorn_conf",
                               "app:app"])


def _register_tools() -> None:
    """Attach the staff tools that live in their own modules."""
    import importlib

    for module in ("ivr.cli_voicemail", "ivr.cli_simulate", "ivr.cli_graph", "ivr.cli_admin",
                   "ivr.cli_reports", "ivr.cli_surveys"):
        try:
            importlib.import_module(module).register(main)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_tools()


if __name__ == "__main__":
    main()
