"""A small site whose robots.txt and sitemaps are written the way real ones often are.

``robots.txt`` names sitemaps relatively, with a line that is no URL and one that is not
http, before the usable ones; the sitemaps name pages relatively, in CDATA, with entities and
with one ``<loc>`` that is no URL. Every page listed in ``SITEMAP_ONLY`` is linked from
nowhere: only sitemap discovery reaches it. The rest of the site is ``NormalSite``'s.
"""

from __future__ import annotations

from tests.sites.normal import NormalSite, _urlset

SITEMAP_ONLY = (
    "maps/relative-loc.html",  # <loc>relative-loc.html</loc> in /maps/relative.xml
    "from-root.html",  # <loc>/from-root.html</loc>
    "cdata.html",  # <loc><![CDATA[http://127.0.0.1:PORT/cdata.html]]></loc>
    "query.html?a=1&b=2",  # <loc>/query.html?a=1&amp;b=2</loc>
    "from-index.html",  # /maps/index.xml (relative in robots.txt) -> sub.xml (relative) -> here
    "from-default.html",  # /sitemap.xml, which robots.txt does not name; it has an iframe
)                         # from http://localhost:PORT/embed/frame.html, which has an image


class SitemapSite(NormalSite):
    def __init__(self) -> None:
        super().__init__(pages=2, page_words=20, image_size=500, rich=False)

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        base = self.url.rstrip("/")
        if host == "localhost":  # another host, embedded as a frame
            if path == "/embed/frame.html":
                return 200, "text/html", b"<html><body><img src='frame-img.png'></body></html>"
            if path == "/embed/frame-img.png":
                return 200, "image/png", self.blob(path, 300)
            return super().render(path, host)
        if path == "/from-default.html":
            return 200, "text/html", (
                f"<html><body><iframe src='http://localhost:{self.port}/embed/frame.html'>"
                "</iframe></body></html>"
            ).encode()
        if path == "/robots.txt":
            return 200, "text/plain", (
                b"User-agent: *\nDisallow: /private/\n"
                b"Sitemap: http://[broken/sitemap.xml\n"
                b"Sitemap: ftp://127.0.0.1/maps/ftp.xml\n"
                b"Sitemap: /maps/relative.xml\n"
                b"sitemap:maps/index.xml # a comment\n"
            )
        if path == "/maps/relative.xml":
            return 200, "application/xml", (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                "<url><loc>http://[no-url/</loc></url>\n"
                "<url><loc>relative-loc.html</loc></url>\n"
                "<url><loc> /from-root.html </loc></url>\n"
                f"<url><loc><![CDATA[{base}/cdata.html]]></loc></url>\n"
                "<url><loc>/query.html?a=1&amp;b=2</loc></url>\n"
                "</urlset>\n"
            ).encode()
        if path == "/maps/index.xml":
            return 200, "application/xml", (
                b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                b'sitemap/0.9"><sitemap><loc>sub.xml</loc></sitemap>'
                b"<sitemap><loc>javascript:void(0)</loc></sitemap></sitemapindex>"
            )
        if path == "/maps/sub.xml":
            return 200, "application/xml", _urlset(["/from-index.html"])
        if path == "/sitemap.xml":
            return 200, "application/xml", _urlset([f"{base}/from-default.html"])
        if path.split("?", 1)[0] in {"/" + p.split("?", 1)[0] for p in SITEMAP_ONLY}:
            return 200, "text/html", f"<html><body>{path}</body></html>".encode()
        return super().render(path, host)
