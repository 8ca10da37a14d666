"""Finished files handed over to the storage, and recorded only once they are there.

With an ``s3://`` ``storage_url`` a crawl's finished WARC and its CDXJ are uploaded as soon as
the worker closes them (``store_warc``) and recorded under their ``s3://`` URLs; a sealed
package is uploaded by ``build_package``. An upload that fails leaves the finished local file
and records it under its local path: such a row is a pending upload, stored by ``push_run`` /
``push_package`` when the run is finished or sealed again, on the machine that has the file.
With local storage nothing moves: the rows hold the local paths, as always.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import StorageError
from archive.settings import Settings
from archive.storage import (
    bucket,
    index_key,
    is_remote,
    package_key,
    store_files,
    store_folder,
    warc_key,
)


def store_warc(settings: Settings, site: str, msg: dict[str, Any]) -> tuple[dict[str, Any],
                                                                            str | None]:
    """The ``warc`` message of a finished WARC with its locations in the storage (the WARC
    and its CDXJ uploaded first), or the message as it was and why the upload failed."""
    if bucket(settings) is None:
        return msg, None
    items = [(Path(msg["path"]), warc_key(site, msg["filename"]))]
    cdxj = msg.get("cdxj_path")
    if cdxj:
        items.append((Path(cdxj), index_key(site, Path(cdxj).name)))
    try:
        urls = store_files(settings, items)
    except StorageError as exc:
        return msg, str(exc)
    return {**msg, "path": urls[0], "cdxj_path": urls[1] if cdxj else None}, None


def pending_warcs(settings: Settings, run_id: int) -> list[str]:
    """File names of the run's WARCs recorded here but not yet in the bucket."""
    if bucket(settings) is None:
        return []
    from archive.models import WarcFile

    with session_scope(settings) as db:
        return [w.filename for w in db.scalars(select(WarcFile).where(WarcFile.run_id == run_id))
                if not is_remote(w.path)]


def push_run(settings: Settings, run_id: int) -> list[str]:
    """Upload the run's WARCs (and CDXJ) recorded by their local paths (a failed upload, a
    repaired file) and record their URLs. Returns why files could not be stored (empty: all
    stored); a file that is not on this machine is named as such."""
    store = bucket(settings)
    if store is None:
        return []
    from archive.models import CrawlRun, WarcFile

    problems: list[str] = []
    with session_scope(settings) as db:
        run = db.get(CrawlRun, run_id)
        if run is None:
            return []
        site = run.site.name
        rows = [(w.id, w.filename, w.path, w.cdxj_path) for w in run.warc_files
                if not is_remote(w.path)]
    for wid, filename, path, cdxj in rows:
        local = Path(path.removeprefix("file://"))
        if not local.is_file():
            problems.append(f"WARC {filename} is not in {store.url} and not on this machine "
                            f"({local})")
            continue
        msg, error = store_warc(settings, site, {"filename": filename, "path": str(local),
                                                 "cdxj_path": cdxj})
        if error:
            problems.append(error)
            continue
        with session_scope(settings) as db:
            w = db.get(WarcFile, wid)
            assert w is not None
            w.path, w.cdxj_path = msg["path"], msg["cdxj_path"]
    if not problems and rows:  # a run failed only because its files were not stored
        with session_scope(settings) as db:
            run = db.get(CrawlRun, run_id)
            assert run is not None
            stats = dict(run.stats or {})
            before = stats.pop("not_stored_from", None)
            if before is not None and run.status == "failed":
                run.status, run.error, run.stats = str(before), None, stats
    return problems


def push_package(settings: Settings, package_id: str) -> bool:
    """Upload a package recorded by its local path (its upload failed) and record its URL.
    Returns whether it was pushed now; raises ``StorageError`` when it cannot be."""
    if bucket(settings) is None:
        return False
    from archive.models import Package

    with session_scope(settings) as db:
        p = db.get(Package, package_id)
        if p is None or is_remote(p.path):
            return False
        folder = Path(p.path)
    if not folder.is_dir():
        raise StorageError(f"package {package_id} is not in the bucket and its folder {folder} "
                           "is not on this machine")
    url = store_folder(settings, folder, package_key(package_id))
    with session_scope(settings) as db:
        row = db.get(Package, package_id)
        assert row is not None
        row.path = url
    return True
