"""The menu tree as `ivr graph` draws it, for the version now serving new calls."""

from __future__ import annotations

import functools

from flask import render_template
from markupsafe import Markup

from handlers.admin.auth import login_required
from handlers.admin.blueprint import bp
from handlers.security import runtime
from ivr.graph import build_graph
from ivr.graph_render import to_svg


@functools.lru_cache(maxsize=4)
def drawing(version: str) -> str:
    """The SVG drawing of menu version `version` (drawn once per version)."""
    return to_svg(build_graph(runtime().menus.for_call(version)))


@bp.get("/menus")
@login_required()
def menus() -> str:
    """The current menu tree: menus, keys, queues, voicemail boxes, transfers and schedules."""
    ms = runtime().menus.current
    svg = drawing(ms.version)
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the drawing sits inline
    return render_template("admin/menus.html", version=ms.version, svg=Markup(svg),
                           menus=len(ms.menus), languages=", ".join(ms.languages))
