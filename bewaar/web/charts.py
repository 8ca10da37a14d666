"""Charts made on the server as SVG: no JavaScript, nothing fetched.

:func:`runs_chart` draws a site's crawl runs (oldest left): one bar panel each for pages, bytes
and errors, and a row of QA marks (passed, failed, not checked; told apart by shape, not only by
colour). The geometry is computed here; ``templates/_chart_runs.html`` writes the SVG through
Jinja2's autoescaping, with a ``<title>`` and ``<desc>`` that name the chart and sum it up. The
same numbers go in a table beside it (:attr:`Chart.rows`), for screen readers and for reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bewaar.web.i18n import DEFAULT, number, translate, using, when

WIDTH = 720
LEFT = 96  # room for the panel's scale
RIGHT = 12
TOP = 8
PANEL = 72  # height of one bar panel
HEADING = 22  # the panel's name above it
GAP = 14
QA_ROW = 34
AXIS = 30  # run numbers under the bars
MAX_BAR = 36
METRICS = ("pages", "bytes", "errors")


@dataclass(frozen=True)
class Bar:
    run: int
    value: int
    x: float
    y: float
    width: float
    height: float
    label: str  # "Run 12 (01-12-2026 …): 1.234 pages"


@dataclass(frozen=True)
class Panel:
    metric: str
    name: str
    top: float
    base: float  # y of the zero line
    scale: str  # the largest value, as shown at the top of the scale
    bars: list[Bar]


@dataclass(frozen=True)
class Mark:
    run: int
    qa: str  # passed | failed | none
    cx: float
    cy: float
    label: str


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    panels: list[Panel] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, run number) under bars
    qa_top: float = 0
    left: int = LEFT
    right: int = WIDTH - RIGHT
    legend: list[tuple[str, str]] = field(default_factory=list)  # (state, name)
    rows: list[dict[str, Any]] = field(default_factory=list)
    svg: Markup = Markup("")


def size(value: int, locale: str = DEFAULT) -> str:
    """Bytes for people: ``1,2 MB`` (Dutch), ``1.2 MB`` (English)."""
    from babel.numbers import format_decimal

    amount: float = value
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            break
        amount /= 1000
    digits = "#,##0" if unit == "B" else "#,##0.#"
    return f"{format_decimal(amount, format=digits, locale=locale)} {unit}"


def qa_state(run: dict[str, Any]) -> str:
    qa = run.get("qa")
    if not qa:
        return "none"
    return "passed" if qa.get("passed") else "failed"


def _show(metric: str, value: int, locale: str) -> str:
    return size(value, locale) if metric == "bytes" else number(value, locale)


def runs_chart(site: str, runs: list[dict[str, Any]], locale: str = DEFAULT,
               chart_id: str = "runs-chart") -> Chart:
    """The chart of ``runs`` (oldest first; ``id``, ``started_at``, ``pages``, ``bytes``,
    ``errors``, ``qa``: None or ``{"passed", …}``), its texts in ``locale``."""
    names = {"pages": translate(locale, "Pages"), "bytes": translate(locale, "Bytes"),
             "errors": translate(locale, "Errors")}
    qa_names = {"passed": translate(locale, "passed"), "failed": translate(locale, "failed"),
                "none": translate(locale, "not checked")}
    n = len(runs)
    plot = WIDTH - LEFT - RIGHT
    column = plot / max(n, 1)
    bar_w = min(MAX_BAR, column * 0.6)
    chart = Chart(chart_id, translate(locale, "Crawl runs of %(site)s: pages, bytes, errors and "
                                      "QA result", site=site), "", WIDTH, 0)
    y = TOP
    for metric in METRICS:
        top = y + HEADING
        base = top + PANEL
        biggest = max((int(r.get(metric) or 0) for r in runs), default=0)
        bars = []
        for i, r in enumerate(runs):
            value = int(r.get(metric) or 0)
            height = PANEL * value / biggest if biggest else 0.0
            x = LEFT + column * i + (column - bar_w) / 2
            bars.append(Bar(r["id"], value, round(x, 2), round(base - height, 2),
                            round(bar_w, 2), round(height, 2),
                            translate(locale, "Run %(run)s (%(when)s): %(value)s",
                                      run=r["id"], when=when(r.get("started_at"), locale),
                                      value=f"{_show(metric, value, locale)} "
                                            f"{names[metric].lower()}")))
        chart.panels.append(Panel(metric, names[metric], top, base,
                                  _show(metric, biggest, locale), bars))
        y = base + GAP
    chart.qa_top = y
    chart.legend = list(qa_names.items())
    step = max(1, math.ceil(40 / column))  # room for a run number under every step-th bar
    for i, r in enumerate(runs):
        state = qa_state(r)
        cx = round(LEFT + column * i + column / 2, 2)
        chart.marks.append(Mark(r["id"], state, cx, round(y + HEADING + 4, 2),
                                translate(locale, "Run %(run)s: QA %(result)s", run=r["id"],
                                          result=qa_names[state])))
        if (n - 1 - i) % step == 0:  # the newest run always has its number
            chart.ticks.append((cx, str(r["id"])))
    chart.height = int(y + HEADING + 4 + QA_ROW / 2 + AXIS)
    chart.rows = [{"id": r["id"], "started_at": r.get("started_at"),
                   "pages": int(r.get("pages") or 0), "bytes": int(r.get("bytes") or 0),
                   "errors": int(r.get("errors") or 0), "qa": qa_state(r)} for r in runs]
    chart.desc = _describe(runs, locale, qa_names)
    chart.svg = render(chart, locale)
    return chart


def _describe(runs: list[dict[str, Any]], locale: str, qa_names: dict[str, str]) -> str:
    if not runs:
        return translate(locale, "No runs yet.")
    last = runs[-1]
    pages = [int(r.get("pages") or 0) for r in runs]
    return translate(
        locale, "%(count)s runs, from %(first)s to %(last)s. Pages per run from %(low)s to "
        "%(high)s; the last run: %(pages)s pages, %(bytes)s, %(errors)s errors, QA %(qa)s.",
        count=number(len(runs), locale), first=when(runs[0].get("started_at"), locale),
        last=when(last.get("started_at"), locale), low=number(min(pages), locale),
        high=number(max(pages), locale), pages=number(pages[-1], locale),
        bytes=size(int(last.get("bytes") or 0), locale),
        errors=number(int(last.get("errors") or 0), locale), qa=qa_names[qa_state(last)])


def render(chart: Chart, locale: str = DEFAULT) -> Markup:
    """The chart as an inline ``<svg>`` element (autoescaped template)."""
    from bewaar.web.layout import templates

    with using(locale):
        return Markup(templates.get_template("_chart_runs.html").render(chart=chart,
                                                                        lang=locale))


HISTORY_RUNS = 30


def site_history(db: Any, site: str, locale: str = DEFAULT) -> Chart:
    """The chart of ``site``'s last ``HISTORY_RUNS`` runs, with its table rows."""
    from bewaar.services.harvests import run_history

    return runs_chart(site, run_history(db, site, HISTORY_RUNS), locale)
