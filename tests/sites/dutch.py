"""A small Dutch ministry site for the search tests: news pages, a page with diacritics, a
private note (to exclude from replay) and a PDF report, served on 127.0.0.1, port 0."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def pdf(text: str) -> bytes:
    """A one-page PDF (Helvetica) that says ``text`` (ASCII), written by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html lang='nl'><head><meta charset='utf-8'><title>{title}</title>"
            f"<script>var verborgen = 'scriptwoord';</script></head><body><h1>{title}</h1>"
            f"{body}</body></html>").encode()


PAGES: dict[str, tuple[str, bytes]] = {
    "/": ("text/html; charset=utf-8", _page("Ministerie van Proefzaken", (
        "<p>Welkom bij het ministerie.</p><ul>"
        "<li><a href='/nieuws/vergaderingen.html'>Vergaderingen</a></li>"
        "<li><a href='/nieuws/ideeen.html'>Ideeën</a></li>"
        "<li><a href='/prive/notitie.html'>Notitie</a></li>"
        "<li><a href='/stukken/rapport.pdf'>Rapport</a></li></ul>"))),
    "/nieuws/vergaderingen.html": ("text/html; charset=utf-8", _page(
        "Vergaderingen van de stuurgroep",
        "<p>De stuurgroep bespreekt in twee vergaderingen de begroting voor "
        "waterstaat en klimaat.</p><p>De notulen volgen later.</p>")),
    "/nieuws/ideeen.html": ("text/html; charset=utf-8", _page(
        "Nieuwe ideeën",
        "<p>Burgers stuurden ideeën over de energietransitie en de vergunningverlening.</p>")),
    "/prive/notitie.html": ("text/html; charset=utf-8", _page(
        "Interne notitie", "<p>Over de zeppelinhaven wordt nog niets gezegd.</p>")),
    "/stukken/rapport.pdf": ("application/pdf", pdf(
        "Rapport over de dijkversterking van de Lekdijk")),
}


class _Handler(BaseHTTPRequestHandler):
    server: DutchSite.Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        found = PAGES.get(self.path.split("?")[0])
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype, body = found
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DutchSite:
    class Server(ThreadingHTTPServer):
        daemon_threads = True

    def __enter__(self) -> DutchSite:
        self.httpd = self.Server(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"
