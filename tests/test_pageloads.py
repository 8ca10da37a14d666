"""What a page loads: one answer (archive.pageloads) for what the crawler fetches and what the
replay check expects, element by element."""

from __future__ import annotations

import pytest

from archive.pageloads import css_loads, css_references, page_loads, srcset_urls

PAGE = "http://m.nl/dir/index.html"


def loads(html: str, url: str = PAGE) -> list[str]:
    return page_loads(html.encode("utf-8"), url).requisites


def links(html: str, url: str = PAGE) -> list[str]:
    return page_loads(html.encode("utf-8"), url).links


@pytest.mark.parametrize(("html", "want"), [
    ('<img src="a.png">', ["a.png"]),
    ('<img src="a.png" srcset="a-2x.png 2x, /r/a-3x.png 3x">', ["a.png", "a-2x.png", "/r/a-3x.png"]),
    ('<img data-src="lazy.png" data-srcset="lazy2.png 2x">', ["lazy.png", "lazy2.png"]),
    ('<picture><source srcset="p.webp 1x, p2.webp 2x" type="image/webp"><img src="p.jpg"></picture>',
     ["p.webp", "p2.webp", "p.jpg"]),
    ('<video src="v.mp4" poster="v.jpg"><source src="v.webm"><track src="v.vtt"></video>',
     ["v.mp4", "v.jpg", "v.webm", "v.vtt"]),
    ('<audio src="a.mp3"><source src="a.ogg"></audio>', ["a.mp3", "a.ogg"]),
    ('<script src="app.js"></script><script>var u = "no.js"</script>', ["app.js"]),
    ('<object data="o.svg"></object><embed src="e.swf">', ["o.svg", "e.swf"]),
    ('<input type="IMAGE" src="go.png"><input type="text" src="no.png">', ["go.png"]),
    ('<body background="bg.gif"><table background="t.gif"><tr><td background="td.gif">x</td>'
     '</tr></table></body>', ["bg.gif", "t.gif", "td.gif"]),
    ('<svg><image href="s1.png"/><image xlink:href="s2.png"/><use href="sprite.svg#i"/>'
     '<use href="#local"/><feImage href="fe.png"/></svg>', ["s1.png", "s2.png", "sprite.svg", "fe.png"]),
    ('<image src="legacy.png">', ["legacy.png"]),
    ('<div style="background: url(&quot;d.png&quot;)"></div><p style="color: red">x</p>', ["d.png"]),
    ("<style>@import 'i.css'; .x { background: url(bg.png) }</style>", ["i.css", "bg.png"]),
    ('<iframe src="frame.html"></iframe><frameset><frame src="f2.html"></frameset>',
     ["frame.html", "f2.html"]),
    ('<iframe srcdoc="&lt;img src=&quot;in-srcdoc.png&quot;&gt;"></iframe>', ["in-srcdoc.png"]),
    ('<template><img src="t.png"></template><img src="after.png">', ["after.png"]),
    ('<noscript><img src="ns.png"></noscript>', ["ns.png"]),
    ('<meta property="og:image" content="og.png"><img src="x.png">', ["x.png"]),
])
def test_each_kind_of_requisite(html: str, want: list[str]) -> None:
    base = "http://m.nl/dir/"
    expect = [w if w.startswith("http") else (f"http://m.nl{w}" if w.startswith("/") else base + w)
              for w in want]
    assert loads(html if "<body" in html else f"<html><body>{html}</body></html>") == expect


@pytest.mark.parametrize(("rel", "extra", "wanted"), [
    ("stylesheet", "", True),
    ("stylesheet preload", "", True),
    ("alternate stylesheet", "", True),
    ("icon", "", True),
    ("icon shortcut", "", True),
    ("shortcut icon", "", True),
    ("Apple-Touch-Icon", "", True),
    ("apple-touch-icon-precomposed", "", True),
    ("mask-icon", "", True),
    ("manifest", "", True),
    ("modulepreload", "", True),
    ("preload", 'as="font"', True),
    ("preload", 'as="Style"', True),
    ("preload", "", False),  # browsers do not fetch a preload without a valid `as`
    ("preload", 'as="nonsense"', False),
    ("prefetch", "", False),
    ("dns-prefetch preconnect", "", False),
    ("canonical", "", False),
    ("shortcut", "", False),
    ("alternate", "", False),
])
def test_link_rel_sets(rel: str, extra: str, wanted: bool) -> None:
    got = loads(f'<html><head><link rel="{rel}" href="/r" {extra}></head></html>')
    assert got == (["http://m.nl/r"] if wanted else [])


def test_preload_image_brings_its_imagesrcset() -> None:
    html = '<link rel="preload" as="image" href="h.jpg" imagesrcset="h1.jpg 1x, h2.jpg 2x">'
    assert loads(html) == ["http://m.nl/dir/h.jpg", "http://m.nl/dir/h1.jpg", "http://m.nl/dir/h2.jpg"]


