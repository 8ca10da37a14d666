"""An archivist executes an approved destruction list: `bewaar destroy execute`. What was due is
destroyed for real (checked on disk, in replay and by a later crawl), what is held or kept stays
whole, each destroyed package leaves a tombstone, and the verklaring van vernietiging is sealed
as a package of its own. A kill -9 half way leaves every item whole or destroyed."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archive.db import session_scope
from archive.models import DestructionItem, Package, Site, Tombstone, WarcFile
from archive.package.selectielijst import load_into_db
from archive.settings import load_settings
from bewaar.services.accounts import add_user
from tests.conftest import BEWAAR, Bewaar
from tests.sites.normal import NormalSite
from tests.test_postgres import pg_url as pg_url  # noqa: F401  (fixture)
from tests.test_retention import SELECTIELIJST, make_run
from tests.test_service_scheduler import wait_for
from tests.wayback import wayback as wayback  # noqa: F401  (fixture)

BIN = Path(sys.executable).parent
XSD = Path(__file__).resolve().parents[1] / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
NS = {"m": "https://www.nationaalarchief.nl/mdto"}
PASSWORD = "een-lang-wachtwoord-1"
CHATS = Path(__file__).parent / "chat_exports"
NO_WAIT = {"BEWAAR_DESTRUCTION_WAIT_DAYS": "0"}
NO_QA = {"BEWAAR_QA_AFTER_CRAWL": "false"}  # sealed after each crawl; replay QA not needed


def people() -> None:
    s = load_settings()
    for name, role in (("anna", "records"), ("bert", "records"), ("carla", "archivist")):
        add_user(s, "test", name, role, PASSWORD)


def selectielijst(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    load_into_db(load_settings(), home / "sl.toml")


def crawl(bewaar: Bewaar, name: str, url: str, category: str) -> int:
    """A real crawl of a local site, sealed after the crawl; its run id."""
    with session_scope(load_settings()) as db:
        if db.scalar(select(Site).where(Site.name == name)) is None:
            db.add(Site(name=name, seeds=[url], include=[], exclude=[], category=category))
    out = bewaar("crawl", "--site", name, "--json", env=NO_QA).json()
    assert out["status"] == "finished", out
    return int(out["run_id"])


def approved_list(bewaar: Bewaar) -> tuple[str, dict[str, Any]]:
    made = bewaar("destroy", "propose", "--user", "anna", "--json").json()
    n = str(made["id"])
    bewaar("destroy", "review", n, "--user", "bert", "--approve")
    bewaar("destroy", "approve", n, "--user", "carla", env=NO_WAIT)
    return n, made


def package_of(run_id: int) -> tuple[str, Path]:
    with session_scope(load_settings()) as db:
        p = db.scalars(select(Package).where(Package.run_id == run_id)).one()
        return p.id, Path(p.path)


def warc_paths(run_id: int, *, indexes: bool = False) -> list[Path]:
    """The run's WARC files (with ``indexes``: and their CDXJ files) as the database has them."""
    with session_scope(load_settings()) as db:
        rows = list(db.scalars(select(WarcFile).where(WarcFile.run_id == run_id)))
        return [Path(w.path) for w in rows] + (
            [Path(w.cdxj_path) for w in rows if w.cdxj_path] if indexes else [])


def record_types(paths: list[Path]) -> dict[str, int]:
    """Response and revisit records of HTML pages, counted with warcio."""
    out = {"response": 0, "revisit": 0}
    for path in paths:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type in out and rec.http_headers is not None and "html" in (
                        rec.http_headers.get_header("Content-Type") or ""):
                    out[rec.rec_type] += 1
    return out


