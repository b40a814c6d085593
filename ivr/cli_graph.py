"""`ivr graph`: draw the menu tree for ops staff (Mermaid, Graphviz DOT or SVG)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr.graph import build_graph
from ivr.graph_render import to_dot, to_mermaid, to_svg
from ivr.loader import check_menus
from ivr.settings import load_config

WRITERS = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}


def register(main: click.Group) -> None:
    """Add the `graph` command to the CLI."""

    @main.command()
    @click.argument("path", required=False, type=click.Path(path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(sorted(WRITERS)), default="mermaid",
                  show_default=True, help="Drawing format (svg: Graphviz when installed, else built in).")
    @click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file.")
    def graph(path: Path | None, fmt: str, output: Path | None) -> None:
        """Draw the menus: menus, schedule branches, and queues, boxes and transfers as end nodes."""
        config = load_config()
        menuset, problems = check_menus(path or config.path("IVR_MENUS"), config.path("IVR_RECORDINGS"))
        if menuset is None:
            for problem in problems:
                click.echo(str(problem), err=True)
            click.echo("cannot draw menus with errors: fix them first (ivr check)", err=True)
            sys.exit(1)
        text = WRITERS[fmt](build_graph(menuset))
        if output:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