def test_links_to_follow() -> None:
    html = """<a href="/a.html">a</a><map><area href="area.html"></map>
    <link rel="alternate" hreflang="en" href="/en/"><link rel="next" href="p2.html">
    <link rel="alternate stylesheet" href="alt.css">
    <meta http-equiv="Refresh" content="5; URL='/later.html'">
    <svg><a xlink:href="/svg-link.html"><text>x</text></a></svg>
    <a href="javascript:void(0)">j</a><a href="mailto:x@m.nl">m</a><a href="tel:+31">t</a>
    <a href="#top">top</a><a href="about:blank">b</a><a href="data:text/html,x">d</a>
    <a href="ftp://ftp.m.nl/x">ftp</a><a href="/a.html#again">dup</a>
    <iframe src="frame.html"></iframe>"""
    assert links(html) == [
        "http://m.nl/a.html", "http://m.nl/dir/area.html", "http://m.nl/en/",
        "http://m.nl/dir/p2.html", "http://m.nl/later.html", "http://m.nl/svg-link.html",
        "ftp://ftp.m.nl/x",  # kept, so the crawler can record it as skipped (not-http)
    ]
    got = page_loads(html.encode(), PAGE)
    assert got.frames == ["http://m.nl/dir/frame.html"]
    assert got.requisites == ["http://m.nl/dir/alt.css", "http://m.nl/dir/frame.html"]


def test_base_href_first_one_with_href_resolved_against_the_page() -> None:
    html = """<html><head><base target="_blank"><base href="../sub/"><base href="/other/">
    </head><body><img src="i.png"><a href="p.html">p</a><img src="/abs.png">
    <img src="//cdn.m.nl/c.png"></body></html>"""
    got = page_loads(html.encode(), "http://m.nl/dir/deeper/index.html")
    assert got.requisites == ["http://m.nl/dir/sub/i.png", "http://m.nl/abs.png",
                              "http://cdn.m.nl/c.png"]
    assert got.links == ["http://m.nl/dir/sub/p.html"]
    # a base that is not http(s) is ignored
    got = page_loads(b'<base href="javascript:x"><img src="i.png">', PAGE)
    assert got.requisites == ["http://m.nl/dir/i.png"]
    # a base on another host moves everything there
    got = page_loads(b'<base href="https://static.m.nl/v2/"><img src="i.png">', PAGE)
    assert got.requisites == ["https://static.m.nl/v2/i.png"]


def test_ignored_references_and_the_page_itself() -> None:
    html = """<img src=""><img src="#x"><img src="data:image/png;base64,AA">
    <img src="javascript:alert(1)"><img src="about:blank"><img src="blob:http://m.nl/1">
    <img src="  \n spaced.png\t "><img src="sp\nlit.png"><img src="index.html">
    <img src="back\\slash.png"><img src="spaced.png#frag">"""
    assert loads(html) == ["http://m.nl/dir/spaced.png", "http://m.nl/dir/split.png",
                           "http://m.nl/dir/back/slash.png"]


@pytest.mark.parametrize(("value", "want"), [
    ("a.jpg", ["a.jpg"]),
    ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
    ("a.jpg 480w,b.jpg 800w", ["a.jpg", "b.jpg"]),
    ("  a.jpg  ,  b.jpg 2x  ", ["a.jpg", "b.jpg"]),
    ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),  # no descriptors at all
    ("/img?w=100,h=50 1x, /img?w=200,h=100 2x", ["/img?w=100,h=50", "/img?w=200,h=100"]),
    ("a,b.jpg 1x", ["a,b.jpg"]),  # a comma inside a URL does not split it
    ("a.jpg,, ,b.jpg", ["a.jpg", "b.jpg"]),  # trailing commas end a candidate
    ("a.jpg (1, 2) 1x, b.jpg", ["a.jpg", "b.jpg"]),  # commas in parentheses do not split
    (" , ", []),
    ("", []),
])
def test_srcset_parsing(value: str, want: list[str]) -> None:
    assert srcset_urls(value) == want


def test_css_urls_imports_fonts_and_escapes() -> None:
    css = r"""@charset "utf-8";
    @import url("theme.css") screen; @import 'print.css'; @import "more.css";
    @namespace svg url(http://www.w3.org/2000/svg);
    /* url(commented.png) @import "commented.css"; */
    @font-face { font-family: R; src: local(R), url(../fonts/r.woff2) format("woff2"),
                 url(data:font/woff;base64,AA) }
    h1 { background: URL( "img/h.png" ) }
    .q { background: url('q\'uote.png') }
    .e { background: url(esc\)aped.png) }
    .h { background: url("\68 ex.png") }
    .c { content: "url(in-a-string.png)" }
    .s { background-image: image-set("set1.png" 1x, url(set2.png) 2x, "set3.avif" type("image/avif")) }
    .n { background: nourl(x.png) }
    """
    assert css_references(css) == [
        "theme.css", "print.css", "more.css", "../fonts/r.woff2", "data:font/woff;base64,AA",
        "img/h.png", "q'uote.png", "esc)aped.png", "hex.png", "set1.png", "set2.png", "set3.avif",
    ]
    assert css_loads(css, "http://m.nl/static/site.css") == [
        "http://m.nl/static/theme.css", "http://m.nl/static/print.css",
        "http://m.nl/static/more.css", "http://m.nl/fonts/r.woff2",
        "http://m.nl/static/img/h.png", "http://m.nl/static/q'uote.png",
        "http://m.nl/static/esc)aped.png", "http://m.nl/static/hex.png",
        "http://m.nl/static/set1.png", "http://m.nl/static/set2.png",
        "http://m.nl/static/set3.avif",
    ]


