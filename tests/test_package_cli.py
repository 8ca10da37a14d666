"""`bewaar keys|seal|verify|package|selectielijst` as an operator and an auditor use them."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError, SettingsError
from archive.models import CrawlRun, Site, WarcFile
from archive.package import (
    AlreadySealedError,
    NotAPackageError,
    PackageInput,
    build_package,
    seal_run,
    verify_package,
)
from archive.package.organisation import FICTITIOUS_ORGANISATION
from archive.package.selectielijst import SelectielijstError, load_into_db
from archive.settings import load_settings
from tests.conftest import TEST_ORGANISATION
from tests.test_package import SELECTIELIJST
from tests.tsa import LocalPKI, pki, run_standard_tools  # noqa: F401

BIN = Path(sys.executable).parent


def make_run(home: Path, *, category: str | None = "1.1", status: str = "finished") -> int:
    """A finished crawl run as the crawler leaves it: WARC rows and files, CDXJ, log, report."""
    s = load_settings()
    s.warc_dir.mkdir(parents=True, exist_ok=True)
    s.index_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(s) as db:
        site = db.scalar(select(Site).where(Site.name == "justid"))
        if site is None:  # a later run of the same site reuses it
            site = Site(name="justid", seeds=["https://www.justid.nl/"], category=category)
            db.add(site)
            db.flush()
        run = CrawlRun(site_id=site.id, status=status, seeds=site.seeds, pages=2,
                       started_at=datetime(2025, 5, 1, 9, tzinfo=UTC),
                       finished_at=datetime(2025, 5, 1, 10, tzinfo=UTC))
        db.add(run)
        db.flush()
        for n in range(2):
            name = f"BEWAAR-20250501090000000-{run.id - 1:04d}{n}-host.warc.gz"
            path = s.warc_dir / name
            with open(path, "wb") as fh:
                w = WARCWriter(fh, gzip=True)
                body = f"<html><body>page {n}</body></html>".encode()
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                           protocol="HTTP/1.1")
                w.write_record(w.create_warc_record(f"https://www.justid.nl/{n}", "response",
                                                    payload=io.BytesIO(body),
                                                    http_headers=headers))
            cdxj = s.index_dir / f"{name}.cdxj"
            cdxj.write_text(f'nl,justid)/{n} 20250501090000 {{"url": "https://www.justid.nl/{n}"}}\n')
            # the crawler records the sha512 it computed while writing; older rows have none
            sha512 = hashlib.sha512(path.read_bytes()).hexdigest() if n == 0 else None
            db.add(WarcFile(run_id=run.id, filename=name, path=str(path), size=path.stat().st_size,
                            sha256="0" * 64, sha512=sha512, records=1, cdxj_path=str(cdxj)))
        run_id = run.id
    run_dir = s.runs_dir / str(run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "crawl.log").write_text("GET https://www.justid.nl/0 200\n")
    (run_dir / "report.json").write_text(json.dumps({"pages": 2}))
    return run_id


def said(res) -> str:  # type: ignore[no-untyped-def]
    """stderr as one line (the console wraps long messages)."""
    return " ".join(res.stderr.split())


@pytest.fixture
def loaded(bewaar, home: Path):  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    load_into_db(load_settings(), home / "sl.toml")
    return bewaar


def test_seal_run_and_verify(loaded, home: Path, pki: LocalPKI) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    bewaar = loaded
    run_id = make_run(home)
    keys = bewaar("keys", "init", "--json").json()
    assert keys["created"] and Path(keys["ca"]).is_file()
    out = bewaar("seal", str(run_id), "--json", env={"BEWAAR_TSA_URL": pki.tsa_url}).json()
    pkg = Path(out["package"])
    assert pkg.is_dir() and pkg.name == out["id"] and out["timestamped"]
    data = pkg / "bag" / "data"
    names = sorted(p.relative_to(data).as_posix() for p in data.rglob("*")
                   if p.is_file() and not p.name.endswith(".mdto.xml"))
    assert names == [
        "indexes/BEWAAR-20250501090000000-00000-host.warc.gz.cdxj",
        "indexes/BEWAAR-20250501090000000-00001-host.warc.gz.cdxj",
        "run/crawl.log", "run/report.json",
        "warcs/BEWAAR-20250501090000000-00000-host.warc.gz",
        "warcs/BEWAAR-20250501090000000-00001-host.warc.gz",
    ]
    with open(data / names[4], "rb") as fh:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)]
    assert uris == ["https://www.justid.nl/0"]
    for r in run_standard_tools(pkg, home / "keys" / "ca.pem", pki.ca, BIN):
        assert r.returncode == 0, f"{r.args}\n{r.stderr}"
    res = bewaar("verify", str(pkg), "--json", "--ca", str(home / "keys" / "ca.pem"),
                 "--tsa-ca", str(pki.ca))
    assert res.json()["valid"] is True and res.json()["findings"] == []
    listed = bewaar("package", "list", "--json").json()
    assert [p["id"] for p in listed] == [out["id"]] and listed[0]["run_id"] == run_id
    # the newest package of a source has no successor to miss it: the depot's record does
    again = seal_run(load_settings(), run_id, again=True)
    assert again.previous_id == out["id"]
    shutil.rmtree(again.path)
    res = bewaar("verify", str(home / "packages"), "--json", check=False)
    assert res.returncode == 1
    assert res.json()["findings"] == [{"path": again.id, "expected": str(again.path),
                                       "found": "absent",
                                       "problem": "package recorded in the database is missing"}]


def test_a_warc_changed_after_the_crawl_is_caught(loaded, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Sealing links a WARC without reading it again, under the digest recorded while it was
    written: bytes changed since then show in every verification, never under a new seal."""
    run_id = make_run(home)
    warc = next(load_settings().warc_dir.glob("*00000-host.warc.gz"))
    raw = bytearray(warc.read_bytes())
    written = hashlib.sha512(raw).hexdigest()
    raw[len(raw) // 2] ^= 0x01  # same size, one bit flipped
    warc.write_bytes(bytes(raw))
    loaded("keys", "init")
    out = loaded("seal", str(run_id), "--json").json()
    res = loaded("verify", out["package"], "--json", check=False)
    assert res.returncode == 1
    rel = f"bag/data/warcs/{warc.name}"
    [finding] = [f for f in res.json()["findings"] if f["path"] == rel]
    assert finding["problem"] == "sha512 does not match the manifest"
    assert (finding["expected"], finding["found"]) == (written, hashlib.sha512(raw).hexdigest())
    with open(warc, "ab") as fh:  # grown since the crawl: the seal refuses it
        fh.write(b"x")
    res = loaded("seal", str(run_id), "--again", check=False)
    assert res.returncode == 2 and "changed since it was written" in said(res)


def test_verify_reports_findings_with_exit_1(loaded, home: Path) -> None:  # type: ignore[no-untyped-def]
    bewaar = loaded
    pkg = seal_run(load_settings(), make_run(home)).path
    log = pkg / "bag" / "data" / "run" / "crawl.log"
    log.write_text(log.read_text() + "edited\n")
    res = bewaar("verify", str(pkg.parent), "--json", check=False)  # the folder of packages
    assert res.returncode == 1
    doc = res.json()
    assert doc["valid"] is False
    assert doc["findings"][0]["path"] == "bag/data/run/crawl.log"
    assert doc["findings"][0]["problem"] == "sha512 does not match the manifest"
    assert {"expected", "found"} <= set(doc["findings"][0])
    assert any("no time-stamp" in w for w in doc["warnings"])
    text = bewaar("verify", str(pkg), check=False)
    assert text.returncode == 1 and "crawl.log" in text.stdout and "NOT valid" in text.stdout


def test_bad_input(loaded, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bewaar = loaded
    res = bewaar("seal", "999", check=False)
    assert res.returncode == 2 and "crawl run 999 does not exist" in said(res)
    not_pkg = tmp_path / "not-a-package"
    not_pkg.mkdir()
    (not_pkg / "file.txt").write_text("x")
    res = bewaar("verify", str(not_pkg), check=False)
    assert res.returncode == 2 and "is not a sealed package" in said(res)
    with pytest.raises(NotAPackageError, match="is not a folder"):
        verify_package(tmp_path / "absent")
    with pytest.raises(NotAPackageError, match="no bag/bagit.txt"):
        verify_package(not_pkg)
    pkg = seal_run(load_settings(), make_run(home)).path
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    res = bewaar("verify", str(pkg), "--ca", str(garbage), check=False)
    assert res.returncode == 2 and "garbage.pem" in said(res) and "Traceback" not in res.stderr
    with pytest.raises(SelectielijstError, match="garbage.pem"):
        load_into_db(load_settings(), garbage)


def test_failed_seal_leaves_nothing(loaded, home: Path, pki: LocalPKI) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    bewaar = loaded
    run_id = make_run(home)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    res = bewaar("seal", str(run_id), check=False,
                 env={"BEWAAR_TSA_URL": f"http://127.0.0.1:{port}/tsa"})
    assert res.returncode == 2 and "unreachable" in said(res) and "Traceback" not in res.stderr
    assert list((home / "packages").iterdir()) == []
    mismatch = load_settings(seal_cert=pki.seal_cert, seal_key=pki.other_key)
    with pytest.raises(SettingsError, match="does not match the seal key"):
        seal_run(mismatch, run_id)
    with pytest.raises(BewaarError, match="cannot package .*missing"):
        build_package(load_settings(), source_kind="crawl", source_name="x", title="x",
                      category=None, files=[PackageInput("a.txt", b"a"),
                                            PackageInput("b.txt", home / "missing")])
    with pytest.raises(BewaarError, match="bad file name"):
        build_package(load_settings(), source_kind="crawl", source_name="x", title="x",
                      category=None, files=[PackageInput("../escape.txt", b"a")])
    assert list((home / "packages").iterdir()) == []
    assert bewaar("package", "list", "--json").json() == []


def test_refuses_running_run_and_unknown_category(loaded, home: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = make_run(home, category="9.9")
    with pytest.raises(NotFoundError, match="category '9.9' is not known"):
        seal_run(load_settings(), run_id)
    with session_scope(load_settings()) as db:
        run = db.get(CrawlRun, run_id)
        assert run is not None
        run.status = "running"
    with pytest.raises(BewaarError, match="still running"):
        seal_run(load_settings(), run_id)
    assert not (home / "packages").exists() or list((home / "packages").iterdir()) == []


def test_selectielijst_load_and_list(bewaar, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    bewaar("selectielijst", "load", str(home / "sl.toml"))
    cats = bewaar("selectielijst", "list", "--json").json()
    assert [(c["code"], c["waardering"], c["bewaartermijn"]) for c in cats] == [
        ("1.1", "V", "P10Y"), ("2.1", "B", None)]
    bad = home / "bad.toml"
    bad.write_text('[[categorie]]\ncode = "1"\nnaam = "x"\nwaardering = "V"\n')
    with pytest.raises(SelectielijstError, match="V needs a bewaartermijn"):
        load_into_db(load_settings(), bad)


def test_sealing_a_sealed_run_again_needs_again(loaded, home: Path) -> None:  # type: ignore[no-untyped-def]
    """A second seal of a run is refused unless --again; then it is chained after the newest
    package of the site (a later run's), so the chain stays one line."""
    bewaar = loaded
    first_run, later_run = make_run(home), make_run(home)
    first = bewaar("seal", str(first_run), "--json").json()
    later = bewaar("seal", str(later_run), "--json").json()
    assert later["previous_id"] == first["id"]
    res = bewaar("seal", str(first_run), "--json", check=False)
    assert res.returncode == 2 and res.stdout == ""
    assert (f"run {first_run} is already sealed as {first['id']} "
            "(use --again to seal it once more)") in said(res)
    assert sorted(p.name for p in (home / "packages").iterdir()) == sorted(
        [first["id"], later["id"]])
    with pytest.raises(AlreadySealedError, match="already sealed"):
        seal_run(load_settings(), first_run)
    again = bewaar("seal", str(first_run), "--again", "--json").json()
    assert again["previous_id"] == later["id"]
    info = (Path(again["package"]) / "bag" / "bag-info.txt").read_text()
    assert f"Bewaar-Run-Id: {first_run}\n" in info
    assert f"Bewaar-Previous-Package: {later['id']}\n" in info
    assert f"Bewaar-Run-Sealed-Before: {first['id']}\n" in info
    res = bewaar("verify", str(home / "packages"), "--json")  # the whole chain holds
    assert res.json()["valid"] is True
    listed = bewaar("package", "list", "--json").json()
    assert [p["previous_id"] for p in listed] == [None, first["id"], later["id"]]


def _subject(cert: Path) -> str:
    """The subject as openssl prints it (RFC 2253, without its backslash escapes)."""
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt",
                           "RFC2253"], capture_output=True, text=True, check=True,
                          timeout=60).stdout.replace("\\", "")


def test_sealing_needs_a_configured_organisation(loaded, home: Path) -> None:  # type: ignore[no-untyped-def]
    bewaar = loaded
    org = {k: bewaar.env.pop(k) for k in TEST_ORGANISATION}  # as a fresh install: none set
    run_id = make_run(home)
    res = bewaar("seal", str(run_id), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    for name in ("BEWAAR_ORGANISATION", "BEWAAR_ORGANISATION_ID", "bewaar.toml"):
        assert name in said(res)
    assert not (home / "packages").exists() or list((home / "packages").iterdir()) == []
    # local keys may be made before it is configured, for an obviously fictitious organisation
    made = bewaar("keys", "init", "--json")
    keys = made.json()
    assert keys["fictitious"] is True and keys["organisation"] == FICTITIOUS_ORGANISATION
    assert "no organisation is configured" in said(made)
    assert f"O={FICTITIOUS_ORGANISATION}" in _subject(Path(keys["seal_cert"]))
    assert f"O={FICTITIOUS_ORGANISATION}" in _subject(Path(keys["ca"]))
    bewaar.env.update(org)
    res = bewaar("seal", str(run_id), check=False)  # those keys do not name the organisation
    assert res.returncode == 2 and "bewaar keys init --force" in said(res)
    assert org["BEWAAR_ORGANISATION"] in said(res)
    keys = bewaar("keys", "init", "--force", "--json").json()
    assert keys["fictitious"] is False and keys["organisation"] == org["BEWAAR_ORGANISATION"]
    subject = _subject(home / "keys" / "seal.pem")
    assert f"O={org['BEWAAR_ORGANISATION']}" in subject
    assert org["BEWAAR_ORGANISATION_ID"] in subject  # organizationIdentifier (2.5.4.97)
    assert f"O={org['BEWAAR_ORGANISATION']}" in _subject(home / "keys" / "ca.pem")
    out = bewaar("seal", str(run_id), "--json").json()
    info = (Path(out["package"]) / "bag" / "bag-info.txt").read_text()
    assert f"Source-Organization: {org['BEWAAR_ORGANISATION']}\n" in info
    assert f"Organization-Identifier: {org['BEWAAR_ORGANISATION_ID']}\n" in info
    assert "Justitie" not in "".join(p.read_text(errors="replace")
                                     for p in Path(out["package"]).rglob("*") if p.is_file())
    signer = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in",
                             str(Path(out["package"]) / "seal" / "tagmanifest-sha512.txt.p7s"),
                             "-print_certs", "-noout"], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    assert org["BEWAAR_ORGANISATION"] in signer
