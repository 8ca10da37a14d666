"""Build and seal one archive package: bag, MDTO sidecars, CMS seal, RFC 3161 time-stamp.

Everything is written under ``packages_dir/.tmp-<id>`` and renamed when complete, so a failed
seal leaves nothing under a package name.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from archive.db import session_scope
from archive.errors import BewaarError, StorageError
from archive.files import fsync_dir
from archive.models.package import Package
from archive.models.records import Retention
from archive.package import bag, mdto
from archive.package.chain import previous_package
from archive.package.cms import sign_detached
from archive.package.keys import SealIdentity, load_identity
from archive.package.organisation import Organisation, require_organisation
from archive.package.parallel import run_batched
from archive.package.retention import end_dates, trigger_date
from archive.package.rfc3161 import parse_response, request_timestamp
from archive.package.selectielijst import Category, find_category
from archive.package.verify_txt import VerifyFacts, fingerprint, render, root_of
from archive.settings import Settings
from archive.storage import bucket, cache, delete_location, package_key, store_folder

SOFTWARE = "Bewaarplaats 0.1.0"
# crawl: a web crawl; chat: a chat export; records: a record of the archive's own life cycle
# (the verklaring van vernietiging).
SOURCE_KINDS = ("crawl", "chat", "records")
SIG_NAME = "tagmanifest-sha512.txt.p7s"
TSR_NAME = SIG_NAME + ".tsr"


class PackageError(BewaarError):
    """A package could not be built."""


@dataclass(frozen=True)
class PackageInput:
    relpath: str  # inside bag/data/
    source: str | os.PathLike[str] | bytes  # a file, or the bytes themselves
    mime: str | None = None
    # An immutable finished file (a closed WARC) may be hard-linked into the bag instead of
    # copied when both are on one file system; it is still hashed exactly once.
    link: bool = False
    # With ``link``: the sha512 and size recorded when the file was written. The file is then
    # linked without being read again; a size that differs fails the seal. Should its bytes
    # have changed since, the package holds the digest of what was written, so every
    # verification reports the change instead of a seal over altered bytes.
    sha512: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class PackageResult:
    id: str
    path: Path
    tagmanifest_sha512: str
    previous_id: str | None
    timestamped: bool
    location: str = ""  # what the database records: the folder, or its s3:// URL


_BAD_IN_NAME = re.compile(r"[\r\n\0%\\]|(?:^|/)\.{0,2}(?:/|$)")


def _check_relpath(relpath: str) -> str:
    """A relative POSIX path with no empty, '.' or '..' segment and no CR, LF, NUL, '%' or
    backslash (string checks: this runs once per file)."""
    if not relpath or relpath[0] == "/" or _BAD_IN_NAME.search(relpath):
        raise PackageError(f"bad file name in package: {relpath!r} (relative, no '..', "
                           "no '%', CR or LF)")
    if relpath.endswith(".mdto.xml"):
        raise PackageError(f"file name {relpath!r} is reserved for MDTO sidecars")
    return relpath


def _source_size(source: str | bytes) -> int:
    if isinstance(source, bytes):
        return len(source)
    try:
        st = os.stat(source)
    except OSError as exc:
        raise PackageError(f"cannot package {source}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise PackageError(f"cannot package {source}: not a file")
    return st.st_size


def new_package_id(source_name: str, now: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", source_name).strip("-.")[:80] or "source"
    return f"{safe}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _write(path: Path, data: bytes) -> str:
    digest, _ = bag.copy_hashed(data, path)
    return digest


def build_package(
    settings: Settings,
    *,
    source_kind: str,
    source_name: str,
    title: str,
    category: str | None,
    files: Iterable[PackageInput],
    bag_info: dict[str, str] | None = None,
    description: str | None = None,
    period: tuple[datetime, datetime] | None = None,
    run_id: int | None = None,
    progress: Callable[[int], None] | None = None,
    valuation: Category | None = None,
    events: Iterable[mdto.Event] = (),
    source_event: tuple[str, str] | None = None,
    described: mdto.Described | None = None,
) -> PackageResult:
    """Build, seal and register a package; return where it is. See the module docstring.

    ``valuation`` values the package by a category that is not in the selectielijst (the
    verklaring van vernietiging, kept for good by law); ``events`` are MDTO events written
    after the package's own (one ``Vernietigen`` per destroyed package); ``source_event``
    (label, result) replaces the source kind's first event (an imported web archive);
    ``described``: trefwoorden, talen and betrokkenen a person accepted (archivist/)."""
    if source_kind not in SOURCE_KINDS:
        raise PackageError(f"source kind must be one of {', '.join(SOURCE_KINDS)}, "
                           f"not {source_kind!r}")
    cat: Category | None = valuation or (find_category(settings, category) if category
                                         else None)
    events = list(events)
    organisation = require_organisation(settings)  # before anything is written
    identity = load_identity(settings)  # bad keys too
    prev = previous_package(settings, source_kind, source_name)
    created = datetime.now(UTC)
    if prev is not None:  # keep the chain's order strict even within one clock tick
        prev_at = prev.created_at if prev.created_at.tzinfo else prev.created_at.replace(tzinfo=UTC)
        created = max(created, prev_at + timedelta(microseconds=1))
    now = created.replace(microsecond=0)
    package_id = new_package_id(source_name, now)
    try:
        settings.packages_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackageError(f"cannot create {settings.packages_dir}: {exc.strerror}") from None
    final = settings.packages_dir / package_id
    tmp = settings.packages_dir / f".tmp-{package_id}"
    try:
        result = _build(settings, tmp, package_id, organisation, identity, cat, prev, now,
                        source_kind, source_name, title, files, bag_info, description, period,
                        run_id, progress, events, source_event, described)
        os.rename(tmp, final)
        fsync_dir(settings.packages_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    digest, files_n, size = result
    # With a bucket: stored whole before it is recorded under its URL; a failed upload leaves
    # the sealed folder here and records it by its path (archive.handover.push_package).
    location, not_stored = str(final), None
    if bucket(settings) is not None:
        try:
            location = store_folder(settings, final, package_key(package_id))
            final = cache(settings).path(package_key(package_id))
        except StorageError as exc:
            not_stored = str(exc)
    try:
        with session_scope(settings) as db:
            db.add(Package(
                id=package_id, source_kind=source_kind, source_name=source_name, run_id=run_id,
                title=title, category=cat.code if cat else category, path=location,
                tagmanifest_sha512=digest,
                previous_id=prev.id if prev else None, timestamped=bool(settings.tsa_url),
                files=files_n, bytes=size, created_at=created,
            ))
            db.flush()
            db.add(_retention(package_id, cat, period, now))
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        if location != str(final):
            with contextlib.suppress(StorageError):
                delete_location(settings, location, folder=True)
        raise
    if not_stored:
        raise StorageError(f"package {package_id} is sealed in {final} but not stored: "
                           f"{not_stored}; sealing again stores it once the bucket takes it")
    return PackageResult(package_id, final, digest, prev.id if prev else None,
                         bool(settings.tsa_url), location)


def _retention(package_id: str, cat: Category | None,
               period: tuple[datetime, datetime] | None, now: datetime) -> Retention:
    """The package's valuation as its MDTO states it (archive.package.retention)."""
    start = trigger_date(cat.trigger if cat else None, period, now)
    if cat is None:
        return Retention(package_id=package_id, waardering="N", trigger_date=start)
    end, transfer = end_dates(cat.waardering, cat.bewaartermijn, start)
    return Retention(package_id=package_id, category=cat.code, waardering=cat.waardering,
                     bewaartermijn=cat.bewaartermijn, trigger=cat.trigger, trigger_date=start,
                     end_date=end, transfer_date=transfer)