def bagit_valid(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "python"), str(BIN / "bagit.py"), "--validate",
                           str(folder / "bag")], capture_output=True, text=True, timeout=120)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_execute_destroys_what_was_due_and_seals_the_verklaring(
        bewaar: Bewaar, home: Path, wayback: Any) -> None:  # noqa: F811
    selectielijst(home)
    bewaar("keys", "init", "--json")
    people()
    with NormalSite(pages=3) as tijdelijk, NormalSite(pages=3) as beleid:
        # two crawls of a V0 (P0D) site: the second dedups against the first (revisits)
        first = crawl(bewaar, "tijdelijk", tijdelijk.url, "V0")
        second = crawl(bewaar, "tijdelijk", tijdelijk.url, "V0")
        assert record_types(warc_paths(second))["revisit"] > 0
        kept = crawl(bewaar, "beleid", beleid.url, "B")
        held_run = make_run("woo", "V0")  # due too, but a Woo request holds it
        with session_scope(load_settings()) as db:  # its digest, so that fixity can pass
            for w in db.scalars(select(WarcFile).where(WarcFile.run_id == held_run)):
                w.sha256 = hashlib.sha256(Path(w.path).read_bytes()).hexdigest()
        held_id = bewaar("seal", str(held_run), "--json").json()["id"]
        bewaar("hold", "add", "--site", "woo", "--reason", "Woo-verzoek 2026-0142")
        s = load_settings()
        doomed = {package_of(first)[0]: first, package_of(second)[0]: second}
        doomed_warcs = warc_paths(first) + warc_paths(second)
        doomed_files = warc_paths(first, indexes=True) + warc_paths(second, indexes=True)
        assert len(doomed_files) > len(doomed_warcs)
        doomed_folders = [package_of(r)[1] for r in (first, second)]
        kept_id, kept_folder = package_of(kept)
        with session_scope(s) as db:
            held_folder = Path(db.get(Package, held_id).path)  # type: ignore[union-attr]
        server = wayback(s)
        page = f"{server.url}/tijdelijk/2030id_/{tijdelijk.url}p/1.html"
        assert httpx.get(page).status_code == 200

        n, made = approved_list(bewaar)
        assert sorted(i["package"] for i in made["items"]) == sorted(doomed)
        out = bewaar("destroy", "execute", n, "--user", "carla", "--json").json()

        # what --json says
        assert out["state"] == "executed" and out["executed_by"] == "carla"
        assert sorted(d["package"] for d in out["destroyed"]) == sorted(doomed)
        assert out["skipped"] == []
        # the second run's revisits pointed at the first, destroyed with it: nothing to warn of
        assert [d for d in out["destroyed"] if "revisits_elsewhere" in d] == []
        verklaring = out["verklaring"]
        assert verklaring and verklaring.startswith("vernietiging-")
        # the files are gone: WARCs, indexes, run folders, packages, collection links
        for path in doomed_files + doomed_folders:
            assert not path.exists(), path
        for run in (first, second):
            assert not (s.runs_dir / str(run)).exists()
        assert files_under(s.collections_dir / "tijdelijk" / "archive") == []
        index = (s.collections_dir / "tijdelijk" / "indexes" / "index.cdxj").read_text()
        assert index == ""
        assert not any(p.name in "".join(files_under(s.home)) for p in doomed_warcs)
        # the B and the held packages are whole (bagit-python)
        for folder in (kept_folder, held_folder):
            ok = bagit_valid(folder)
            assert ok.returncode == 0, ok.stderr
        # replay: pywb no longer finds the destroyed capture; the kept one it still serves
        assert httpx.get(page).status_code == 404
        cdx = httpx.get(f"{server.url}/tijdelijk/cdx", params={"url": tijdelijk.url + "*"})
        assert cdx.text.strip() == ""
        got = httpx.get(f"{server.url}/beleid/2030id_/{beleid.url}p/1.html")
        assert got.status_code == 200 and got.content == httpx.get(beleid.url + "p/1.html").content
        # tombstones and the records' states
        with session_scope(s) as db:
            stones = {t.package_id: t for t in db.scalars(select(Tombstone))}
            assert set(stones) == set(doomed)
            for pid, t in stones.items():
                assert (t.list_id, t.proposed_by, t.reviewed_by, t.approved_by,
                        t.executed_by) == (int(n), "anna", "bert", "carla", "carla")
                assert t.category == "V0" and t.run_id == doomed[pid]
                assert {d["what"] for d in t.deleted} >= {"warc", "package", "run"}
        states = {r["id"]: r["state"] for r in bewaar("retention", "--json").json()}
        assert {states[p] for p in doomed} == {"destroyed"}
        assert (states[kept_id], states[held_id]) == ("keep", "held")
        # fixity and verify do not take destruction for damage
        fixity = bewaar("fixity", "--json").json()
        assert fixity["ok"], fixity["findings"]
        assert sorted(d["package"] for d in fixity["destroyed"]) == sorted(doomed)
        depot = bewaar("verify", str(s.packages_dir), "--json", check=False)
        assert depot.returncode == 0, depot.stdout

        # the verklaring: a sealed bag (bagit-python, openssl), MDTO valid, PDF/A text
        vdir = s.packages_dir / verklaring
        ok = bagit_valid(vdir)
        assert ok.returncode == 0, ok.stderr
        seal = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
             "seal/tagmanifest-sha512.txt.p7s", "-content", "bag/tagmanifest-sha512.txt",
             "-CAfile", str(s.keys_dir / "ca.pem"), "-purpose", "any", "-out", "/dev/null"],
            cwd=vdir, capture_output=True, text=True, timeout=60)
        assert seal.returncode == 0, seal.stderr
        schema = etree.XMLSchema(etree.parse(str(XSD)))
        mdto = etree.parse(str(vdir / "bag" / "data" / f"{verklaring}.mdto.xml"))
        assert schema.validate(mdto), schema.error_log
        events = [e for e in mdto.iterfind(".//m:event", NS)
                  if e.findtext("m:eventType/m:begripLabel", namespaces=NS) == "Vernietigen"]
        assert len(events) == 2
        assert {pid for pid in doomed
                for e in events if pid in (e.findtext("m:eventResultaat", namespaces=NS) or "")
                } == set(doomed)
        assert mdto.findtext(".//m:waardering/m:begripCode", namespaces=NS) == "B"
        for sidecar in (vdir / "bag" / "data").glob("*.bestand.mdto.xml"):
            assert schema.validate(etree.parse(str(sidecar))), sidecar
        pdf = vdir / "bag" / "data" / "verklaring-van-vernietiging.pdf"
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, timeout=60, check=True).stdout
        flat = " ".join(text.split())
        for word in (*doomed, "anna", "bert", "carla", "V0", "Tijdelijke campagnesites",
                     "Selectielijst Ministerie van Proefzaken 2026", "Archiefwet 1995",
                     "Archiefbesluit 1995", f"vernietigingslijst {n}"):
            assert word in flat, word
        assert held_id not in flat and kept_id not in flat
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                               timeout=60, check=True).stdout.splitlines()[2:]
        assert fonts and all(" yes " in f for f in fonts), fonts  # every font embedded
        meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True,
                              timeout=60, check=True).stdout
        assert "<pdfaid:part>2</pdfaid:part>" in meta
        assert "<pdfaid:conformance>B</pdfaid:conformance>" in meta
        assert b"/OutputIntents" in pdf.read_bytes() and b"/GTS_PDFA1" in pdf.read_bytes()
        listing = json.loads((vdir / "bag" / "data" / "vernietigde-pakketten.json").read_text())
        assert sorted(d["package_id"] for d in listing["destroyed"]) == sorted(doomed)

        # executing it again: refused, nothing changes
        again = bewaar("destroy", "execute", n, "--user", "carla", check=False)
        assert again.returncode == 2 and "executed" in again.stderr

        # a later crawl of the same content: full responses (no revisit of what is gone) that
        # replay
        later = crawl(bewaar, "tijdelijk", tijdelijk.url, "V0")
        types = record_types(warc_paths(later))
        assert types["revisit"] == 0 and types["response"] >= 3, types
        back = httpx.get(page)
        assert back.status_code == 200
        assert back.content == httpx.get(f"{tijdelijk.url}p/1.html").content


