"""Small charts rendered as inline SVG text (no JavaScript, no CDN), for the offline dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLORS = ("#2f6fdf", "#d9822b", "#1e8e5a", "#c0392b", "#7b4bd1")
WIDTH, HEIGHT = 480, 210
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 28, 40

Series = tuple[str, Sequence[float | None]]


def nice_max(value: float) -> float:
    """A round axis top at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def fmt(value: float, unit: str = "") -> str:
    """A number as an axis or tooltip label: whole when it is whole, else one decimal."""
    text = f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"
    return text + unit


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "",
               top: float | None = None) -> str:
    """A line chart of one or more series over the labels; gaps where a value is None."""
    values = [v for _, points in series for v in points if v is not None]
    top = top if top is not None else nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h if top else TOP + plot_h

    parts = [_open(title), _y_axis(top, unit, y), _x_labels(labels, x)]
    for number, (name, points) in enumerate(series):
        parts.append(_line(name, labels, points, COLORS[number % len(COLORS)], unit, x, y))
    if len(series) > 1:
        parts.append(_legend([name for name, _ in series]))
    if not values:
        parts.append(_note("no data in this range"))
    return "".join(parts) + "</svg>"


def bar_chart(title: str, items: Sequence[tuple[str, float | None]], unit: str = "",
              top: float | None = None) -> str:
    """Horizontal bars, one per label (e.g. per queue); a dash where the value is None."""
    height = TOP + 22 * max(len(items), 1) + 10
    values = [v for _, v in items if v is not None]
    top = top if top is not None else nice_max(max(values, default=0))
    left, plot_w = 110, WIDTH - 110 - 60
    parts = [_open(title, height)]
    for row, (label, value) in enumerate(items):
        y = TOP + row * 22
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" class="lbl">'
                     f"{escape(_short(label, 16))}</text>")
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 14}" class="val">–</text>')
            continue
        w = max(plot_w * value / top, 1) if top else 1
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="15" fill="{COLORS[0]}">'
                     f"<title>{escape(label)}: {fmt(value, unit)}</title></rect>"
                     f'<text x="{left + w + 4:.1f}" y="{y + 14}" class="val">{fmt(value, unit)}</text>')
    if not items:
        parts.append(_note("no data in this range", height))
    return "".join(parts) + "</svg>"


def _open(title: str, height: int = HEIGHT) -> str:
    """The <svg> start tag, styles and the title."""
    label = escape(title, quote=True)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-label="{label}"><style>text{{font:11px system-ui,sans-serif;fill:#5f6b7a}}'
            f".t{{font-size:13px;font-weight:600;fill:#1d2433}}.val{{fill:#1d2433}}</style>"
            f'<text x="4" y="16" class="t">{escape(title)}</text>')


def _y_axis(top: float, unit: str, y) -> str:
    """Grid lines and labels at 0, half and the top of the axis."""
    out = []
    for v in (0, top / 2, top):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#e3e7ed"/><text x="{LEFT - 4}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{fmt(v, unit)}</text>')
    return "".join(out)


def _x_labels(labels: Sequence[str], x) -> str:
    """At most eight evenly spaced labels under the plot."""
    every = max(1, -(-len(labels) // 8))
    return "".join(f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                   f"{escape(_short(label, 10))}</text>"
                   for i, label in enumerate(labels) if i % every == 0 or i == len(labels) - 1)


def _line(name: str, labels: Sequence[str], points: Sequence[float | None], color: str, unit: str,
          x, y) -> str:
    """One series: a path broken at missing values, and a dot with a tooltip per value."""
    path, pen_down, dots = [], False, []
    for i, v in enumerate(points):
        if v is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(v):.1f}")
        pen_down = True
        dots.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"><title>'
                    f"{escape(name)} {escape(labels[i])}: {fmt(v, unit)}</title></circle>")
    line = f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>' if path else ""
    return line + "".join(dots)


def _legend(names: Sequence[str]) -> str:
    """Color keys for several series, top right."""
    out, at = [], WIDTH - RIGHT
    for number, name in reversed(list(enumerate(names))):
        at -= 24 + 6.5 * len(name)
        out.append(f'<rect x="{at:.1f}" y="8" width="10" height="10" '
                   f'fill="{COLORS[number % len(COLORS)]}"/><text x="{at + 13:.1f}" y="17">'
                   f"{escape(name)}</text>")
    return "".join(out)


def _note(text: str, height: int = HEIGHT) -> str:
    """A centred message over an empty plot."""
    return (f'<text x="{WIDTH / 2}" y="{height / 2 + 8}" text-anchor="middle">'
            f"{escape(text)}</text>")


def _short(label: str, size: int) -> str:
    """A label cut to `size` characters with an ellipsis."""
    return label if len(label) <= size else label[: size - 1] + "…"
