"""The WARC writer on its own: standards, digests, rotation, index, dedup and crash repair."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import h11
import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import RevisitOf, WarcWriter
from archive.warc.repair import repair_open_files

NAME = re.compile(r"^TEST-\d{17}-\d{5}-[A-Za-z0-9.-]+\.warc\.gz$")
REQ = b"GET /a HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n"
PLAIN = b"HTTP/1.1 200 Fine Thanks\r\ncontent-type: text/html\r\nX-Dup: 1\r\nX-Dup: 2\r\nContent-Length: 11\r\n\r\nhello world"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
)


def h11_entity(raw: bytes) -> bytes:
    """De-chunk with h11, an independent HTTP parser."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    body = b""
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Data):
            body += ev.data
        elif ev is h11.NEED_DATA or isinstance(ev, h11.EndOfMessage):
            return body


def sha256_b32(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def records(path: Path) -> list:  # type: ignore[type-arg]
    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, no_record_parse=True):
            out.append((rec.rec_type, dict(rec.rec_headers.headers), rec.raw_stream.read()))
    return out


def writer(tmp_path: Path, **kw) -> WarcWriter:  # type: ignore[no-untyped-def]
    return WarcWriter(tmp_path / "warcs", prefix="TEST", max_size=kw.pop("max_size", 10**9),
                      warcinfo={"operator": "test", "robots": "obey", "isPartOf": "site"},
                      index_dir=tmp_path / "idx", **kw)


def test_exchange_records_are_complete_and_wire_exact(tmp_path: Path) -> None:
    date = datetime(2026, 11, 28, 12, 0, 0, 123000, tzinfo=UTC)
    with writer(tmp_path) as w:
        plain = w.write_exchange(url="http://example.test/a", request=REQ, response=PLAIN,
                                 ip="127.0.0.1", date=date)
        chunked = w.write_exchange(url="http://example.test/c", request=REQ, response=CHUNKED,
                                   ip="127.0.0.1", date=date)
    [path] = w.closed_files
    assert NAME.match(path.path.name) and not list((tmp_path / "warcs").glob("*.open"))
    assert path.sha256 == hashlib.sha256(path.path.read_bytes()).hexdigest()
    assert path.sha512 == hashlib.sha512(path.path.read_bytes()).hexdigest()
    recs = records(path.path)
    assert [r[0] for r in recs] == ["warcinfo", "request", "response", "request", "response"]
    info = recs[0][2].decode()
    assert "software: Bewaarplaats/" in info and "format: WARC File Format 1.1" in info
    assert "robots: obey" in info
    warcinfo_id = recs[0][1]["WARC-Record-ID"]
    for _, headers, _ in recs[1:]:
        assert headers["WARC-Warcinfo-ID"] == warcinfo_id
        assert headers["WARC-Date"] == "2026-11-28T12:00:00.123000Z"
        assert headers["WARC-IP-Address"] == "127.0.0.1"
        assert headers["Content-Type"].startswith("application/http")
        assert "WARC-Block-Digest" in headers
    req, resp = recs[1][1], recs[2][1]
    assert req["WARC-Concurrent-To"] == resp["WARC-Record-ID"]
    assert resp["WARC-Concurrent-To"] == req["WARC-Record-ID"]
    assert recs[1][2] == REQ and recs[2][2] == PLAIN and recs[4][2] == CHUNKED  # byte for byte
    # the payload digest is over the de-chunked entity, as WARC 1.1 says (h11 as the oracle)
    assert recs[4][1]["WARC-Payload-Digest"] == sha256_b32(h11_entity(CHUNKED)) == chunked.payload_digest
    assert recs[2][1]["WARC-Payload-Digest"] == sha256_b32(b"hello world") == plain.payload_digest
    assert plain.status == 200 and plain.mime == "text/html"
    # warcio's checker agrees on the non-chunked records (it digests chunked bytes: warcio issue 74)
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path.path)],
                           capture_output=True, text=True)
    out = check.stdout.strip().splitlines()
    assert sum("fail" in line for line in out) == 1, check.stdout
    assert out[-2].endswith(" response") and "payload digest failed" in out[-1]  # the chunked one