def test_bad_input_is_refused_and_nothing_is_destroyed(bewaar: Bewaar, home: Path) -> None:
    selectielijst(home)
    bewaar("keys", "init", "--json")
    people()
    run = make_run("weg", "V0")
    pid = bewaar("seal", str(run), "--json").json()["id"]
    s = load_settings()
    before = files_under(s.home)
    n = str(bewaar("destroy", "propose", "--user", "anna", "--json").json()["id"])
    refused = [
        (("execute", n, "--user", "carla"), "only an approved list"),  # proposed
        (("execute", "99", "--user", "carla"), "no destruction list 99"),
        (("execute", "een", "--user", "carla"), "not a number"),
        (("execute", n, "--user", "anna"), "only archivist"),
        (("execute", n, "--user", "nobody"), "no user named"),
    ]
    bewaar("destroy", "review", n, "--user", "bert", "--approve")
    for args, says in refused:
        r = bewaar("destroy", *args, check=False)
        assert r.returncode == 2 and says in r.stderr, (args, r.stderr)
    # approved with the default waiting period of 7 days: not yet
    bewaar("destroy", "approve", n, "--user", "carla")
    early = bewaar("destroy", "execute", n, "--user", "carla", check=False)
    assert early.returncode == 2 and "waiting period" in early.stderr, early.stderr
    assert [f for f in before if not (s.home / f).exists()] == []  # nothing deleted
    state = {r["id"]: r["state"] for r in bewaar("retention", "--json").json()}
    assert state[pid] == "due"
    assert bewaar("destroy", "show", n, "--json").json()["state"] == "approved"
    with session_scope(s) as db:
        assert list(db.scalars(select(Tombstone))) == []


