"""pywb collections, one per site, filled incrementally from crawl runs.

Layout under ``settings.collections_dir`` (what ``wayback`` reads, run with that folder as its
working directory)::

    config.yaml                 written by ``write_config``: one entry per collection
    access-rules.aclj           the access rules (see ``replay.access``)
    <site>/acl/access-rules.aclj  what pywb applies to the collection: rules and embargo
    <site>/archive/<warc>       hard links (or symlinks) to the run's WARC files
    <site>/indexes/index.cdxj   the sorted merge of every added run's CDXJ
    <site>/indexes/runs.txt     the ids of the runs merged into that index on this machine

The database's ``collection_runs`` says which runs a collection holds; ``runs.txt`` says which
of them this machine's index holds (a replay or worker machine that shares the database and a
bucket builds its own index from the bucket's CDXJ files: ``bewaar replay serve`` adds what its
index lacks).

Adding a run merges its already-sorted CDXJ files into the collection index in one streaming
pass (no WARC is read again) and writes the result under a temporary name before renaming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import heapq
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError
from archive.files import atomic_file, write_atomic
from archive.models import CollectionRun, CrawlRun, Site, WarcFile
from archive.settings import Settings
from archive.storage import bucket, in_use, is_remote, local_copy, remote_size, warc_key

CONFIG_NAME = "config.yaml"
ACL_NAME = "access-rules.aclj"
INDEX_NAME = "index.cdxj"
RUNS_NAME = "runs.txt"


class CollectionError(BewaarError):
    """A collection cannot be built or its files are not what the database recorded."""


def collection_dir(settings: Settings, name: str) -> Path:
    return settings.collections_dir / name


def collection_index(settings: Settings, name: str) -> Path:
    return collection_dir(settings, name) / "indexes" / INDEX_NAME


def venv_tool(name: str) -> str:
    """A console script installed beside this Python (wayback, cdxj-indexer, wacz)."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    import shutil

    found = shutil.which(name)
    if not found:
        raise BewaarError(f"{name} is not installed (it comes with pywb / wacz)")
    return found


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()



def load_run(db: Session, run_id: int) -> CrawlRun:
    run = db.get(CrawlRun, run_id)
    if run is None:
        raise NotFoundError(f"no crawl run with id {run_id}")
    return run


def _check_warc(settings: Settings, wf: WarcFile) -> Path | None:
    """The WARC's local file (None: it is in the bucket, which pywb reads itself), checked
    against the size the database recorded."""
    if is_remote(wf.path):
        size = remote_size(settings, wf.path)
        if size is None:
            raise CollectionError(f"WARC file {wf.filename} is missing from the bucket: {wf.path}")
    else:
        path = Path(wf.path.removeprefix("file://"))
        if not path.is_file():
            raise CollectionError(f"WARC file {wf.filename} is missing: {path}")
        size = path.stat().st_size
    if size != wf.size:
        raise CollectionError(
            f"WARC file {wf.filename} has changed: {size} bytes, the database recorded {wf.size}"
        )
    return None if is_remote(wf.path) else path


def _index_for(settings: Settings, wf: WarcFile, warc: Path | None, scratch: Path) -> Path:
    """The sorted CDXJ of one WARC: the crawler's, checked against its digest, or made now."""
    if wf.cdxj_path:
        cdxj = local_copy(settings, wf.cdxj_path)
        if not cdxj.is_file():
            raise CollectionError(f"index {cdxj} of {wf.filename} is missing")
        if wf.cdxj_sha256 and sha256_file(cdxj) != wf.cdxj_sha256:
            raise CollectionError(f"index {cdxj} of {wf.filename} has changed since the crawl")
        return cdxj
    if warc is None:
        warc = local_copy(settings, wf.path)
    # No index recorded: index the WARC with pywb's indexer (a subprocess), sorted.
    out = scratch / (wf.filename + ".cdxj")
    proc = subprocess.run(
        [venv_tool("cdxj-indexer"), "--sort", "-o", str(out), str(warc)],
        capture_output=True, text=True, timeout=3600,
    )
    if proc.returncode != 0 or not out.exists():
        raise CollectionError(f"cannot index {wf.filename}: {proc.stderr.strip()[-300:]}")
    return out


