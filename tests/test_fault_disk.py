"""Faults: the disk fills up mid-crawl and mid-seal (a size-limited tmpfs, mounted as root).

Checked with warcio, bagit-python, hashlib and SQL, not the product's own code: the run ends
`failed` with a "No space left" reason and a non-zero exit, no file under a finished name is cut
short, nothing is recorded as stored that is not, and once space is freed `bewaar crawl
--resume` / `bewaar seal` finish the job.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import bagit

from tests.conftest import BEWAAR, ROOT, TEST_ORGANISATION, TEST_QUIET
from tests.faults import (
    assert_finished_warcs_whole,
    assert_recorded_files_true,
    env_without_bewaar,
    grow,
    read_warc,
    small_disk,
    sql,
)
from tests.sites import NormalSite


def _bewaar(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BEWAAR, *args], env=env, capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def _env(home: Path, db: Path, **extra: str) -> dict[str, str]:
    env = env_without_bewaar()
    env.update(TEST_ORGANISATION)
    env.update(TEST_QUIET)
    env.update({"BEWAAR_HOME": str(home), "PYTHONPATH": str(ROOT),
                "BEWAAR_DATABASE_URL": f"sqlite:///{db}",  # the database on another disk
                "BEWAAR_WARC_MAX_SIZE": "1000000", "BEWAAR_QA_AFTER_CRAWL": "false",
                "BEWAAR_SEAL_AFTER_CRAWL": "false", **extra})
    return env


def test_disk_full_mid_crawl_fails_with_reason_then_resumes(tmp_path: Path) -> None:
    """BEWAAR_HOME (WARCs, indexes, run folders) on a 1.6 MB disk, a site of about 4 MB: the
    first WARC is finished by rotation at 1 MB, the second cannot be."""
    home, db = tmp_path / "home", tmp_path / "bewaar.sqlite3"
    with small_disk(home, 1600), NormalSite(pages=80) as site:
        env = _env(home, db)
        assert _bewaar(env, "site", "add", "demo", "--seed", site.url).returncode == 0
        first = _bewaar(env, "crawl", "--site", "demo", "--json")
        assert first.returncode == 1, first.stderr  # not 0: the crawl did not get everything
        assert "Traceback" not in first.stderr, first.stderr
        out = json.loads(first.stdout)
        assert out["status"] == "failed" and "No space left on device" in out["error"]
        assert "--resume 1" in out["error"] and "No space left" in first.stderr
        [(status, error)] = sql(db, "select status, error from crawl_runs where id = 1")
        assert status == "failed" and "No space left on device" in error

        warcs = home / "warcs" / "demo" / "1"
        finished = assert_finished_warcs_whole(warcs)
        assert len(finished) >= 1  # the rotated one; the one the disk cut is not finished
        assert_recorded_files_true(db, 1)
        recorded = {Path(p).name for (p,) in sql(db, "select path from warc_files")}
        assert recorded == set(finished)  # no finished file left unrecorded, none recorded extra

        grow(home, 16_000)  # space freed
        second = _bewaar(env, "crawl", "--resume", "1", "--json")
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["status"] == "finished"
        assert not list(warcs.glob("*.open"))  # the cut file was repaired and finished
        finished = assert_finished_warcs_whole(warcs)
        assert_recorded_files_true(db, 1)
        assert {Path(p).name for (p,) in sql(db, "select path from warc_files")} == set(finished)
        archived = {u for uris in finished.values() for u in uris}
        for url in site.page_urls():  # every page archived once the disk had room
            assert url in archived, url
        [(status, error)] = sql(db, "select status, error from crawl_runs where id = 1")
        assert status == "finished" and error is None


def test_disk_full_mid_seal_records_no_package_then_seals(tmp_path: Path) -> None:
    """The packages folder on a 300 KB disk, a run of about 1.2 MB of WARCs: sealing stops with
    the reason, leaves no package folder (finished or temporary) and records none; with room,
    `bewaar seal` seals it and bagit-python finds the bag valid."""
    home, db = tmp_path / "home", tmp_path / "bewaar.sqlite3"
    env = _env(home, db)
    with NormalSite(pages=25) as site:
        assert _bewaar(env, "site", "add", "demo", "--seed", site.url).returncode == 0
        crawl = _bewaar(env, "crawl", "--site", "demo", "--json")
        assert crawl.returncode == 0, crawl.stderr
    packages = home / "packages"
    with small_disk(packages, 300):
        failed = _bewaar(env, "seal", "1", "--json")
        assert failed.returncode == 2, failed.stderr
        assert "No space left on device" in failed.stderr and "Traceback" not in failed.stderr
        assert list(packages.iterdir()) == []  # no half-made package, not even a temporary one
        assert sql(db, "select count(*) from packages") == [(0,)]
        [(outcome, detail)] = sql(db, "select outcome, detail from audit_log "
                                      "where action like '%seal%' order by id desc limit 1")
        assert outcome == "failed" and "No space left" in json.dumps(detail)

        grow(packages, 16_000)
        sealed = _bewaar(env, "seal", "1", "--json")
        assert sealed.returncode == 0, sealed.stderr
        package: Any = json.loads(sealed.stdout)
        [(path, tagsha)] = sql(db, "select path, tagmanifest_sha512 from packages")
        assert Path(path) == Path(package["package"]) and Path(path).parent == packages
        bag = bagit.Bag(str(Path(path) / "bag"))
        bag.validate()  # every payload file against its manifest
        for w in Path(path).rglob("*.warc.gz"):
            read_warc(w)