def _states(list_id: str) -> dict[str, str | None]:
    with session_scope(load_settings()) as db:
        return {i.package_id: i.state for i in db.scalars(
            select(DestructionItem).where(DestructionItem.list_id == int(list_id)))}


def test_kill_9_mid_execution_leaves_items_whole_or_destroyed_and_a_rerun_finishes(
        bewaar: Bewaar, home: Path) -> None:
    """The kill point: the test holds the lock of the second package's replay collection
    (the lock every change of a collection takes), so the execution stops there after the
    first package is destroyed and the second is marked; then it is killed with SIGKILL."""
    kill_and_finish(bewaar, home)


@pytest.mark.postgres
def test_kill_9_mid_execution_on_postgresql(bewaar: Bewaar, home: Path,
                                            pg_url: str) -> None:  # noqa: F811
    bewaar.env["BEWAAR_DATABASE_URL"] = pg_url
    kill_and_finish(bewaar, home)


def kill_and_finish(bewaar: Bewaar, home: Path) -> None:
    from replay.collections import add_run_to_collection

    selectielijst(home)
    bewaar("keys", "init", "--json")
    people()
    s = load_settings()
    runs = {name: make_run(name, "V0") for name in ("a-een", "b-twee", "c-drie")}
    ids = {}
    for name, run in runs.items():
        with session_scope(s) as db:  # an index line as the crawler writes it: with its file
            w = db.scalars(select(WarcFile).where(WarcFile.run_id == run)).one()
            Path(w.cdxj_path or "").write_text(
                f'nl,example,{name})/ 20250501090000 '
                + json.dumps({"url": f"https://{name}.example.nl/", "filename": w.filename,
                              "offset": 0, "length": w.size}) + "\n")
        ids[name] = bewaar("seal", str(run), "--json").json()["id"]
        add_run_to_collection(s, run)
    n, made = approved_list(bewaar)
    assert sorted(i["package"] for i in made["items"]) == sorted(ids.values())
    lock = s.collections_dir / ".b-twee.lock"
    with open(lock, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        proc = subprocess.Popen([*BEWAAR, "destroy", "execute", n, "--user", "carla"],
                                env=bewaar.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: _states(n)[ids["b-twee"]] == "destroying", timeout=60,
                     what="the second item to be destroying")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    assert proc.returncode == -signal.SIGKILL
    states = _states(n)
    assert states == {ids["a-een"]: "destroyed", ids["b-twee"]: "destroying",
                      ids["c-drie"]: None}
    # the first is destroyed with its tombstone; the second and third are whole
    with session_scope(s) as db:
        assert [t.package_id for t in db.scalars(select(Tombstone))] == [ids["a-een"]]
    assert not (s.packages_dir / ids["a-een"]).exists()
    for name in ("b-twee", "c-drie"):
        ok = bagit_valid(s.packages_dir / ids[name])
        assert ok.returncode == 0, ok.stderr
        assert (s.collections_dir / name / "indexes" / "index.cdxj").read_text() != ""
    assert bewaar("destroy", "show", n, "--json").json()["state"] == "executing"
    # running it again finishes the list, with one verklaring
    out = bewaar("destroy", "execute", n, "--user", "carla", "--json").json()
    assert out["state"] == "executed"
    assert sorted(d["package"] for d in out["destroyed"]) == sorted(ids.values())
    assert set(_states(n).values()) == {"destroyed"}
    for name, pid in ids.items():
        assert not (s.packages_dir / pid).exists()
        assert warc_paths(runs[name]) == []
        assert (s.collections_dir / name / "indexes" / "index.cdxj").read_text() == ""
    with session_scope(s) as db:
        verklaringen = list(db.scalars(select(Package).where(Package.source_kind == "records")))
        assert [p.id for p in verklaringen] == [out["verklaring"]]
    ok = bagit_valid(s.packages_dir / out["verklaring"])
    assert ok.returncode == 0, ok.stderr


def test_a_chat_package_is_destroyed_and_one_held_after_approval_is_skipped(
        bewaar: Bewaar, home: Path) -> None:
    from archive.errors import NotFoundError
    from archive.models import ChatExport
    from bewaar.services.packages import download, verify_recorded

    selectielijst(home)
    bewaar("keys", "init", "--json")
    people()
    ids = {name: bewaar("seal", str(make_run(name, "V0")), "--json").json()["id"]
           for name in ("weg", "bezwaar")}
    bewaar("chat", "add", "whatsapp", "minister", "--category", "V0", "--locale", "nl")
    chat = bewaar("chat", "import", "minister", str(CHATS / "whatsapp_android_nl.txt"),
                  "--json").json()
    chat_folder = Path(chat["package"])
    ids["minister"] = chat_folder.name
    n, made = approved_list(bewaar)
    assert sorted(i["package"] for i in made["items"]) == sorted(ids.values())
    bewaar("hold", "add", "--package", ids["bezwaar"], "--reason", "bezwaar ingediend")
    out = bewaar("destroy", "execute", n, "--user", "carla", "--json").json()
    assert sorted(d["package"] for d in out["destroyed"]) == sorted([ids["weg"],
                                                                     ids["minister"]])
    assert [d["package"] for d in out["skipped"]] == [ids["bezwaar"]]
    assert "hold" in out["skipped"][0]["reason"]
    s = load_settings()
    ok = bagit_valid(s.packages_dir / ids["bezwaar"])
    assert ok.returncode == 0, ok.stderr
    assert not (s.packages_dir / ids["weg"]).exists() and not chat_folder.exists()
    # nothing in the home names it but the tombstone beside the packages
    assert [f for f in files_under(s.home) if ids["minister"] in f] == [
        f"packages/{ids['minister']}.destroyed.json"]
    with session_scope(s) as db:
        stone = db.get(Tombstone, ids["minister"])
        assert stone is not None and stone.source_kind == "chat"
        assert stone.period_start is not None and stone.period_end is not None
        assert [e.status for e in db.scalars(select(ChatExport))] == ["destroyed"]
    # where our code answers for a package, a destroyed one is "vernietigd", not missing
    for ask in (download, verify_recorded):
        try:
            ask(s, "test", ids["weg"])
        except NotFoundError as exc:
            assert "vernietigd" in str(exc) and f"destruction list {n}" in str(exc)
        else:
            raise AssertionError(f"{ask.__name__} answered for a destroyed package")
    text = subprocess.run(
        ["pdftotext", str(s.packages_dir / out["verklaring"] / "bag" / "data"
                          / "verklaring-van-vernietiging.pdf"), "-"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Niet vernietigd" in text and ids["bezwaar"] in " ".join(text.split())
