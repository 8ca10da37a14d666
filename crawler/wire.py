"""HTTP/1.1 on asyncio streams with h11, keeping the exact bytes that crossed the wire.

``WirePool.fetch`` sends one request and returns an ``Exchange``: the request bytes as sent, the
response bytes as received (status line, header case/order/repeats, chunked framing and
Content-Encoding untouched), the de-chunked body for parsing, the peer IP and, for HTTPS, the
peer certificate. Connections are kept alive per (scheme, host, port).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from archive.errors import BewaarError

READ_SIZE = 256 * 1024


class FetchError(BewaarError):
    """A fetch failed; the message says why in words a web team understands."""


@dataclass
class Exchange:
    url: str
    request: bytes
    response: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    ip: str | None
    started: float  # time.time() when the fetch began
    certificate_pem: str | None = None  # set on the first exchange of a new TLS connection
    http_version: bytes = b"1.1"


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection
    ip: str | None
    cert_pem: str | None
    used: int = 0

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken socket may fail
            self.writer.close()


@dataclass
class WirePool:
    """Keep-alive connections per origin; TLS without verification (an archive keeps what it sees)."""

    max_idle_per_origin: int = 16
    user_agent: str = "Bewaarplaats"
    _idle: dict[tuple[str, str, int], list[_Conn]] = field(default_factory=lambda: defaultdict(list))
    _ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        return self._ssl

    async def _connect(self, scheme: str, host: str, port: int, timeout: float) -> _Conn:
        try:
            async with asyncio.timeout(timeout):
                if scheme == "https":
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=self._ssl_context(), server_hostname=host,
                        limit=READ_SIZE,
                    )
                else:
                    reader, writer = await asyncio.open_connection(host, port, limit=READ_SIZE)
        except TimeoutError:
            raise FetchError(f"connect timeout after {timeout:g}s to {host}:{port}") from None
        except socket.gaierror as exc:
            raise FetchError(f"DNS lookup failed for {host}: {exc.strerror}") from None
        except ssl.SSLError as exc:
            raise FetchError(f"TLS handshake with {host}:{port} failed: {exc.reason}") from None
        except OSError as exc:
            # asyncio's strerror is "Connect call failed (…)"; the errno says why (refused…)
            why = os.strerror(exc.errno) if exc.errno else exc.strerror
            raise FetchError(
                f"cannot connect to {host}:{port}: {why or exc.__class__.__name__}"
            ) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = writer.get_extra_info("peername")
        ip = peer[0] if isinstance(peer, tuple) else None
        cert_pem = None
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            der = sslobj.getpeercert(binary_form=True)
            if der:
                cert_pem = ssl.DER_cert_to_PEM_cert(der)
        return _Conn(reader, writer, h11.Connection(h11.CLIENT), ip, cert_pem)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        timeout: float = 60.0,
        max_size: int = 500_000_000,
    ) -> Exchange:
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) URL: {url}")
        host = parts.hostname
        if not host:
            raise FetchError(f"URL without a host: {url}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"bad port in URL: {url}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        req_headers: list[tuple[bytes, bytes]] = [(b"Host", host_header.encode("idna"))]
        for name, value in headers or []:
            if name.lower() not in (b"host", b"connection", b"content-length"):
                req_headers.append((name, value))
        if body:
            req_headers.append((b"Content-Length", str(len(body)).encode()))
        key = (scheme, host, port)
        started = time.time()
        deadline = time.monotonic() + timeout
        # A reused connection may have been closed by the server: retry once on a fresh one.
        for attempt in (0, 1):
            idle = self._idle[key]
            conn = idle.pop() if idle and attempt == 0 else None
            fresh = conn is None
            if conn is None:
                conn = await self._connect(scheme, host, port, max(0.1, deadline - time.monotonic()))
            try:
                ex = await self._exchange(
                    conn, url, method, target.encode("ascii", "replace"), req_headers, body,
                    deadline, max_size, started,
                )
            except _StaleConnection:
                conn.close()
                if fresh:
                    raise FetchError(f"server closed the connection without answering: {url}") from None
                continue
            except BaseException:
                conn.close()
                raise
            if fresh and conn.cert_pem:
                ex.certificate_pem = conn.cert_pem
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                try:
                    conn.h11.start_next_cycle()
                    if len(self._idle[key]) < self.max_idle_per_origin:
                        self._idle[key].append(conn)
                    else:
                        conn.close()
                except h11.LocalProtocolError:
                    conn.close()
            else:
                conn.close()
            return ex
        raise FetchError(f"could not fetch {url}")  # pragma: no cover - loop always returns

    async def _exchange(
        self,
        conn: _Conn,
        url: str,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        deadline: float,
        max_size: int,
        started: float,
    ) -> Exchange:
        hc = conn.h11
        conn.used += 1
        sent = hc.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            sent += hc.send(h11.Data(data=body))
        sent += hc.send(h11.EndOfMessage())
        conn.writer.write(sent)
        received = bytearray()
        body_parts: list[bytes] = []
        body_len = 0
        response: h11.Response | None = None
        try:
            async with asyncio.timeout_at(_loop_deadline(deadline)):
                await conn.writer.drain()
                while True:
                    event = hc.next_event()
                    if event is h11.NEED_DATA:
                        data = await conn.reader.read(READ_SIZE)
                        if not data and not received and conn.used > 1:
                            raise _StaleConnection
                        received += data
                        if len(received) > max_size + 65536:
                            raise FetchError(
                                f"response larger than the limit of {max_size} bytes: {url}"
                            )
                        hc.receive_data(data)
                        continue
                    if isinstance(event, h11.InformationalResponse):
                        continue
                    if isinstance(event, h11.Response):
                        response = event
                        if method == "HEAD":
                            pass
                        continue
                    if isinstance(event, h11.Data):
                        body_parts.append(bytes(event.data))
                        body_len += len(event.data)
                        if body_len > max_size:
                            raise FetchError(
                                f"response larger than the limit of {max_size} bytes: {url}"
                            )
                        continue
                    if isinstance(event, h11.EndOfMessage):
                        break
                    if isinstance(event, h11.ConnectionClosed):
                        raise FetchError(f"connection closed before the response was complete: {url}")
        except TimeoutError:
            raise FetchError(f"timeout while fetching {url}") from None
        except h11.RemoteProtocolError as exc:
            if not received and conn.used > 1:
                raise _StaleConnection from None
            if not received:
                raise FetchError(f"server closed the connection without answering: {url}") from None
            if response is not None:
                raise FetchError(
                    f"connection closed mid-body after {body_len} body bytes ({exc}): {url}"
                ) from None
            head = bytes(received[:40])
            raise FetchError(f"not an HTTP response ({exc}; starts with {head!r}): {url}") from None
        except (ConnectionError, OSError) as exc:
            if not received and conn.used > 1:
                raise _StaleConnection from None
            raise FetchError(f"connection error while fetching {url}: {exc}") from None
        assert response is not None
        trailing, _closed = hc.trailing_data
        raw = bytes(received[: len(received) - len(trailing)]) if trailing else bytes(received)
        return Exchange(
            url=url,
            request=sent,
            response=raw,
            status=response.status_code,
            reason=bytes(response.reason),
            headers=list(response.headers.raw_items()),
            body=b"".join(body_parts),
            ip=conn.ip,
            started=started,
            http_version=bytes(response.http_version),
        )

    def close(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()


class _StaleConnection(Exception):
    """A kept-alive connection was closed by the server before it answered."""


def _loop_deadline(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())
