"""WARC writing throughput: Bewaarplaats' writer against plain warcio on the same records.

    .venv/bin/python bench/warc_write.py [--records 3000] [--level 6]

Both write request + response records, one gzip member per record, for the same raw exchanges
(HTML pages that compress like real pages, plus some incompressible images). Prints MB/s of
uncompressed record input, the output size, and the ratio ours / warcio.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.warc import WarcWriter

WORDS = ["rijksoverheid", "ministerie", "justitie", "veiligheid", "asiel", "migratie", "beleid", "nieuws", "besluit", "kamerbrief", "publicatie", "wet", "regeling", "archief", "document", "onderzoek", "rapport"]


def make_exchanges(n: int) -> list[tuple[str, bytes, bytes]]:
    rnd = random.Random(42)
    out = []
    for i in range(n):
        if i % 10 == 9:
            body = os.urandom(rnd.randint(20_000, 120_000))
            ctype = "image/jpeg"
        else:
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2000, 8000)))
            body = f"<!doctype html><html><body><p>{text}</p></body></html>".encode()
            ctype = "text/html; charset=utf-8"
        url = f"http://www.example.nl/pagina/{i}"
        req = f"GET /pagina/{i} HTTP/1.1\r\nHost: www.example.nl\r\nUser-Agent: bench\r\n\r\n".encode()
        resp = (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
                .encode() + body)
        out.append((url, req, resp))
    return out


def ours(exchanges: list[tuple[str, bytes, bytes]], d: Path, level: int) -> tuple[float, int]:
    t = time.perf_counter()
    with WarcWriter(d, prefix="BENCH", max_size=10**12, gzip_level=level, warcinfo={},
                    index_dir=d / "idx") as w:
        now = datetime.now(UTC)
        for url, req, resp in exchanges:
            w.write_exchange(url=url, request=req, response=resp, ip="127.0.0.1", date=now)
    elapsed = time.perf_counter() - t
    return elapsed, sum(c.size for c in w.closed_files)


def plain_warcio(exchanges: list[tuple[str, bytes, bytes]], d: Path) -> tuple[float, int]:
    path = d / "warcio.warc.gz"
    t = time.perf_counter()
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for url, req, resp in exchanges:
            head, _, body = resp.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
            http = StatusAndHeaders(lines[0].split(" ", 1)[1], headers, protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                            http_headers=http)
            rhead, _, _ = req.partition(b"\r\n\r\n")
            rlines = rhead.decode("latin-1").split("\r\n")
            rhttp = StatusAndHeaders(rlines[0], [tuple(x.split(": ", 1)) for x in rlines[1:]],
                                     is_http_request=True)
            reqrec = writer.create_warc_record(url, "request", payload=io.BytesIO(b""),
                                               http_headers=rhttp)
            writer.write_request_response_pair(reqrec, rec)
    return time.perf_counter() - t, path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--level", type=int, default=None, help="gzip level for ours (default: the setting)")
    args = ap.parse_args()
    from archive.settings import Settings

    level = args.level if args.level is not None else Settings.model_fields["warc_gzip_level"].default
    ex = make_exchanges(args.records)
    mb = sum(len(r) + len(q) for _, q, r in ex) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        t_w, s_w = plain_warcio(ex, Path(tmp))
        t_o, s_o = ours(ex, Path(tmp) / "ours", level)
    print(f"input: {args.records} exchanges, {mb:.1f} MB")
    print(f"plain warcio (gzip level 9): {mb / t_w:7.1f} MB/s  output {s_w / 1e6:.1f} MB")
    print(f"bewaar writer (level {level}):    {mb / t_o:7.1f} MB/s  output {s_o / 1e6:.1f} MB "
          "(with CDXJ index)")
    print(f"ratio ours/warcio: {t_w / t_o:.2f}x throughput, {s_o / s_w:.2f}x size")


if __name__ == "__main__":
    main()
