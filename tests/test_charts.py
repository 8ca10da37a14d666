"""The runs chart (bewaar/web/charts.py) as a screen reader and a browser get it: SVG that
parses as XML (lxml), named by its title and described by its desc, one bar per run and metric
scaled to the largest, QA marks told apart by shape, text escaped, and no script."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from bewaar.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def runs(n: int = 4) -> list[dict[str, Any]]:
    qa = [{"passed": True, "pages": 3, "failed": 0}, {"passed": False, "pages": 3, "failed": 1},
          None]
    return [{"id": 10 + i, "started_at": datetime(2026, 11, 1 + i, 2, 0, tzinfo=UTC),
             "pages": 100 * (i + 1), "bytes": 1_500_000 * (i + 1), "errors": i % 2,
             "qa": qa[i % 3]} for i in range(n)]


def parse(chart: charts.Chart) -> Any:
    return etree.fromstring(str(chart.svg).encode())


def test_the_svg_is_named_described_and_scaled() -> None:
    data = runs(4)
    chart = charts.runs_chart("justid", data, "nl")
    svg = parse(chart)
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Crawlruns van justid: pagina's, bytes, fouten en QA-uitslag"
    assert desc.text.startswith("4 runs, van 01-11-2026 03:00:00 CET tot 04-11-2026")
    assert "400 pagina's, 6 MB, fouten: 1, QA goedgekeurd" in desc.text
    assert svg.findall(f".//{SVG}script") == [] and svg.xpath("//@*[starts-with(name(), 'on')]") == []
    for metric in charts.METRICS:
        [panel] = svg.findall(f"{SVG}g[@data-metric='{metric}']")
        bars = panel.findall(f"{SVG}rect")
        values = [r[metric] for r in data]
        assert [int(b.get("data-value")) for b in bars] == values
        assert [int(b.get("data-run")) for b in bars] == [r["id"] for r in data]
        heights = [float(b.get("height")) for b in bars]
        assert max(heights) == charts.PANEL
        for h, v in zip(heights, values, strict=True):
            assert h == pytest.approx(charts.PANEL * v / max(values), abs=0.01)
        # bars stand on the zero line, left to right in run order, inside the drawing
        bottoms = {round(float(b.get("y")) + float(b.get("height")), 1) for b in bars}
        assert len(bottoms) == 1
        xs = [float(b.get("x")) for b in bars]
        assert xs == sorted(xs) and xs[0] >= charts.LEFT
        assert xs[-1] + float(bars[-1].get("width")) <= int(svg.get("width"))
        assert all(b.find(f"{SVG}title").text.startswith("Run ") for b in bars)
    # errors: 0 draws nothing, a 1 fills the panel
    errors = svg.find(f"{SVG}g[@data-metric='errors']").findall(f"{SVG}rect")
    assert [float(b.get("height")) for b in errors] == [0, charts.PANEL, 0, charts.PANEL]
    bytes_panel = svg.find(f"{SVG}g[@data-metric='bytes']")
    assert bytes_panel.find(f"{SVG}text[@class='bw-chart__scale']").text == "6 MB"
    assert "1,5 MB" in bytes_panel.findall(f"{SVG}rect")[0].find(f"{SVG}title").text


def test_qa_marks_differ_by_shape() -> None:
    svg = parse(charts.runs_chart("justid", runs(3), "en"))
    marks = svg.findall(f"{SVG}g[@class='bw-chart__qa']/{SVG}g[@data-run]")
    assert [m.get("data-qa") for m in marks] == ["passed", "failed", "none"]
    shapes = [(m.find(f"{SVG}circle") is not None, m.find(f"{SVG}path") is not None,
               m.find(f"{SVG}circle[@fill='#fff']") is not None) for m in marks]
    assert shapes == [(True, True, False), (False, True, False), (True, False, True)]
    assert [m.find(f"{SVG}title").text for m in marks] == [
        "Run 10: QA passed", "Run 11: QA failed", "Run 12: QA not checked"]
    legend = svg.findall(f".//{SVG}g[@class='bw-chart__legend']")
    assert [g.find(f"{SVG}text").text for g in legend] == ["passed", "failed", "not checked"]


def test_the_table_rows_carry_the_same_numbers() -> None:
    data = runs(5)
    chart = charts.runs_chart("justid", data, "nl")
    assert [(r["id"], r["pages"], r["bytes"], r["errors"]) for r in chart.rows] == [
        (r["id"], r["pages"], r["bytes"], r["errors"]) for r in data]
    assert [r["qa"] for r in chart.rows] == ["passed", "failed", "none", "passed", "failed"]


def test_text_is_escaped_and_no_runs_draw_an_empty_chart() -> None:
    chart = charts.runs_chart("<script>&amp;", [], "en", chart_id="c1")
    svg = parse(chart)  # would not parse if the name went in raw
    assert svg.find(f"{SVG}title").text.startswith("Crawl runs of <script>&amp;:")
    assert svg.find(f"{SVG}desc").text == "No runs yet."
    assert svg.findall(f".//{SVG}rect") == [] and chart.rows == []
    assert svg.get("id") == "c1" and svg.find(f"{SVG}title").get("id") == "c1-title"


def test_many_runs_keep_their_numbers_readable() -> None:
    data = [{**r, "id": 100 + i} for i, r in enumerate(runs(1) * 30)]
    svg = parse(charts.runs_chart("justid", data, "nl"))
    ticks = svg.findall(f"{SVG}g[@class='bw-chart__axis']/{SVG}text")[:-1]
    xs = [float(t.get("x")) for t in ticks]
    assert ticks[-1].text == "129"  # the newest run always has its number
    assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 40
    assert len(svg.find(f"{SVG}g[@data-metric='pages']").findall(f"{SVG}rect")) == 30


@pytest.mark.parametrize(("value", "locale", "shown"), [
    (0, "nl", "0 B"), (999, "nl", "999 B"), (1_500, "nl", "1,5 kB"), (126_410, "en", "126.4 kB"),
    (2_000_000_000, "nl", "2 GB"), (5 * 10**15, "nl", "5.000 TB")])
def test_sizes_for_people(value: int, locale: str, shown: str) -> None:
    assert charts.size(value, locale) == shown
