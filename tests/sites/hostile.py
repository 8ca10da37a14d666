"""A raw-socket HTTP server that misbehaves like real servers do.

Every response is written byte for byte by hand, so tests can compare the WARC with exactly what
was sent (``HostileSite.sent[path]``). Paths:
  /                 links to everything below
  /chunked          chunked framing with odd chunk sizes and a chunk extension, gzip-encoded
  /gzip             Content-Encoding: gzip with Content-Length
  /headers          lower-case and repeated headers, an odd reason phrase
  /teapot           "HTTP/1.1 418 Ik Ben Een Theepot" with a body
  /redirect/N       302 chain down to /redirect/0 (200)
  /calendar?m=N     links to m=N+1 and m=N-1 forever (query trap)
  /loop/…           links to loop/ one level deeper forever (path trap)
  /cp1252           a windows-1252 page (charset in the header) with a link to /caf%E9
  /large.bin        a 3 MB binary;  /huge.bin  a 6 MB binary (over a 4 MB limit)
  /midbody          Content-Length 10000, closes after 100 bytes
  /garbage          bytes that are not HTTP, then close
  /retry            503 with Retry-After: 1 the first time, 200 after
  /silent           accepts and closes without a word
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
from urllib.parse import parse_qs, urlsplit

LINKS = ["/chunked", "/gzip", "/headers", "/teapot", "/redirect/3", "/calendar?m=0",
         "/loop/", "/cp1252", "/large.bin", "/huge.bin", "/midbody", "/garbage", "/retry",
         "/silent"]


def _blob(size: int) -> bytes:
    out = bytearray()
    seed = b"hostile"
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed * 64
    return bytes(out[:size])


class HostileSite:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.sent: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.large = _blob(3_000_000)
        self.huge = _blob(6_000_000)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> HostileSite:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self._sock.close()

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
                keep = self._answer(conn, target)
                if not keep:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _send(self, conn: socket.socket, target: str, data: bytes) -> None:
        with self._lock:
            self.sent[target] = data
        conn.sendall(data)

    def _answer(self, conn: socket.socket, target: str) -> bool:  # noqa: C901 - a list of cases
        with self._lock:
            self.hits[target] = self.hits.get(target, 0) + 1
            hits = self.hits[target]
        path = urlsplit(target).path
        if path == "/":
            links = "".join(f'<a href="{u}">{u}</a> ' for u in LINKS)
            body = f"<html><body>{links}</body></html>".encode()
            self._send(conn, target, _plain(200, "OK", "text/html", body))
        elif path == "/robots.txt":
            self._send(conn, target, _plain(404, "Not Found", "text/plain", b"none"))
        elif path == "/chunked":
            html = b"<html><body><p>" + b"chunked content " * 300 + b"</p></body></html>"
            gz = gzip.compress(html, mtime=0)
            half = len(gz) // 2
            parts = [gz[:7], gz[7:half], gz[half:]]
            framed = b"".join(f"{len(p):x}".encode() + (b";ext=1" if i == 1 else b"") + b"\r\n"
                              + p + b"\r\n" for i, p in enumerate(parts)) + b"0\r\n\r\n"
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                    b"Transfer-Encoding: chunked\r\nX-Case: Mixed\r\n\r\n")
            self._send(conn, target, head + framed)
        elif path == "/gzip":
            gz = gzip.compress(b"<html><body>gzipped page</body></html>", mtime=0)
            self._send(conn, target, b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n"
                       b"content-encoding: gzip\r\ncontent-length: "
                       + str(len(gz)).encode() + b"\r\n\r\n" + gz)
        elif path == "/headers":
            body = b"<html><body>headers</body></html>"
            self._send(conn, target,
                       b"HTTP/1.1 200 Prima Zo\r\ncontent-type: text/html\r\nX-Dup: one\r\n"
                       b"Set-Cookie: a=1\r\nx-dup: two\r\nSet-Cookie: b=2\r\nCONTENT-LENGTH: "
                       + str(len(body)).encode() + b"\r\n\r\n" + body)
        elif path == "/teapot":
            self._send(conn, target, _plain(418, "Ik Ben Een Theepot", "text/plain", b"thee"))
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1] or 0)
            if n > 0:
                self._send(conn, target, b"HTTP/1.1 302 Found\r\nLocation: /redirect/"
                           + str(n - 1).encode() + b"\r\nContent-Length: 0\r\n\r\n")
            else:
                self._send(conn, target, _plain(200, "OK", "text/html", b"<html>end</html>"))
        elif path == "/calendar":
            m = int(parse_qs(urlsplit(target).query).get("m", ["0"])[0])
            body = (f'<html><body><a href="/calendar?m={m + 1}">next</a>'
                    f'<a href="/calendar?m={m - 1}">prev</a></body></html>').encode()
            self._send(conn, target, _plain(200, "OK", "text/html", body))
        elif path.startswith("/loop/"):
            self._send(conn, target, _plain(200, "OK", "text/html",
                                            b'<html><a href="loop/">deeper</a></html>'))
        elif path == "/cp1252":
            body = ("<html><head><title>Caf\u00e9 \u20ac</title></head><body>"
                    "<p>prijs \u20ac 5 \u2013 \u201cgoed\u201d</p><a href='/caf\u00e9'>café</a>"
                    "</body></html>").encode("cp1252")
            self._send(conn, target, _plain(200, "OK", "text/html; charset=windows-1252", body))
        elif path == "/large.bin":
            self._send(conn, target, _plain(200, "OK", "application/octet-stream", self.large))
        elif path == "/huge.bin":
            self._send(conn, target, _plain(200, "OK", "application/octet-stream", self.huge))
        elif path == "/midbody":
            self._send(conn, target, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                       b"Content-Length: 10000\r\n\r\n" + b"x" * 100)
            return False
        elif path == "/garbage":
            self._send(conn, target, b"\x00\x01\x02GARBAGE\xff\xfe not http at all\r\n\r\n")
            return False
        elif path == "/retry":
            if hits == 1:
                self._send(conn, target, b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                           b"Content-Length: 4\r\n\r\nbusy")
            else:
                self._send(conn, target, _plain(200, "OK", "text/html", b"<html>ok now</html>"))
        elif path == "/silent":
            return False
        else:
            self._send(conn, target, _plain(404, "Not Found", "text/plain", b"nope"))
        return True


def _plain(status: int, reason: str, ctype: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
