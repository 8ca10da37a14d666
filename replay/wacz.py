"""WACZ 1.1.1 export of a crawl run: WARCs, CDXJ index, pages.jsonl, datapackage with digests.

The WARCs are copied into the ZIP uncompressed (``stored``) and hashed on the way; a WARC whose
sha256 differs from the database aborts the export. The file is written under a temporary name
and renamed when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

import archive
from archive.db import session_scope
from archive.errors import BewaarError
from archive.models import Capture, PayloadDigest, WarcFile
from archive.settings import Settings
from archive.storage import check_storage, in_use, local_copy
from replay.collections import CollectionError, _check_warc, _merged_lines, load_run

WACZ_VERSION = "1.1.1"


class WaczError(BewaarError):
    """The WACZ could not be written."""


def _iso(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9._-]", "-", path.rsplit("/", 1)[-1].lower())


class _Zip:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.resources: list[dict[str, Any]] = []

    def add_bytes(self, path: str, data: bytes) -> None:
        info = zipfile.ZipInfo(path, datetime.now(UTC).timetuple()[:6])
        self.zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
        self.resources.append({"name": _name(path), "path": path,
                               "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
                               "bytes": len(data)})

    def add_file(self, path: str, source: Path, expect_sha256: str | None) -> None:
        h = hashlib.sha256()
        size = 0
        info = zipfile.ZipInfo(path, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        with open(source, "rb") as src, self.zf.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        if expect_sha256 and h.hexdigest() != expect_sha256:
            raise WaczError(f"{source} has changed since the crawl (sha256 differs); "
                            "run `bewaar fixity`")
        self.resources.append({"name": _name(path), "path": path,
                               "hash": "sha256:" + h.hexdigest(), "bytes": size})


def export_wacz(settings: Settings, run_id: int, out: Path) -> Path:
    """Write the run as a WACZ file at ``out``; return its path."""
    with in_use(settings):  # WARCs fetched from a bucket stay until they are written
        return _export_wacz(settings, run_id, out)


def _export_wacz(settings: Settings, run_id: int, out: Path) -> Path:
    with session_scope(settings) as db:
        run = load_run(db, run_id)
        site = run.site.name
        warcs = list(run.warc_files)
        if not warcs:
            raise WaczError(f"run {run_id} has no WARC files")
        # Revisit records point at payloads stored by earlier runs: bring those WARCs along.
        revisit_digests = set(db.scalars(
            select(Capture.payload_digest).where(Capture.run_id == run_id,
                                                 Capture.record_type == "revisit")
        ))
        earlier_runs = set(db.scalars(
            select(PayloadDigest.run_id).where(PayloadDigest.site_id == run.site_id,
                                               PayloadDigest.digest.in_(revisit_digests))
        )) - {run_id} if revisit_digests else set()
        extra = list(db.scalars(select(WarcFile).where(WarcFile.run_id.in_(earlier_runs)))) \
            if earlier_runs else []
        pages = db.execute(
            select(Capture.url, Capture.fetched_at).where(Capture.run_id == run_id,
                                                          Capture.is_page.is_(True))
            .order_by(Capture.id)
        ).all()
        started = run.started_at
    check_storage(settings)
    # in the bucket: through the object cache (each WARC's sha256 is checked as it is copied)
    files = [(wf, _check_warc(settings, wf) or local_copy(settings, wf.path))
             for wf in warcs + extra]
    indexes = []
    for wf, _ in files:
        cdxj = local_copy(settings, wf.cdxj_path) if wf.cdxj_path else None
        if cdxj is None or not cdxj.is_file():
            raise CollectionError(f"index of {wf.filename} is missing: {wf.cdxj_path}")
        indexes.append(cdxj)

    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            z = _Zip(zf)
            for wf, path in files:
                z.add_file(f"archive/{wf.filename}", path, wf.sha256)
            z.add_bytes("indexes/index.cdx", b"".join(_merged_lines(indexes)))
            seen: dict[str, str] = {}
            for url, fetched_at in pages:
                seen.setdefault(url, _iso(fetched_at))
            lines = [json.dumps({"format": "json-pages-1.0", "id": "pages",
                                 "title": "All Pages"})]
            lines += [json.dumps({"id": hashlib.sha1(u.encode()).hexdigest()[:16], "url": u,
                                  "ts": ts}) for u, ts in seen.items()]
            z.add_bytes("pages/pages.jsonl", ("\n".join(lines) + "\n").encode())
            created = _iso(datetime.now(UTC))
            package: dict[str, Any] = {
                "profile": "data-package",
                "resources": z.resources,
                "wacz_version": WACZ_VERSION,
                "title": f"{site} crawl run {run_id}",
                "software": archive.SOFTWARE,
                "created": created,
                "modified": created,
            }
            if seen:
                first = next(iter(seen.items()))
                package["mainPageURL"], package["mainPageDate"] = first[0], first[1]
            else:
                package["mainPageDate"] = _iso(started)
            data = json.dumps(package, indent=2).encode()
            info = zipfile.ZipInfo("datapackage.json", datetime.now(UTC).timetuple()[:6])
            zf.writestr(info, data)
            digest = {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
            info = zipfile.ZipInfo("datapackage-digest.json", datetime.now(UTC).timetuple()[:6])
            zf.writestr(info, json.dumps(digest, indent=2).encode())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        shutil.move(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out