def local_runs(settings: Settings, name: str) -> set[int]:
    """The runs merged into this machine's index of collection ``name``."""
    path = collection_dir(settings, name) / "indexes" / RUNS_NAME
    try:
        return {int(line) for line in path.read_text().split()}
    except FileNotFoundError:
        return set()


def _merged_lines(paths: list[Path]) -> Iterator[bytes]:
    files: list[IO[bytes]] = [open(p, "rb") for p in paths]  # noqa: SIM115
    try:
        last = None
        for line in heapq.merge(*files):
            if not line.endswith(b"\n"):
                line += b"\n"
            if line == last or not line.strip():
                continue
            last = line
            yield line
    finally:
        for fh in files:
            fh.close()


def _link(src: Path, dst: Path) -> bool:
    """Link ``src`` at ``dst``; return True when a new link was made."""
    if dst.exists() or dst.is_symlink():
        if dst.exists() and os.path.samefile(src, dst):
            return False
        raise CollectionError(f"{dst} exists and is not {src}: refusing to replace it")
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(src, dst)
    return True


def add_run_to_collection(settings: Settings, run_id: int) -> Path:
    """Put a run's WARCs and index lines into its site's collection; return the collection dir.

    Idempotent. Everything is checked before anything changes; a failure leaves the collection
    as it was.
    """
    from replay.access import write_acl

    with session_scope(settings) as db:
        run = load_run(db, run_id)
        site: Site = run.site
        name = site.name
        warcs = list(run.warc_files)
        plan = [(wf, _check_warc(settings, wf)) for wf in warcs]

    cdir = collection_dir(settings, name)
    archive_dir, index = cdir / "archive", cdir / "indexes" / INDEX_NAME
    if run_id in local_runs(settings, name) and index.exists() and all(
        path is None or (archive_dir / wf.filename).exists() for wf, path in plan
    ):
        return cdir

    with locked(settings.collections_dir / f".{name}.lock"), in_use(settings), \
            tempfile.TemporaryDirectory(prefix=".scratch-", dir=_mkdir(settings.collections_dir)) as tmp:
        sources = [_index_for(settings, wf, path, Path(tmp)) for wf, path in plan]
        archive_dir.mkdir(parents=True, exist_ok=True)
        index.parent.mkdir(parents=True, exist_ok=True)
        made: list[Path] = []
        # An embargo covers new hosts first; only this collection's hosts change.
        write_acl(settings, extra_indexes={name: sources}, only=[name])
        try:
            for wf, path in plan:  # a WARC in the bucket: pywb reads it there (archive_paths)
                if path is not None and _link(path, archive_dir / wf.filename):
                    made.append(archive_dir / wf.filename)
            lines = 0
            inputs = ([index] if index.exists() else []) + sources
            with atomic_file(index) as out:
                for line in _merged_lines(inputs):
                    out.write(line)
                    lines += 1
            merged = sorted(local_runs(settings, name) | {run_id})
            write_atomic(cdir / "indexes" / RUNS_NAME, "".join(f"{r}\n" for r in merged).encode())
        except BaseException:
            for p in made:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        with session_scope(settings) as db:
            row = db.scalar(select(CollectionRun).where(CollectionRun.run_id == run_id))
            if row is None:
                row = CollectionRun(collection=name, run_id=run_id)
                db.add(row)
            row.warcs = len(plan)
            row.index_lines = lines
    write_config(settings, acls_of=[name])
    return cdir


def remove_from_collection(settings: Settings, name: str, filenames: set[str]) -> int:
    """Take WARC files out of collection ``name`` for good (destruction): their lines leave the
    merged index (rewritten under a temporary name, then renamed, so pywb never reads half an
    index) and their links leave ``archive/``. Returns the number of index lines removed.
    Idempotent: a file already out of the collection is skipped."""
    cdir = collection_dir(settings, name)
    index = cdir / "indexes" / INDEX_NAME
    removed = 0
    if not cdir.is_dir():
        return 0
    with locked(settings.collections_dir / f".{name}.lock"):
        if index.is_file():
            names = [n.encode() for n in filenames]
            with open(index, "rb") as fh, atomic_file(index) as out:  # one streaming pass
                for line in fh:
                    if any(n in line for n in names) and _filename_of(line) in filenames:
                        removed += 1
                    else:
                        out.write(line)
        for filename in filenames:
            link = cdir / "archive" / filename
            if link.is_symlink() or link.exists():
                link.unlink()
    return removed


