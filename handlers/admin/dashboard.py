"""The dashboard page: KPI cards for the chosen days, charts per day and per queue, exports."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from markupsafe import Markup

from handlers.admin.auth import login_required
from handlers.admin.blueprint import bp
from handlers.admin.params import read_filters, read_range
from handlers.security import runtime
from ivr import charts
from ivr.daily import figures
from ivr.metrics import Filters, Kpis, MetricSettings


@dataclass(frozen=True)
class Card:
    """One KPI as shown: its name, formatted value and a line of detail."""

    key: str
    label: str
    value: str
    detail: str = ""


def number(value: float | None, unit: str = "", digits: int = 1) -> str:
    """A KPI value for display; an em dash when it is undefined (nothing to measure)."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return text + unit


def cards(k: Kpis, settings: MetricSettings) -> list[Card]:
    """The KPI cards of one range."""
    d = k.dispositions
    return [
        Card("calls", "Calls", f"{k.calls}", f"{k.answered} answered by an agent"),
        Card("csat", "CSAT", number(k.csat_pct, " %"),
             f"mean {number(k.csat_mean, digits=2)} of {k.csat_responses} answers"),
        Card("nps", "NPS", number(k.nps), f"{k.nps_responses} answers"),
        Card("fcr", "First contact resolution", number(k.fcr_pct, " %")),
        Card("response_rate", "Survey response rate", number(k.response_rate, " %"),
             f"{k.offered} offered · {d.get('completed', 0)} completed · {d.get('partial', 0)} "
             f"partial · {d.get('declined', 0)} declined · {d.get('no_input', 0)} no input"),
        Card("asa", "Time to answer", number(k.asa_mean, " s"),
             f"median {number(k.asa_median, ' s')} · p90 {number(k.asa_p90, ' s')}"),
        Card("service_level", "Service level", number(k.service_level_pct, " %"),
             f"answered within {settings.service_level_seconds} s"),
        Card("aht", "Average handle time", number(k.aht_mean, " s"),
             f"call start to end {number(k.handling_mean, ' s')}"),
        Card("abandon_menu", "Abandoned in menus", f"{k.abandon_menu}", number(k.abandon_menu_pct, " %")),
        Card("abandon_queue", "Abandoned in queue", f"{k.abandon_queue}",
             f"{number(k.abandon_queue_pct, ' %')} of {k.queued} queued"),
    ]


def day_charts(days: list[tuple[str, Kpis]]) -> list[Markup]:
    """CSAT, volume, time to answer and abandonment per day."""
    labels = [label[5:] for label, _ in days]  # MM-DD

    def series(name: str, attr: str) -> charts.Series:
        return name, [getattr(k, attr) for _, k in days]

    return [Markup(svg) for svg in (
        charts.line_chart("CSAT % per day", labels, [series("CSAT", "csat_pct")], " %", top=100),
        charts.line_chart("Calls per day", labels, [series("calls", "calls"),
                                                    series("answered", "answered")]),
        charts.line_chart("Time to answer (s) per day", labels, [series("mean", "asa_mean"),
                                                                 series("p90", "asa_p90")], " s"),
        charts.line_chart("Abandonment % per day", labels, [series("menus", "abandon_menu_pct"),
                                                            series("queue", "abandon_queue_pct")],
                          " %"),
    )]


def queue_charts(queues: list[tuple[str, Kpis]]) -> list[Markup]:
    """Volume, CSAT and time to answer per queue."""
    named = [(label or "(no queue)", k) for label, k in queues]
    return [Markup(svg) for svg in (
        charts.bar_chart("Calls per queue", [(n, k.calls) for n, k in named]),
        charts.bar_chart("CSAT % per queue", [(n, k.csat_pct) for n, k in named], " %", top=100),
        charts.bar_chart("Time to answer (s) per queue", [(n, k.asa_mean) for n, k in named], " s"),
    )]


@bp.get("/")
@login_required()
def dashboard() -> str:
    """KPI cards, charts over time and per queue, CSAT by menu path, and export buttons."""
    days, filters = read_range(), read_filters()
    rt = runtime()
    settings = MetricSettings.from_config(rt.config)
    selection = Filters(queue=filters.get("queue"), language=filters.get("language"),
                        agent=filters.get("agent"))
    shown = figures(rt.redis, days.first, days.last, days.tz, selection, settings)
    return render_template("admin/dashboard.html", days=days, filters=filters, kpis=shown.total,
                           cards=cards(shown.total, settings), day_charts=day_charts(shown.per_day),
                           queue_charts=queue_charts(shown.per_queue), per_queue=shown.per_queue,
                           number=number)
