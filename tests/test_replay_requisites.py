"""What the replay check loads for a page: the requisites a browser would fetch."""

from __future__ import annotations

from replay.access import Rule, acl_lines
from replay.requisites import css_requisites, html_requisites

PAGE = b"""<!doctype html><html><head><base href="/sub/">
<link rel="stylesheet" href="a.css"><link rel="icon" href="/favicon.ico">
<link rel="preload" href="/f.woff2" as="font"><link rel="alternate" href="/feed.xml">
<script src="app.js"></script><style>.x{background:url('bg.png')} @import "more.css";</style>
</head><body>
<img src="i.png" srcset="i-2x.png 2x, /i-3x.png 3x"><img src="data:image/png;base64,AAAA">
<picture><source srcset="p.webp 1x, p2.webp 2x"><img src="p.jpg"></picture>
<div style="background-image: url(&quot;d.png&quot;)"></div>
<a href="/page.html">not a requisite</a><img src="i.png#dup">
</body></html>"""


def test_html_requisites_are_what_a_browser_loads() -> None:
    got = html_requisites(PAGE, "http://m.nl/x/index.html")
    base = "http://m.nl/sub/"
    assert got == [
        base + "a.css", "http://m.nl/favicon.ico", "http://m.nl/f.woff2", base + "app.js",
        base + "bg.png", base + "more.css", base + "i.png", base + "i-2x.png", "http://m.nl/i-3x.png",
        base + "p.webp", base + "p2.webp", base + "p.jpg", base + "d.png",
    ]


def test_css_requisites_resolve_against_the_style_sheet() -> None:
    css = """@import url("theme.css"); @import 'print.css';
    @font-face { src: url(../fonts/r.woff2) format("woff2"), url(data:font/woff;base64,AA) }
    h1 { background: url( "img/h.png" ) }"""
    assert css_requisites(css, "http://m.nl/static/site.css") == [  # in the order written
        "http://m.nl/static/theme.css", "http://m.nl/static/print.css",
        "http://m.nl/fonts/r.woff2", "http://m.nl/static/img/h.png",
    ]
    assert css_requisites(css.encode(), "http://m.nl/static/site.css") == css_requisites(
        css, "http://m.nl/static/site.css")


def test_acl_lines_are_reverse_sorted_surt_prefixes_and_lapsed_rules_drop_out() -> None:
    from datetime import UTC, datetime

    lines = acl_lines([
        Rule("http://www.m.nl/prive/", "block", None),
        Rule("http://www.m.nl/", "allow", None),
        Rule("http://www.m.nl/oud/", "block", datetime(2001, 1, 1, tzinfo=UTC)),
    ])
    assert [line.split(" ")[0] for line in lines] == ["nl,m)/prive/", "nl,m)/prive###", "nl,m)/"]
    # a block rule is written as pywb's "exclude": the capture leaves replay, CDX and timemaps
    assert '"access": "exclude"' in lines[0]