def test_cdxj_is_sorted_and_points_at_records(tmp_path: Path) -> None:
    date = datetime.now(UTC)
    with writer(tmp_path) as w:
        for i in (3, 1, 2):
            w.write_exchange(url=f"http://example.test/p{i}", request=REQ, response=PLAIN,
                             ip=None, date=date)
    closed = w.closed_files[0]
    assert closed.cdxj_path is not None
    lines = closed.cdxj_path.read_text().splitlines()
    assert lines == sorted(lines) and len(lines) == 3
    assert lines[0].startswith("test,example)/p1 ")
    data = closed.path.read_bytes()
    import json
    for line in lines:
        f = json.loads(line.split(" ", 2)[2])
        member = data[int(f["offset"]): int(f["offset"]) + int(f["length"])]
        rec = next(iter(ArchiveIterator(__import__("io").BytesIO(member))))
        assert rec.rec_headers.get_header("WARC-Target-URI") == f["url"]


def test_rotation_at_the_size_limit(tmp_path: Path) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + os.urandom(200000)
    with writer(tmp_path, max_size=1_000_000, gzip_level=1) as w:
        for i in range(12):
            w.write_exchange(url=f"http://e.test/{i}", request=REQ,
                             response=big[:-8] + str(i).zfill(8).encode(), ip=None,
                             date=datetime.now(UTC))
    assert len(w.closed_files) >= 2
    serials = [int(c.path.name.split("-")[2]) for c in w.closed_files]
    assert serials == list(range(1, len(serials) + 1))
    for c in w.closed_files:
        assert records(c.path)[0][0] == "warcinfo"  # every file starts with its warcinfo


def test_revisit_record_for_a_known_payload(tmp_path: Path) -> None:
    seen: dict[str, RevisitOf] = {}

    def dedup(digest: str, url: str) -> RevisitOf | None:
        return seen.get(digest)

    with writer(tmp_path, dedup=dedup) as w:
        first = w.write_exchange(url="http://e.test/a", request=REQ, response=PLAIN, ip=None,
                                 date=datetime.now(UTC))
        seen[first.payload_digest or ""] = RevisitOf("http://e.test/a", first.warc_date,
                                                      first.record_id, first.payload_digest or "")
        second = w.write_exchange(url="http://e.test/b", request=REQ, response=PLAIN, ip=None,
                                  date=datetime.now(UTC))
    assert second.record_type == "revisit"
    rec = records(w.closed_files[0].path)[4]
    assert rec[0] == "revisit"
    h = rec[1]
    assert h["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert h["WARC-Refers-To"] == first.record_id
    assert h["WARC-Refers-To-Target-URI"] == "http://e.test/a"
    assert h["WARC-Refers-To-Date"] == first.warc_date
    assert rec[2] == PLAIN[: PLAIN.index(b"\r\n\r\n") + 4]  # headers only


@pytest.mark.parametrize("cut", [1, 37, -1])
def test_crash_leaves_a_repairable_open_file(tmp_path: Path, cut: int) -> None:
    w = writer(tmp_path)
    for i in range(5):
        last = w.write_exchange(url=f"http://e.test/{i}", request=REQ, response=PLAIN, ip=None,
                         date=datetime.now(UTC))
    open_path = w.current_path
    assert open_path is not None and open_path.name.endswith(".warc.gz.open")
    w._index.flush()  # type: ignore[union-attr]  # what the OS would have after a kill -9
    size = open_path.stat().st_size
    cut = last.length - 1 if cut == -1 else cut  # all but the first byte of the last record
    with open(open_path, "r+b") as fh:  # a crash in the middle of the last record
        fh.truncate(size - cut)
    w._fh.close()  # type: ignore[union-attr]  # the dead process's files
    w._index.close()  # type: ignore[union-attr]
    [res] = repair_open_files(tmp_path / "warcs", tmp_path / "idx")
    assert res.status == "repaired" and res.path.name.endswith(".warc.gz")
    assert res.records == 10  # warcinfo + 4 whole pairs + the last request; the cut response dropped
    recs = records(res.path)
    assert len(recs) == 10
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(res.path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert res.cdxj_path is not None and len(res.cdxj_path.read_text().splitlines()) == 4


def test_nothing_whole_is_set_aside(tmp_path: Path) -> None:
    d = tmp_path / "warcs"
    d.mkdir()
    (d / "X-1.warc.gz.open").write_bytes(b"\x1f\x8b\x08garbage")
    [res] = repair_open_files(d)
    assert res.status == "set-aside" and res.path.name == "X-1.warc.gz.damaged"
    assert not list(d.glob("*.warc.gz"))
