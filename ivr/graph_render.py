"""Writing a MenuGraph as Mermaid, Graphviz DOT, or SVG (Graphviz when installed, else our own layout)."""

from __future__ import annotations

import shutil
import subprocess
from html import escape

from ivr.graph import SHAPES, MenuGraph

FILL = {"start": "#e8f0fe", "menu": "#ffffff", "input": "#ffffff", "schedule": "#fff4ce", "say": "#f3f3f3",
        "queue": "#d7f5dd", "voicemail": "#e6dcf7", "transfer": "#fde2cf", "hangup": "#eeeeee",
        "back": "#ffffff"}
BOX_W, BOX_H, GAP_X, GAP_Y, LINE_H = 190, 44, 90, 26, 14


def to_mermaid(graph: MenuGraph) -> str:
    """A Mermaid flowchart (GitHub and many wikis draw it)."""
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        left, right, _ = SHAPES[node.kind]
        label = node.label.replace('"', "#quot;").replace("\n", "<br/>")
        lines.append(f'    {node.id}{left}"{label}"{right}')
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = edge.label.replace('"', "#quot;").replace("|", "#124;")
        lines.append(f'    {edge.source} {arrow}|"{label}"| {edge.target}' if label
                     else f"    {edge.source} {arrow} {edge.target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: MenuGraph) -> str:
    """A Graphviz digraph."""
    lines = ["digraph menus {", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=11, style=filled, fillcolor="#ffffff"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for node in graph.nodes.values():
        shape = SHAPES[node.kind][2]
        lines.append(f"  {node.id} [label={_dot_text(node.label)}, shape={shape}, "
                     f'fillcolor="{FILL[node.kind]}"];')
    for edge in graph.edges:
        style = ", style=dashed" if edge.dashed else ""
        lines.append(f"  {edge.source} -> {edge.target} [label={_dot_text(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(graph: MenuGraph, use_graphviz: bool = True) -> str:
    """An SVG drawing: Graphviz `dot` lays it out when installed, else a simple layered layout."""
    dot = shutil.which("dot") if use_graphviz else None
    if dot:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True,
                              check=False)
        if done.returncode == 0:
            return done.stdout
    return layered_svg(graph)


def layers(graph: MenuGraph) -> dict[str, int]:
    """Each node's column: its distance in arrows from the start (unreachable nodes last)."""
    depth = {}
    first = next(iter(graph.nodes.values())).id if graph.nodes else None
    frontier = [first] if first else []
    level = 0
    while frontier:
        for node in frontier:
            depth.setdefault(node, level)
        level += 1
        frontier = list(dict.fromkeys(e.target for e in graph.edges
                                      if e.source in frontier and e.target not in depth))
    for node in graph.nodes.values():
        depth.setdefault(node.id, level)
    return depth


def layered_svg(graph: MenuGraph) -> str:
    """Our own SVG: columns by distance from the start, boxes with labels, arrows with key labels."""
    depth = layers(graph)
    rows: dict[int, int] = {}
    place = {}
    for node in graph.nodes.values():
        column = depth[node.id]
        place[node.id] = (20 + column * (BOX_W + GAP_X), 20 + rows.get(column, 0) * (BOX_H + GAP_Y))
        rows[column] = rows.get(column, 0) + 1
    width = 40 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X)
    height = 40 + max(rows.values(), default=1) * (BOX_H + GAP_Y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    parts += [_svg_edge(edge, place) for edge in graph.edges]
    parts += [_svg_node(node, *place[node.id]) for node in graph.nodes.values()]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_edge(edge, place) -> str:
    (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
    start, end = (x1 + BOX_W, y1 + BOX_H / 2), (x2, y2 + BOX_H / 2)
    if x2 <= x1:  # back or sideways: leave from the bottom, come in at the bottom
        start, end = (x1 + BOX_W / 2, y1 + BOX_H), (x2 + BOX_W / 2, y2 + BOX_H)
    dash = ' stroke-dasharray="4 3"' if edge.dashed else ""
    mid = (start[0] + (end[0] - start[0]) * 0.35, start[1] + (end[1] - start[1]) * 0.35 - 3)  # near the source
    return (f'<g class="edge"><line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" '
            f'stroke="#555"{dash} marker-end="url(#arrow)"/><text x="{mid[0]}" y="{mid[1]}" '
            f'text-anchor="middle" fill="#333">{escape(edge.label)}</text></g>')


def _svg_node(node, x: float, y: float) -> str:
    rx = {"start": 22, "hangup": 22, "back": 22, "say": 10, "schedule": 4}.get(node.kind, 3)
    texts = node.label.split("\n")
    top = y + BOX_H / 2 - (len(texts) - 1) * LINE_H / 2 + 4
    spans = "".join(f'<tspan x="{x + BOX_W / 2}" y="{top + i * LINE_H}">{escape(t)}</tspan>'
                    for i, t in enumerate(texts))
    return (f'<g class="node {node.kind}" id="{node.id}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="{rx}" fill="{FILL[node.kind]}" stroke="#333"/>'
            f'<text text-anchor="middle">{spans}</text></g>')
