"""Servers misbehave: the WARC still holds exactly what they sent, and the crawl carries on."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sites import HostileSite, NormalSite
from tests.sites.warc_read import RawRecord, dechunk, raw_records, spec_payload_digest

WARCIO = str(Path(sys.executable).with_name("warcio"))


def all_records(paths: list[str]) -> list[RawRecord]:
    return [r for p in paths for r in raw_records(Path(p))]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One crawl of the hostile site with a 4 MB size limit and a small query-variant cap."""
    import json
    import os

    from tests.conftest import BEWAAR, ROOT

    home = tmp_path_factory.mktemp("hostile") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_")}
    env.update(BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT), BEWAAR_MAX_RESPONSE_SIZE="4000000",
               BEWAAR_MAX_QUERY_VARIANTS="5", BEWAAR_ENRICH_AFTER_ARCHIVING="false")
    with HostileSite() as site:
        proc = subprocess.run([*BEWAAR, "crawl", site.url, "--json"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        yield site, out, all_records(out["warc_files"]), home


def responses(recs: list[RawRecord], path: str, port: int) -> list[RawRecord]:
    url = f"http://127.0.0.1:{port}{path}"
    return [r for r in recs if r.type in ("response", "revisit") and r.uri == url]


def test_responses_are_wire_exact(crawled: Any) -> None:
    site, out, recs, _ = crawled
    for path in ("/chunked", "/gzip", "/headers", "/teapot", "/cp1252", "/large.bin", "/"):
        got = responses(recs, path, site.port)
        assert len(got) == 1, path
        assert got[0].block == site.sent[path], path  # byte for byte what the server sent
    headers = responses(recs, "/headers", site.port)[0].block
    assert headers.startswith(b"HTTP/1.1 200 Prima Zo\r\ncontent-type: text/html\r\nX-Dup: one\r\n")
    assert b"x-dup: two\r\nSet-Cookie: b=2\r\nCONTENT-LENGTH:" in headers
    teapot = responses(recs, "/teapot", site.port)[0]
    assert teapot.block.startswith(b"HTTP/1.1 418 Ik Ben Een Theepot\r\n")


def test_chunked_payload_digest_follows_the_spec(crawled: Any) -> None:
    """WARC 1.1: the payload digest is over the body without chunked framing, still gzip-encoded.

    warcio's check digests the chunked bytes instead (warcio issue 74; Heritrix follows the spec
    since PR 770), so warcio reports this one record as a payload mismatch and we check it here
    with our own de-chunking.
    """
    site, out, recs, _ = crawled
    rec = responses(recs, "/chunked", site.port)[0]
    body = rec.block.partition(b"\r\n\r\n")[2]
    entity = dechunk(body)
    assert entity[:2] == b"\x1f\x8b"  # Content-Encoding kept
    assert b"chunked content" in zlib.decompress(entity, wbits=31)
    assert rec.headers["WARC-Payload-Digest"] == spec_payload_digest(rec.block)
    check = subprocess.run([WARCIO, "check", "-v", *out["warc_files"]],
                           capture_output=True, text=True)
    lines = check.stdout.splitlines()
    failing = [i for i, line in enumerate(lines) if "payload digest failed" in line]
    assert len(failing) <= 1  # only the chunked record, nothing else
    assert all(f"offset {rec.offset} " in "\n".join(lines[max(0, i - 3): i]) for i in failing)


def test_every_hostile_case_is_reported_and_the_crawl_goes_on(crawled: Any) -> None:
    site, out, recs, _ = crawled
    assert out["status"] == "finished"
    failed = {f["url"].rsplit("/", 1)[1]: f["error"] for f in out["failed"]}
    assert "closed mid-body" in failed["midbody"]
    assert "not an HTTP response" in failed["garbage"]
    assert "without answering" in failed["silent"]
    assert "larger than the limit of 4000000 bytes" in failed["huge.bin"]
    # a redirect chain: every hop a request/response pair
    hops = [responses(recs, f"/redirect/{n}", site.port) for n in (3, 2, 1, 0)]
    assert [h[0].block.split(b" ", 2)[1] for h in hops] == [b"302", b"302", b"302", b"200"]
    # 503 with Retry-After, then the retry succeeded; both are in the WARC
    retry = responses(recs, "/retry", site.port)
    assert [r.block.split(b" ", 2)[1] for r in retry] == [b"503", b"200"]
    # the windows-1252 page was decoded: its link (UTF-8 path, as browsers send it) was followed
    assert responses(recs, "/caf%C3%A9", site.port)
    # traps are cut off, and the reason kept
    assert out["skipped_by_reason"].get("query-variants", 0) >= 1
    assert out["skipped_by_reason"].get("path-repeat", 0) >= 1
    calendars = [r for r in recs if r.type == "response" and "/calendar?" in r.uri]
    assert len(calendars) <= 5
    report = Path(out["report"]).read_text()
    assert "closed mid-body" in report and "huge.bin" in report


@pytest.fixture
def tls_site(tmp_path: Path) -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    site = NormalSite(pages=3, rich=False)
    site._server.socket = ctx.wrap_socket(site._server.socket, server_side=True)
    with site:
        yield site, cert_pem


def test_https_with_the_peer_certificate(home: Path, tls_site: Any) -> None:
    from archive.settings import load_settings
    from crawler import run_crawl

    site, cert_pem = tls_site
    url = f"https://127.0.0.1:{site.port}/"
    result = run_crawl(load_settings(), urls=[url])
    assert result.status == "finished" and result.pages >= 4
    recs = all_records([str(p) for p in result.warc_files])
    home_resp = [r for r in recs if r.type == "response" and r.uri == url]
    assert home_resp and home_resp[0].block.startswith(b"HTTP/1.1 200 ")
    meta = [r for r in recs if r.type == "metadata"]
    assert meta and meta[0].block == cert_pem
    assert meta[0].headers["Content-Type"] == "application/x-pem-file"