def test_css_bytes_honour_bom_and_charset() -> None:
    assert css_loads(b'@charset "iso-8859-1"; a { background: url(caf\xe9.png) }',
                     "http://m.nl/s.css") == ["http://m.nl/caf\xe9.png"]
    assert css_loads(b"\xef\xbb\xbfa { background: url(caf\xc3\xa9.png) }",
                     "http://m.nl/s.css") == ["http://m.nl/caf\xe9.png"]


@pytest.mark.parametrize(("body", "hint"), [
    ("<img src='caf\xe9.png'>".encode(), None),  # valid UTF-8
    ("<meta charset='windows-1252'><img src='caf\xe9.png'>".encode("cp1252"), None),
    ("<img src='caf\xe9.png'>".encode("cp1252"), None),  # not UTF-8: windows-1252
    ("<meta charset='utf-8'><img src='caf\xe9.png'>".encode("cp1252"), "ISO-8859-1"),  # header wins
])
def test_html_encoding(body: bytes, hint: str | None) -> None:
    assert page_loads(body, "http://m.nl/", hint).requisites == ["http://m.nl/caf\xe9.png"]


def test_garbage_and_empty_pages_load_nothing() -> None:
    for body in (b"", b"   ", b"\x00\x01\x02", b"<<<>>>", b"<?xml version='1.0'?><x/>"):
        got = page_loads(body, PAGE)
        assert got.requisites == [] and got.links == []
    assert page_loads("<img src='s.png'>", PAGE).requisites == ["http://m.nl/dir/s.png"]


TRICKY = b"""<!doctype html><html><head><base target="_top">
<base href="https://static.m.nl/v2/"><base href="/ignored/">
<link rel="stylesheet preload" href="site.css"><link rel="icon shortcut" href="/fav.ico">
<link rel="preload" as="font" href="f.woff2" crossorigin><link rel="preload" href="no-as.js">
<link rel="prefetch" href="next-page.css"><link rel="alternate" href="/feed.xml">
<link rel="modulepreload" href="mod.js"><link rel="manifest" href="/app.webmanifest">
<style>@import "more.css"; .h { background: url( 'h\\31.png' ) } /* url(no.png) */</style>
</head><body background="bg.gif">
<img srcset="/img?w=1,2 1x, two.png 2x"><picture><source srcset="p.avif"><img src="p.jpg"></picture>
<svg><image xlink:href="svg.png"/></svg><input type="image" src="go.png"><input src="text.png">
<iframe src="/embed.html"></iframe><video poster="v.jpg"><track src="v.vtt"></video>
<a href="page.html">page</a><template><img src="tpl.png"></template>
</body></html>"""


def test_crawler_and_replay_agree_on_a_tricky_page() -> None:
    from crawler.links import html_links
    from replay.requisites import html_requisites

    url = "http://m.nl/x/index.html"
    pages, crawled = html_links(TRICKY, url)
    checked = html_requisites(TRICKY, url)
    s = "https://static.m.nl"
    assert crawled == checked == [
        f"{s}/v2/site.css", f"{s}/fav.ico", f"{s}/v2/f.woff2", f"{s}/v2/mod.js",
        f"{s}/app.webmanifest", f"{s}/v2/more.css", f"{s}/v2/h1.png", f"{s}/v2/bg.gif",
        f"{s}/img?w=1,2", f"{s}/v2/two.png", f"{s}/v2/p.avif", f"{s}/v2/p.jpg",
        f"{s}/v2/svg.png", f"{s}/v2/go.png", f"{s}/embed.html", f"{s}/v2/v.jpg", f"{s}/v2/v.vtt",
    ]
    assert pages == [f"{s}/feed.xml", f"{s}/v2/page.html"]


def test_crawler_and_replay_agree_on_a_style_sheet() -> None:
    from crawler.links import css_links
    from replay.requisites import css_requisites

    css = b"\xef\xbb\xbf@import 'a.css'; /* url(x.png) */ b { background: url(caf\xc3\xa9\\ .png) }"
    url = "http://m.nl/s/site.css"
    assert css_links(css, url) == css_requisites(css, url) == [
        "http://m.nl/s/a.css", "http://m.nl/s/caf\xe9 .png"]
