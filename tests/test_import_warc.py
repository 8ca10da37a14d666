"""Archives made elsewhere: a WARC made by wget and a WACZ made by `bewaar export wacz` are
imported as runs of a site, kept bit for bit, replay in a real pywb and are sealed; a later
crawl of the site writes revisit records against the imported payloads; bad files are refused
one by one with a clear message, and nothing of them stays behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import bagit
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import Bewaar
from tests.sites import NormalSite
from tests.wayback import crawl, quiet_env
from tests.wayback import wayback as wayback  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")


def _wget(site: NormalSite, into: Path) -> Path:
    """What a web team hands over: `wget --warc-file` of the site."""
    subprocess.run(["wget", "-q", "-r", "-l", "2", "-p", "--warc-file", str(into / "wget-site"),
                    "--no-warc-keep-log", "-P", str(into / "download"), site.url],
                   timeout=120, check=False)  # wget exits 8 for a 404 it met: that is fine
    warc = into / "wget-site.warc.gz"
    assert warc.stat().st_size > 0
    return warc


def _records(path: Path) -> list[Any]:
    with open(path, "rb") as fh:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                 r.rec_headers.get_header("WARC-Date"),
                 r.rec_headers.get_header("WARC-Refers-To-Target-URI"),
                 r.rec_headers.get_header("WARC-Refers-To-Date"),
                 r.rec_headers.get_header("WARC-Profile"))
                for r in ArchiveIterator(fh)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _replay(server: Any, coll: str, url: str) -> bytes:
    with urllib.request.urlopen(f"{server.url}/{coll}/2030id_/{url}", timeout=30) as resp:
        return bytes(resp.read())


def _live(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return bytes(resp.read())


def _settings(bewaar: Bewaar) -> Any:
    from archive.settings import load_settings

    return load_settings(home=bewaar.home)


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_a_wget_warc_is_imported_replayed_sealed_and_deduplicated_against(
        bewaar: Bewaar, wayback: Any, tmp_path: Path) -> None:
    with NormalSite(pages=6) as site:
        warc = _wget(site, tmp_path)
        source_sha = _sha256(warc)
        bewaar("site", "add", "team", "--seed", site.url)

        out = bewaar("import", "warc", str(warc), "--site", "team", "--json")
        [imported] = out.json()
        assert imported["error"] is None and imported["problems"] == []
        assert imported["software"] == ["Wget/1.21.3 (linux-gnu)"] or \
            imported["software"][0].startswith("Wget/")
        by_type = Counter(r[0] for r in _records(warc))  # counted by warcio, independently
        assert imported["records"]["by_type"] == dict(by_type)
        assert imported["records"]["total"] == sum(by_type.values())

        # Kept bit for bit in the site's WARC storage, under its own name.
        kept = bewaar.home / "warcs" / "team" / str(imported["run_id"]) / "wget-site.warc.gz"
        assert _sha256(kept) == source_sha

        # Replays in a real pywb: the page as the site serves it.
        server = wayback(_settings(bewaar))
        page = f"{site.url}p/1.html"
        assert _replay(server, "team", page) == _live(page)

        # Sealed, with its provenance.
        package = Path(imported["after"]["seal"]["path"])
        bag = bagit.Bag(str(package / "bag"))
        bag.validate()
        assert bag.info["Bewaar-Import-Software"].startswith("Wget/")
        assert bag.info["Bewaar-Import-Sources"] == "wget-site.warc.gz"
        assert (package / "bag" / "data" / "warcs" / "wget-site.warc.gz").read_bytes() == \
            warc.read_bytes()
        report = json.loads((package / "bag" / "data" / "run" / "import.json").read_text())
        assert report["files"][0]["sha256"] == source_sha
        assert report["files"][0]["software"].startswith("Wget/")
        with open(warc, "rb") as fh:  # the HTML pages wget saved, as warcio reads them
            html = sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response"
                       and r.http_headers.get_statuscode() == "200"
                       and "html" in (r.http_headers.get_header("Content-Type") or ""))
        assert imported["after"]["qa"]["pages"] == html >= 3  # the replay check ran on them
        assert bewaar("verify", str(package)).returncode == 0

        # A later crawl of the site writes revisits against the payloads wget stored.
        wget_captures = {(r[1].strip("<>"), r[2]) for r in _records(warc) if r[0] == "response"}
        again = bewaar("crawl", "--site", "team", "--json", env=quiet_env()).json()
        assert again["status"] == "finished"
        revisits = [r for f in again["warc_files"] for r in _records(Path(f))
                    if r[0] == "revisit"]
        assert revisits, "the crawl wrote no revisit records"
        against_wget = [r for r in revisits if (r[3], r[4]) in wget_captures]
        assert len(against_wget) >= html
        assert all(r[5].endswith("identical-payload-digest") for r in against_wget)
        # ... and pywb replays a page of that crawl from the imported payload.
        server2 = wayback(_settings(bewaar))
        assert _replay(server2, "team", page) == _live(page)


def test_a_wacz_exported_from_one_site_is_imported_into_another(
        bewaar: Bewaar, wayback: Any, tmp_path: Path) -> None:
    bewaar.env.update(quiet_env())
    with NormalSite(pages=5) as site:
        crawled = crawl(bewaar, site.url, name="origin")
        wacz = tmp_path / "origin.wacz"
        bewaar("export", "wacz", str(crawled["run_id"]), "-o", str(wacz))
        bewaar("site", "add", "copy", "--seed", site.url)
        bewaar.env.update({"BEWAAR_QA_AFTER_CRAWL": "true", "BEWAAR_SEAL_AFTER_CRAWL": "true"})

        [imported] = bewaar("import", "wacz", str(wacz), "--site", "copy", "--json").json()
        assert imported["error"] is None and imported["problems"] == []
        assert imported["package"] is not None
        assert imported["after"]["qa"]["passed"] is True
        with zipfile.ZipFile(wacz) as zf:
            members = [n for n in zf.namelist() if n.startswith("archive/")]
            with zf.open(members[0]) as fh:
                responses = sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response")
        assert imported["records"]["by_type"]["response"] == responses
        # The same file name is the origin site's already: kept under a name of its own.
        run_dir = bewaar.home / "warcs" / "copy" / str(imported["run_id"])
        [kept] = _files_under(run_dir)
        assert kept.name != Path(members[0]).name and kept.name.endswith(".warc.gz")
        with zipfile.ZipFile(wacz) as zf:
            assert kept.read_bytes() == zf.read(members[0])

        server = wayback(_settings(bewaar))
        page = f"{site.url}p/2.html"
        assert _replay(server, "copy", page) == _live(page)

        # Importing the same WACZ into the same site again is refused: exit 2.
        again = bewaar("import", "wacz", str(wacz), "--site", "copy", check=False)
        assert again.returncode == 2
        assert "already" in again.stderr


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    notwarc = tmp_path / "notes.warc"
    notwarc.write_text("This is a meeting note, not a web archive.\n")
    data = good.read_bytes()
    cut = tmp_path / "cut.warc.gz"  # cut inside a record's gzip member, not between two
    with open(good, "rb") as fh:
        it = ArchiveIterator(fh)
        starts = [it.get_record_offset() for _record in it]
    cut.write_bytes(data[: starts[len(starts) // 2] + 40])
    nodp = tmp_path / "no-datapackage.wacz"
    with zipfile.ZipFile(nodp, "w") as zf:
        zf.writestr("archive/data.warc.gz", data)
    escape = tmp_path / "escape.wacz"
    with zipfile.ZipFile(escape, "w") as zf:
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
        zf.writestr("../x", b"outside")
    altered = tmp_path / "altered.wacz"  # its WARC is not the one datapackage.json vouches for
    with zipfile.ZipFile(altered, "w") as zf:
        zf.writestr("archive/data.warc.gz", data)
        zf.writestr("datapackage.json", json.dumps({"resources": [{
            "path": "archive/data.warc.gz", "bytes": len(data),
            "hash": "sha256:" + hashlib.sha256(data + b"x").hexdigest()}]}))
    bomb = tmp_path / "bomb.wacz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
        with zf.open("archive/huge.warc", "w") as fh:
            for _ in range(16):
                fh.write(bytes(1 << 20))  # 16 MiB of zeros in a few KiB
    return {"notwarc": notwarc, "cut": cut, "nodp": nodp, "escape": escape, "bomb": bomb,
            "altered": altered}


def _a_warc(tmp_path: Path) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "small.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(40):
            body = f"<html><body>page {i} {'x' * 400}</body></html>".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(
                f"http://example.test/{i}.html", "response", payload=io.BytesIO(body),
                http_headers=http)
            writer.write_record(record)
            record.raw_stream.close()
    return path


def test_bad_files_are_refused_one_by_one_and_nothing_stays_behind(
        bewaar: Bewaar, tmp_path: Path) -> None:
    bewaar.env.update(quiet_env())
    good = _a_warc(tmp_path)
    bad = _bad_files(tmp_path, good)
    bewaar("site", "add", "team", "--seed", "http://example.test/")

    warcs = bewaar("import", "warc", str(bad["notwarc"]), str(bad["cut"]), "--site", "team",
                   check=False)
    assert warcs.returncode == 2
    assert "notes.warc: not a WARC file" in warcs.stderr
    assert "cut.warc.gz:" in warcs.stderr and "cut off" in warcs.stderr
    waczs = bewaar("import", "wacz", *(str(bad[k]) for k in ("nodp", "escape", "bomb",
                                                             "altered")),
                   "--site", "team", check=False)
    assert waczs.returncode == 2
    assert "no-datapackage.wacz: no datapackage.json" in waczs.stderr
    assert "escape.wacz:" in waczs.stderr and "'../x'" in waczs.stderr
    assert "bomb.wacz: member 'archive/huge.warc' unpacks to" in waczs.stderr
    assert "altered.wacz: archive/data.warc.gz: its sha256 differs" in waczs.stderr
    assert _files_under(bewaar.home / "warcs") == []
    assert _files_under(bewaar.home / "indexes") == []
    assert bewaar("runs", "--json").json() == []
    assert not (tmp_path.parent / "x").exists()

    # A good file among bad ones is imported; the bad ones are reported: exit 1.
    mixed = bewaar("import", "warc", str(bad["cut"]), str(good), "--site", "team", "--json",
                   check=False)
    assert mixed.returncode == 1
    cut, ok = mixed.json()
    assert cut["run_id"] is None and "cut off" in cut["error"]
    assert ok["run_id"] is not None and ok["records"]["by_type"]["response"] == 40
    assert [p.name for p in _files_under(bewaar.home / "warcs")] == ["small.warc.gz"]
    audit = bewaar("audit", "--json").json()
    rows = [(e["action"], e["outcome"]) for e in audit if e["action"].startswith("import.")]
    assert ("import.warc", "failed") in rows and ("import.warc", "ok") in rows


def test_a_tampered_warc_is_imported_with_its_damage_reported(bewaar: Bewaar,
                                                               tmp_path: Path) -> None:
    bewaar.env.update(quiet_env())
    good = _a_warc(tmp_path)
    raw = gzip.decompress(good.read_bytes())
    damaged = raw.replace(b"page 7 ", b"PAGE 7 ", 1)  # same length: only the digests tell
    path = tmp_path / "damaged.warc"
    path.write_bytes(damaged)
    bewaar("site", "add", "team", "--seed", "http://example.test/")

    out = bewaar("import", "warc", str(path), "--site", "team", "--json", check=False)
    assert out.returncode == 1
    [imported] = out.json()
    kinds = sorted(p["kind"] for p in imported["problems"])
    assert kinds == ["block-digest", "payload-digest"]
    assert imported["records"]["by_type"]["response"] == 40


def _chunked_record(url: str, entity: bytes, digest_over: bytes) -> bytes:
    import base64
    import uuid

    def sha1(data: bytes) -> str:
        return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()

    block = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
             + f"{len(entity):x}".encode() + b"\r\n" + entity + b"\r\n0\r\n\r\n")
    if digest_over == b"chunked":
        digest_over = block[block.index(b"\r\n\r\n") + 4:]
    head = (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"WARC-Date: 2026-01-05T10:00:00Z\r\nWARC-Target-URI: {url}\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"WARC-Block-Digest: {sha1(block)}\r\nWARC-Payload-Digest: {sha1(digest_over)}\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode()
    return head + block + b"\r\n\r\n"


def test_warcios_disagreement_on_chunked_payload_digests_is_stated_not_hidden(
        bewaar: Bewaar, tmp_path: Path) -> None:
    bewaar.env.update(quiet_env())
    entity = b"<html><body>sent in chunks</body></html>"
    path = tmp_path / "chunked.warc"
    path.write_bytes(_chunked_record("http://example.test/spec.html", entity, entity)
                     + _chunked_record("http://example.test/raw.html", entity, b"chunked"))
    # warcio's own check fails the record whose digest follows WARC 1.1 (warcio issue 74).
    warcio = Path(sys.executable).parent / "warcio"
    warcio_check = subprocess.run([str(warcio), "check", "-v", str(path)], capture_output=True,
                                  text=True, timeout=60, check=False)
    assert warcio_check.returncode != 0 and "payload digest failed" in warcio_check.stdout
    bewaar("site", "add", "team", "--seed", "http://example.test/")

    out = bewaar("import", "warc", str(path), "--site", "team", "--json")
    [imported] = out.json()
    assert imported["problems"] == []
    kinds = sorted(n["kind"] for n in imported["notes"])
    assert kinds == ["chunked-digest", "warcio-chunked-digest"]
    spec = next(n for n in imported["notes"] if n["kind"] == "warcio-chunked-digest")
    assert "warcio issue 74" in spec["message"] and "WARC 1.1" in spec["message"]
