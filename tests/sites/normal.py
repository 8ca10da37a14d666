"""A generated ministry-like site: pages in a tree, CSS/fonts/images/scripts, robots and sitemaps.

Run as a program for benchmarks: ``python -m tests.sites --pages 1000 --latency 0.02``
prints ``PORT`` on stdout and serves until killed.

Layout (PAGES pages, ``/p/N.html``, page N links to 2N+1 and 2N+2 and the home page):
  /                      home: links to /p/0.html, /private/secret.html (robots-disallowed),
                         /skip/me.html, http://localhost:PORT/elsewhere.html (another host)
  /static/site.css       url(), @import "theme.css", @font-face
  /img/*, /static/*.js, /favicon.ico, /static/font*.woff2
  http://localhost:PORT/cdn/lib.js   a requisite on another host
  /robots.txt            Disallow: /private/; Sitemap: /sitemap-index.xml
  /sitemap-index.xml -> /sitemap-pages.xml -> /orphan.html;  /sitemap.xml -> /orphan2.html
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["archief", "rijksoverheid", "ministerie", "beleid", "wet", "besluit", "regeling", "openbaar", "document", "burger", "gemeente", "provincie", "waterschap", "onderzoek", "rapport", "brief", "kamer", "vraag", "antwoord", "toezicht", "veiligheid", "justitie", "zorg", "onderwijs", "klimaat", "energie", "woning", "verkeer"]


def _blob(name: str, size: int) -> bytes:
    """Deterministic incompressible bytes (an image stand-in) of the given size."""
    out = bytearray()
    seed = name.encode()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


def _text(n: int, words: int) -> str:
    rnd = random.Random(n)
    return " ".join(rnd.choice(WORDS) for _ in range(words))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as real servers do
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        srv = self.server
        srv.hits[self.path] = srv.hits.get(self.path, 0) + 1
        if srv.latency:
            time.sleep(srv.latency)
        host = (self.headers.get("Host") or "").split(":")[0]
        status, ctype, body = srv.site.render(self.path, host)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, site: NormalSite, latency: float) -> None:
        self.site = site
        self.latency = latency
        self.hits: dict[str, int] = {}
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that goes away (a killed crawler) is not news


class NormalSite:
    def __init__(self, pages: int = 30, latency: float = 0.0, page_words: int = 1200,
                 image_size: int = 40_000, rich: bool = True) -> None:
        self.pages = pages
        self.page_words = page_words
        self.image_size = image_size
        self.rich = rich
        self._server = _Server(self, latency)
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._blobs: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def hits(self) -> dict[str, int]:
        return self._server.hits

    def start(self) -> NormalSite:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> NormalSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------
    def blob(self, name: str, size: int) -> bytes:
        if name not in self._blobs:
            self._blobs[name] = _blob(name, size)
        return self._blobs[name]

    def page_urls(self) -> list[str]:
        return [self.url] + [f"{self.url}p/{i}.html" for i in range(self.pages)]

    def _head(self) -> str:
        if not self.rich:
            return '<link rel="stylesheet" href="/static/site.css">'
        p = self.port
        return (
            '<link rel="stylesheet" href="/static/site.css">'
            '<link rel="icon" href="/favicon.ico">'
            '<link rel="preload" href="/static/font2.woff2" as="font">'
            '<script src="/static/app.js"></script>'
            f'<script src="http://localhost:{p}/cdn/lib.js"></script>'
            '<style>.hero { background: url("/img/inline-bg.png") }</style>'
        )

    def _body_media(self, n: int | None) -> str:
        if not self.rich:
            return '<img src="/img/logo.png" alt="logo">'
        return (
            f'<img src="/img/photo-{n}.jpg" alt="">'
            '<img src="/img/logo.png" srcset="/img/logo-2x.png 2x, /img/logo-3x.png 3x" alt="">'
            '<picture><source srcset="/img/hero.webp" type="image/webp">'
            '<img src="/img/hero.jpg" alt=""></picture>'
            '<div style="background-image: url(/img/styled.png)"></div>'
        )

    def _page(self, n: int | None) -> bytes:
        links = []
        if n is None:
            title = "Home"
            links.append('<a href="/p/0.html">start</a>')
            if self.rich:
                links += [
                    '<a href="/private/secret.html">geheim</a>',
                    '<a href="/skip/me.html">overslaan</a>',
                    f'<a href="http://localhost:{self.port}/elsewhere.html">elders</a>',
                    '<a href="mailto:info@example.nl">mail</a>',
                    '<a href="/p/0.html#top">anchor</a>',
                ]
        else:
            title = f"Pagina {n}"
            for c in (2 * n + 1, 2 * n + 2):
                if c < self.pages:
                    links.append(f'<a href="/p/{c}.html">pagina {c}</a>')
            links.append('<a href="/">home</a>')
            if n + 1 < self.pages:
                links.append(f'<a href="{n + 1}.html">volgende</a>')
        text = _text(n if n is not None else -1, self.page_words)
        html = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"{self._head()}</head><body><h1>{title}</h1>{self._body_media(n)}"
            f"<nav>{' '.join(links)}</nav><p>{text}</p></body></html>"
        )
        return html.encode()

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        path = path.split("#", 1)[0]
        base = self.url.rstrip("/")
        if host == "localhost":
            if path == "/cdn/lib.js":
                return 200, "application/javascript", b"window.lib = 1;\n" * 200
            if path == "/elsewhere.html":
                return 200, "text/html", b"<html><body><a href='/elsewhere2.html'>x</a></body></html>"
            return 404, "text/plain", b"not here"
        if path in ("/", "/index.html"):
            return 200, "text/html; charset=utf-8", self._page(None)
        if path.startswith("/p/") and path.endswith(".html"):
            try:
                n = int(path[3:-5])
            except ValueError:
                n = -1
            if 0 <= n < self.pages:
                return 200, "text/html; charset=utf-8", self._page(n)
        if path in ("/orphan.html", "/orphan2.html", "/private/secret.html", "/skip/me.html"):
            return 200, "text/html", f"<html><body>{path}</body></html>".encode()
        if path == "/robots.txt":
            return 200, "text/plain", (
                f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap-index.xml\n"
            ).encode()
        if path == "/sitemap-index.xml":
            return 200, "application/xml", (
                '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                f'sitemap/0.9"><sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap>'
                "</sitemapindex>"
            ).encode()
        if path == "/sitemap-pages.xml":
            return 200, "application/xml", _urlset([f"{base}/orphan.html", f"{base}/"])
        if path == "/sitemap.xml":
            return 200, "application/xml", _urlset([f"{base}/orphan2.html"])
        if path == "/static/site.css":
            return 200, "text/css", (
                b'@import "theme.css";\n'
                b"@font-face { font-family: Rijks; src: url('/static/font.woff2') format('woff2'); }\n"
                b"body { background: url(/img/bg.png) repeat; font-family: Rijks }\n"
            ) + b".x { color: #123 }\n" * 100
        if path == "/static/theme.css":
            return 200, "text/css", b"h1 { background: url(\"../img/theme-bg.png\") }\n"
        if path == "/static/app.js":
            return 200, "application/javascript", b"console.log('bewaar');\n" * 300
        if path in ("/static/font.woff2", "/static/font2.woff2"):
            return 200, "font/woff2", self.blob(path, 20_000)
        if path == "/favicon.ico":
            return 200, "image/x-icon", self.blob(path, 1_500)
        if path.startswith("/img/"):
            ctype = "image/webp" if path.endswith(".webp") else (
                "image/jpeg" if path.endswith(".jpg") else "image/png")
            return 200, ctype, self.blob(path, self.image_size)
        return 404, "text/html", b"<html><body>Niet gevonden</body></html>"


def _urlset(urls: list[str]) -> bytes:
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{locs}</urlset>").encode()


def main() -> None:
    ap = argparse.ArgumentParser(description="Serve the generated test site on 127.0.0.1.")
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--plain", action="store_true", help="fewer requisites per page")
    args = ap.parse_args()
    site = NormalSite(pages=args.pages, latency=args.latency, page_words=400,
                      image_size=8_000, rich=not args.plain)
    print(site.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        site._server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