def _filename_of(line: bytes) -> str | None:
    """The WARC file a CDXJ line points into (its JSON's ``filename``)."""
    _, _, rest = line.partition(b" {")
    try:
        value = json.loads(b"{" + rest).get("filename")
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def collection_names(settings: Settings) -> list[str]:
    root = settings.collections_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "indexes" / INDEX_NAME).is_file())


def verify_collection(settings: Settings, name: str) -> list[str]:
    """Problems with a collection's files: missing index, dangling or missing WARC links."""
    problems: list[str] = []
    cdir = collection_dir(settings, name)
    if not (cdir / "indexes" / INDEX_NAME).is_file():
        problems.append(f"collection {name}: index {cdir / 'indexes' / INDEX_NAME} is missing")
    with session_scope(settings) as db:
        rows = db.execute(
            select(WarcFile.filename, WarcFile.size, WarcFile.path)
            .join(CollectionRun, CollectionRun.run_id == WarcFile.run_id)
            .where(CollectionRun.collection == name)
        ).all()
    for filename, size, location in rows:
        link = cdir / "archive" / filename
        if is_remote(location):
            found = remote_size(settings, location)
            if found is None:
                problems.append(f"collection {name}: WARC {filename} is missing from the "
                                f"bucket ({location})")
            elif found != size:
                problems.append(f"collection {name}: WARC {filename} has changed (size)")
        elif not link.exists():
            problems.append(f"collection {name}: WARC {filename} is missing from {link.parent}")
        elif link.stat().st_size != size:
            problems.append(f"collection {name}: WARC {filename} has changed (size)")
    return problems


def archive_paths(settings: Settings, name: str) -> list[str]:
    """Where pywb looks for a collection's WARCs: its archive/ folder of links to local
    files, then, with a bucket as storage, the bucket's folder of the site (pywb reads byte
    ranges of s3:// objects itself, through boto3, with the same AWS_* variables)."""
    paths = [str(collection_dir(settings, name) / "archive") + "/"]
    store = bucket(settings)
    if store is not None:
        paths.append(store.url_of(warc_key(name, "")))
    return paths


def write_config(settings: Settings, *, target: Path | None = None, access: bool = True,
                 acls_of: list[str] | None = None) -> Path:
    """(Re)write config.yaml for every collection: indexes, archives and its ACL file.

    Access rules and embargoes live in the ACL files only (``replay.access``), which pywb reads
    for every query: changing them needs no new config.yaml and no restart. ``access=False``
    leaves them out (for replay QA, written to ``target``). ``acls_of``: the collections whose
    ACL files are (re)written first, besides any that has none yet; default all.
    """
    from replay.access import collection_acl, write_acl  # ACL files exist before pywb starts

    root = _mkdir(settings.collections_dir)
    if access:
        only = None if acls_of is None else set(acls_of) | {
            n for n in collection_names(settings) if not collection_acl(settings, n).exists()}
        write_acl(settings, only=only)
    colls: dict[str, dict[str, object]] = {}
    for name in collection_names(settings):
        cdir = root / name
        entry: dict[str, object] = {
            "index_paths": str(cdir / "indexes") + "/",
            "archive_paths": archive_paths(settings, name),
            "default_access": "allow",
        }
        if access:
            entry["acl_paths"] = [str(collection_acl(settings, name))]
        colls[name] = entry
    config = {
        # pywb lists every entry of its collections root as a collection: give it an empty one
        # and name the real collections explicitly.
        "collections_root": str(_mkdir(root / ".pywb-root")),
        "collections": colls,
        "enable_memento": True,
        "framed_replay": True,
    }
    path = target or root / CONFIG_NAME
    # JSON is YAML: no YAML writer needed.
    write_atomic(path, (json.dumps(config, indent=2) + "\n").encode())
    return path
