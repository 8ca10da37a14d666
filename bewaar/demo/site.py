"""The demo site: a small ministry website with news, topics, documents and page requisites.

Pages are made on request, so the site needs no files on disk. It has what real sites have: a
stylesheet with ``@import``, ``url()`` backgrounds and a web font, a logo with ``srcset``, a
favicon, a script, a PDF document, a sitemap announced in robots.txt, and a redirect.
"""

from __future__ import annotations

import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MINISTRY = "Ministerie van Justitie en Veiligheid (demo)"
NEWS = 24
TOPICS = ("asiel", "criminaliteit", "rechtspraak", "slachtofferhulp", "terrorisme", "cybercrime")

CSS_MAIN = b"""@import url("/css/print.css");
@font-face { font-family: "RO Sans"; src: url("/fonts/rosans.woff2") format("woff2"); }
body { font-family: "RO Sans", sans-serif; margin: 0; }
header { background: #154273 url("/img/banner.png") no-repeat right; color: white; padding: 1em; }
.card { border: 1px solid #ccc; margin: 1em; padding: 1em; }
"""
CSS_PRINT = b"@media print { header { background: none; color: black; } }\n"
JS = b"document.documentElement.classList.add('js');\n"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A tiny valid PNG of one colour."""
    import struct

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _pdf(title: str) -> bytes:
    text = f"BT /F1 18 Tf 72 720 Td ({title}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


LOGO = _png(120, 40, (21, 66, 115))
LOGO2X = _png(240, 80, (21, 66, 115))
BANNER = _png(200, 60, (1, 104, 155))
ICON = _png(16, 16, (21, 66, 115))
FONT = b"wOF2" + bytes(range(256)) * 8


def _page(title: str, body: str) -> bytes:
    nav = " | ".join(f'<a href="/onderwerpen/{t}">{t.capitalize()}</a>' for t in TOPICS)
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>{title} | {MINISTRY}</title>
<link rel="stylesheet" href="/css/main.css"><link rel="icon" href="/favicon.png">
<link rel="preload" href="/fonts/rosans.woff2" as="font" crossorigin>
<script src="/js/site.js" defer></script></head>
<body><header><a href="/"><img src="/img/logo.png" srcset="/img/logo.png 1x, /img/logo@2x.png 2x"
alt="{MINISTRY}"></a><nav>{nav} | <a href="/nieuws">Nieuws</a> | <a href="/contact">Contact</a></nav></header>
<main><h1>{title}</h1>{body}</main>
<footer><a href="/over-deze-site">Over deze site</a> <a href="/oud-adres">Oud adres</a></footer>
</body></html>""".encode()


def render(path: str) -> tuple[int, str, bytes, dict[str, str]]:
    """(status, content type, body, extra headers) for a path of the demo site."""
    html = "text/html; charset=utf-8"
    if path in ("/", "/index.html"):
        items = "".join(f'<div class="card"><a href="/nieuws/{i}">Nieuwsbericht {i}</a></div>'
                        for i in range(1, 6))
        return 200, html, _page("Home", f"<p>Welkom.</p>{items}"), {}
    if path == "/nieuws":
        items = "".join(f'<li><a href="/nieuws/{i}">Nieuwsbericht {i}</a></li>' for i in range(1, NEWS + 1))
        return 200, html, _page("Nieuws", f"<ul>{items}</ul>"), {}
    if path.startswith("/nieuws/") and path[8:].isdigit() and 1 <= int(path[8:]) <= NEWS:
        i = int(path[8:])
        text = " ".join(["Het kabinet heeft vandaag besloten tot nieuwe maatregelen."] * 40)
        body = (f"<p>{text}</p><p><a href='/documenten/besluit-{i}.pdf'>Besluit {i} (PDF)</a></p>"
                f"<p><a href='/nieuws/{i % NEWS + 1}'>Volgend bericht</a></p>")
        return 200, html, _page(f"Nieuwsbericht {i}", body), {}
    if path.startswith("/onderwerpen/") and path[13:] in TOPICS:
        t = path[13:]
        return 200, html, _page(t.capitalize(), f"<p>Alles over {t}.</p>"), {}
    if path in ("/contact", "/over-deze-site"):
        return 200, html, _page(path[1:].replace("-", " ").capitalize(), "<p>Postbus 20301, Den Haag</p>"), {}
    if path == "/oud-adres":
        return 301, html, b"", {"Location": "/over-deze-site"}
    if path.startswith("/documenten/besluit-") and path.endswith(".pdf"):
        return 200, "application/pdf", _pdf(path[12:]), {}
    static = {
        "/css/main.css": ("text/css", CSS_MAIN),
        "/css/print.css": ("text/css", CSS_PRINT),
        "/js/site.js": ("application/javascript", JS),
        "/img/logo.png": ("image/png", LOGO),
        "/img/logo@2x.png": ("image/png", LOGO2X),
        "/img/banner.png": ("image/png", BANNER),
        "/favicon.png": ("image/png", ICON),
        "/fonts/rosans.woff2": ("font/woff2", FONT),
        "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /zoeken\nSitemap: /sitemap.xml\n"),
    }
    if path in static:
        ctype, data = static[path]
        return 200, ctype, data, {}
    if path == "/sitemap.xml":
        urls = ["/", "/nieuws", "/contact"] + [f"/onderwerpen/{t}" for t in TOPICS]
        locs = "".join(f"<url><loc>{{base}}{u}</loc></url>" for u in urls)
        return 200, "application/xml", (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>').encode(), {}
    return 404, html, _page("Niet gevonden", "<p>Deze pagina bestaat niet.</p>"), {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DemoMinisterie/1.0"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        status, ctype, body, extra = render(path)
        if path in ("/robots.txt", "/sitemap.xml"):
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            body = body.replace(b"{base}", base.encode()).replace(b"Sitemap: /", f"Sitemap: {base}/".encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


class DemoSite:
    """Serve the demo site on 127.0.0.1 (a free port unless one is given) in a thread."""

    def __init__(self, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> DemoSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