# What the workers get and give back: plain tuples of strings, cheap to send between processes.
# relpath, source, size, link, media type, known sha512
_Job = tuple[str, str | bytes, int, bool, str | None, str | None]
_Copied = tuple[str, str, int, str | None]  # relpath, sha512, size, media type


def _build(
    settings: Settings, tmp: Path, package_id: str, organisation: Organisation,
    identity: SealIdentity, cat: Category | None, prev: Package | None, now: datetime, source_kind: str, source_name: str, title: str,
    files: Iterable[PackageInput], extra_info: dict[str, str] | None, description: str | None,
    period: tuple[datetime, datetime] | None, run_id: int | None,
    progress: Callable[[int], None] | None, events: list[mdto.Event],
    source_event: tuple[str, str] | None = None, described: mdto.Described | None = None,
) -> tuple[str, int, int]:
    bag_dir = tmp / "bag"
    data = bag_dir / "data"
    data.mkdir(parents=True)
    object_sidecar = f"{package_id}.mdto.xml"
    relpaths: list[str] = []
    seen: set[str] = set()

    def jobs() -> Iterator[_Job]:
        for item in files:
            rel = _check_relpath(item.relpath)
            if rel in seen:
                raise PackageError(f"file {rel!r} given twice")
            source = item.source if isinstance(item.source, bytes) else os.fspath(item.source)
            size = _source_size(source)
            known = None
            if item.sha512 is not None and item.link and isinstance(source, str):
                if size != item.size:
                    raise PackageError(f"cannot package {source}: it has changed since it was "
                                       f"written ({size} bytes, recorded {item.size})")
                known = item.sha512
            seen.add(rel)
            relpaths.append(rel)
            yield rel, source, size, item.link, item.mime, known

    data_dir = str(data)

    def copy_batch(batch: list[_Job]) -> list[_Copied]:
        out: list[_Copied] = []
        for rel, source, size, link, mime, known in batch:
            target = f"{data_dir}/{rel}"
            if known is not None:
                assert isinstance(source, str)
                digest = known
                bag.link_file(source, target)
            elif link and isinstance(source, str):
                digest, size = bag.link_hashed(source, target)
            else:
                digest, size = bag.copy_hashed(source, target)
            out.append((rel, digest, size, mime))
        return out

    manifest = bag.Manifest()

    def write_sidecars(copied: list[_Copied]) -> None:
        """In this process alone: creating files in one folder from several processes at once
        makes them wait for each other in the kernel (the folder and the inode table are locked
        for every new file), while the hashing spreads well."""
        checked_at = mdto.xml_datetime(datetime.now(UTC))
        for rel, digest, size, mime in copied:
            sidecar = mdto.bestand_xml(package_id=package_id, relpath=rel, size=size,
                                       sha512=digest, checked_at=checked_at, object_name=title,
                                       mime=mime)
            sc_digest, sc_size = bag.copy_hashed(sidecar, f"{data_dir}/{rel}{mdto.SIDECAR}")
            manifest.add(f"data/{rel}", digest, size)
            manifest.add(f"data/{rel}{mdto.SIDECAR}", sc_digest, sc_size)
        if progress:
            progress(sum(c[2] for c in copied))

    with bag.flushing(tmp):
        run_batched(copy_batch, jobs(), weight=itemgetter(2), on_done=write_sidecars)
    if not relpaths:
        raise PackageError("nothing to package: no files given")
    obj = mdto.informatieobject_xml(
        package_id=package_id, title=title, description=description,
        organisation=organisation, category=cat, created=now, period=period, files=sorted(relpaths),
        source_kind=source_kind, previous_id=prev.id if prev else None, events=events,
        source_event=source_event, described=described,
    )
    manifest.add(f"data/{object_sidecar}", _write(data / object_sidecar, obj), len(obj))
    oxum = f"{manifest.bytes}.{len(manifest)}"
    info: list[tuple[str, str]] = [
        ("Source-Organization", organisation.name),
        ("Organization-Identifier", organisation.identifier),
        ("External-Identifier", package_id),
        ("External-Description", description or title),
        ("Bagging-Date", now.date().isoformat()),
        ("Bewaar-Sealed-At", mdto.xml_datetime(now)),
        ("Payload-Oxum", oxum),
        ("Bag-Software-Agent", SOFTWARE),
        ("Bag-Group-Identifier", f"{source_kind}:{source_name}"),
        ("Bewaar-Source-Kind", source_kind),
        ("Bewaar-Source-Name", source_name),
        ("Bewaar-Title", title),
    ]
    if run_id is not None:
        info.append(("Bewaar-Run-Id", str(run_id)))
    if cat is not None:
        info.append(("Bewaar-Selectielijst-Category", cat.code))
    if period is not None:
        info.append(("Bewaar-Period", f"{mdto.xml_datetime(period[0])}/{mdto.xml_datetime(period[1])}"))
    if prev is not None:
        info.append(("Bewaar-Previous-Package", prev.id))
        info.append(("Bewaar-Previous-Tagmanifest-SHA512", prev.tagmanifest_sha512))
    reserved = {k for k, _ in info} | {"Bewaar-Previous-Package"}
    for key, value in (extra_info or {}).items():
        if key in reserved or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key):
            raise PackageError(f"bag-info field {key!r} is reserved or not a valid name")
        info.append((key, value))
    tags = {
        "bagit.txt": bag.BAGIT_TXT,
        "bag-info.txt": bag.bag_info_text(info),
        "manifest-sha512.txt": manifest.text(),
    }
    tag_manifest = bag.Manifest()
    for name, body in tags.items():
        tag_manifest.add(name, _write(bag_dir / name, body), len(body))
    tagmanifest = tag_manifest.text()
    tagmanifest_digest = _write(bag_dir / "tagmanifest-sha512.txt", tagmanifest)

    seal = tmp / "seal"
    seal.mkdir()
    signature = sign_detached(tagmanifest, identity.cert, identity.key, identity.chain)
    _write(seal / SIG_NAME, signature)
    chain_pem = b"".join(c.public_bytes(Encoding.PEM) for c in [identity.cert, *identity.chain])
    _write(seal / "signer-chain.pem", chain_pem)
    tsa_root = None
    if settings.tsa_url:
        reply = request_timestamp(settings.tsa_url, signature)
        token = parse_response(reply, signature)
        _write(seal / TSR_NAME, reply)
        _write(seal / "tsa-chain.pem",
               b"".join(c.public_bytes(Encoding.PEM) for c in token.certificates))
        tsa_root = root_of(token.certificates)
    seal_root = root_of([identity.cert, *identity.chain])
    _write(seal / "VERIFY.txt", render(VerifyFacts(
        package_id=package_id, software=SOFTWARE, sealed_at=mdto.xml_datetime(now),
        organisation=organisation.name, organisation_id=organisation.identifier,
        organisation_id_source=organisation.id_source, source=f"{source_kind}:{source_name}",
        sig_name=SIG_NAME, tsr_name=TSR_NAME, local_seal=identity.local,
        seal_root_fingerprint=fingerprint(seal_root) if seal_root else None,
        timestamped=bool(settings.tsa_url),
        tsa_root_fingerprint=fingerprint(tsa_root) if tsa_root else None,
        previous_id=prev.id if prev else None,
    )))
    bag.sync_tree(tmp)
    payload_files = len(relpaths)
    payload_bytes = manifest.bytes
    return tagmanifest_digest, payload_files, payload_bytes
