"""A SIP for the e-Depot after the Nationaal Archief's MDTO SIP specification.

Layout (the sidecar structure; each aggregation is a folder, one parent per object)::

    DIR/pakbon.xml                                 the packing slip (archive.package.pakbon)
    DIR/<package>/<package>.mdto.xml               the package: one informatieobject
    DIR/<package>/<file>                           each payload file, its path flattened
                                                   into the folder (pages/a.html: pages_a.html)
    DIR/<package>/<file>.bestand.mdto.xml          its bestand sidecar (sha256 and sha512)
    DIR/<package>/seal_tagmanifest-sha512.txt.p7s  the seal, its time-stamp (….p7s.tsr), their
    DIR/<package>/bag_manifest-sha512.txt …        chains, and the bag files the seal covers,
                                                   each with its own bestand sidecar

The package's own sealed sidecars are not copied (a receiver would take every ``*.mdto.xml``
for a SIP sidecar): the SIP has its own, and the sealed information object is carried over
into ``<package>.mdto.xml``.

Names follow the specification: unique in the whole SIP (case-insensitively), none of
``< > : " / \\ | ? * # &`` or a space (nor control characters or a leading dot), and each
sidecar name at most 255 bytes. The original path stays in each bestand's identificatie
(``<package id>/<path in the package>``).

Each payload file is copied with its sha512 checked against the package's manifest on the way
(what the seal covers), so the SIP holds the sealed bytes even if the package changed after it
was verified. Everything is written under a temporary folder beside DIR and renamed at the end;
the tar likewise under a temporary name beside it.

The pakbon's ``hashSIP`` is SHA-256 over the listing of the SIP's content: for every file but
``pakbon.xml``, sorted by its path relative to DIR (UTF-8), the line
``<sha256 of the file>  <path>\\n``. It is the same for the folder and the tar.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from archive.errors import BewaarError, Finding, ValidationError
from archive.files import fsync_dir
from archive.package import bag, mdto
from archive.package.build import SIG_NAME, TSR_NAME
from archive.package.formats import identify
from archive.package.organisation import Organisation
from archive.package.pakbon import PAKBON, pakbon_xml
from archive.package.sip_mdto import (
    SipFile,
    SipMdtoError,
    bestand_xml,
    informatieobject_xml,
    object_name,
)

OBJECT_SIDECAR = ".mdto.xml"
MAX_SIDECAR = 255  # bytes of "<name>.mdto.xml" / "<file>.bestand.mdto.xml"
_FORBIDDEN = re.compile(r'[<>:"/\\|?*#&\s\x00-\x1f\x7f“”]')
# Files of the package besides its payload: what the seal covers and the seal itself.
_SEAL_FILES = (("bag/bagit.txt", "text/plain"), ("bag/bag-info.txt", "text/plain"),
               ("bag/manifest-sha512.txt", "text/plain"),
               ("bag/tagmanifest-sha512.txt", "text/plain"),
               (f"seal/{SIG_NAME}", "application/pkcs7-signature"),
               ("seal/signer-chain.pem", "application/x-pem-file"),
               (f"seal/{TSR_NAME}", "application/timestamp-reply"),
               ("seal/tsa-chain.pem", "application/x-pem-file"))


class SipError(BewaarError):
    """A SIP cannot be written (the target is in the way, a package is unreadable)."""


@dataclass(frozen=True)
class SipSource:
    """A verified package to put in the SIP, with what its seal check found."""

    package_id: str
    path: Path
    signer: str | None
    timestamp: str | None  # the time-stamp's time, when it has one
    validated_at: datetime


@dataclass
class SipResult:
    id: str
    path: Path
    tar: Path | None
    objects: int
    files: int  # bestanden: every file but the .mdto.xml sidecars and the pakbon
    bytes: int
    sip_hash: str  # "SHA-256:<hex>"
    folders: dict[str, str] = field(default_factory=dict)  # package id -> folder
    validations: dict[str, str] = field(default_factory=dict)  # package id -> event result
    formats: dict[str, int] = field(default_factory=dict)  # "fmt/18 PDF 1.4" -> files
    by_extension_only: list[str] = field(default_factory=list)
    unidentified: list[str] = field(default_factory=list)


def clean_name(name: str, limit: int) -> str:
    """A name within the specification's rules: forbidden characters become '_', at most
    ``limit`` UTF-8 bytes (the stem is cut and a short hash of the whole keeps it unique)."""
    out = _FORBIDDEN.sub("_", name) or "bestand"
    if out.startswith("."):  # no hidden files, no "." or ".."
        out = "_" + out[1:]
    if len(out.encode()) <= limit:
        return out
    stem, dot, ext = out.partition(".")
    ext = (dot + ext)[:40]
    tag = "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    room = limit - len(ext.encode()) - len(tag)
    cut = stem.encode()[:max(room, 1)].decode("utf-8", "ignore")
    return cut + tag + ext


class _Names:
    """Names taken in the SIP (the specification: unique in the whole delivery)."""

    def __init__(self) -> None:
        self.taken: set[str] = {PAKBON.casefold()}

    def take(self, wanted: str, limit: int) -> str:
        name = clean_name(wanted, limit)
        n = 1
        candidate = name
        while candidate.casefold() in self.taken:
            n += 1
            stem, dot, ext = name.partition(".")
            candidate = clean_name(f"{stem}-{n}{dot}{ext}", limit)
        self.taken.add(candidate.casefold())
        return candidate


def _copy(source: Path, target: Path) -> tuple[dict[str, str], int]:
    hs = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512()}
    size = 0
    with open(source, "rb") as src, open(target, "xb") as out:
        while block := src.read(bag.BLOCK):
            for h in hs.values():
                h.update(block)
            out.write(block)
            size += len(block)
    return {k: h.hexdigest() for k, h in hs.items()}, size


def _write(path: Path, data: bytes) -> str:
    with open(path, "xb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def check_target(target: Path, tar: Path | None) -> None:
    """Refuse a target folder that exists and is not empty, or a tar that exists."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise SipError(f"{target} exists and is not an empty folder: give a new folder")
    if tar is not None and (tar.exists() or tar.is_symlink()):
        raise SipError(f"{tar} exists already: give a new file name")
    if tar is not None and tar.resolve().is_relative_to(target.resolve()):
        raise SipError(f"the tar {tar} may not be inside the SIP folder {target}")
    if tar is not None and not tar.parent.is_dir():
        raise SipError(f"the folder of the tar, {tar.parent}, does not exist")


@dataclass
class StagedSip:
    """A SIP written under temporary names: ``finish`` renames it, ``discard`` removes it."""

    result: SipResult
    tmp: Path
    tar_tmp: Path | None

    def finish(self) -> None:
        target = self.result.path
        os.rename(self.tmp, target)  # onto an empty folder too
        fsync_dir(target.parent)
        if self.tar_tmp is not None and self.result.tar is not None:
            os.rename(self.tar_tmp, self.result.tar)
            fsync_dir(self.result.tar.parent)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.tar_tmp is not None:
            self.tar_tmp.unlink(missing_ok=True)


def stage_sip(sources: list[SipSource], target: Path, *, sip_id: str, title: str,
              organisation: Organisation, created: datetime, parent: str | None = None,
              contact: str | None = None, tar: Path | None = None) -> StagedSip:
    """Write the SIP under temporary names beside ``target`` (and ``tar``); see the module
    docstring. A payload file that differs from its manifest raises ``ValidationError``."""
    target = target.absolute()
    tar = tar.absolute() if tar is not None else None
    check_target(target, tar)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-sip-{target.name}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise SipError(f"cannot write beside {target}: {exc.strerror}") from None
    staged = StagedSip(SipResult(sip_id, target, tar, 0, 0, 0, ""), tmp, None)
    try:
        _fill(staged, sources, sip_id=sip_id, title=title, organisation=organisation,
              created=created, parent=parent, contact=contact)
        bag.sync_tree(tmp)
        if tar is not None:
            staged.tar_tmp = tar.parent / f".tmp-{tar.name}-{secrets.token_hex(4)}"
            _write_tar(tmp, staged.tar_tmp, target.name, created)
    except BaseException:
        staged.discard()
        raise
    return staged


def _fill(staged: StagedSip, sources: list[SipSource], *, sip_id: str, title: str,
          organisation: Organisation, created: datetime, parent: str | None,
          contact: str | None) -> None:
    tmp, result = staged.tmp, staged.result
    names = _Names()
    listing: dict[str, str] = {}  # path in the SIP -> sha256
    findings: list[Finding] = []
    per_package: list[tuple[SipSource, str, bytes, list[tuple[str, str, dict[str, str], int,
                                                                 str]]]] = []
    media: dict[str, str] = {}
    for src in sources:
        folder = names.take(src.package_id, MAX_SIDECAR - len(OBJECT_SIDECAR))
        (tmp / folder).mkdir()
        result.folders[src.package_id] = folder
        bag_dir = src.path / "bag"
        try:
            original = (bag_dir / "data" / f"{src.package_id}{OBJECT_SIDECAR}").read_bytes()
            entries, _bad = bag.parse_manifest(
                (bag_dir / "manifest-sha512.txt").read_text("utf-8"))
            tags, _bad = bag.parse_manifest(
                (bag_dir / "tagmanifest-sha512.txt").read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SipError(f"cannot read package {src.package_id}: {exc}") from None
        payload = sorted(r for r in entries if r.startswith("data/")
                         and not r.endswith(OBJECT_SIDECAR))
        bad = [r for r in payload if r.startswith("/") or ".." in r.split("/")]
        if bad:
            raise SipError(f"package {src.package_id}: its manifest names a path outside the "
                           f"bag: {bad[0]!r}")
        copied = []
        wanted: list[tuple[str, str, str | None, str | None]] = [
            (r, r[len("data/"):], entries[r], None) for r in payload]
        wanted += [(rel, rel, tags.get(rel[len("bag/"):]) if rel.startswith("bag/") else None,
                    mime) for rel, mime in _SEAL_FILES if (src.path / rel).is_file()]
        for rel, inner, expected, mime in wanted:
            source = bag_dir / rel if rel.startswith("data/") else src.path / rel
            name = names.take(inner.replace("/", "_"), MAX_SIDECAR - len(mdto.SIDECAR))
            try:
                digests, size = _copy(source, tmp / folder / name)
            except OSError as exc:
                raise SipError(f"cannot copy {source}: {exc.strerror}") from None
            if expected is not None and digests["sha512"] != expected:
                findings.append(Finding(f"{src.package_id}/{inner}",
                                        "sha512 does not match the package's manifest",
                                        expected, digests["sha512"]))
            listing[f"{folder}/{name}"] = digests["sha256"]
            if mime:
                media[str(tmp / folder / name)] = mime
            copied.append((name, inner if rel.startswith("data/") else rel, digests, size,
                           str(tmp / folder / name)))
        per_package.append((src, folder, original, copied))
    if findings:
        raise ValidationError("a package changed after it was verified: no SIP written",
                              findings)
    formats = identify([c[4] for _s, _f, _o, files in per_package for c in files], media=media)
    for src, folder, original, copied in per_package:
        try:
            naam = object_name(original)
        except SipMdtoError as exc:
            raise SipError(f"package {src.package_id}: {exc}") from None
        sip_files = []
        for name, inner, digests, size, path in copied:
            fmt = formats[path]
            f = SipFile(name, f"{src.package_id}/{inner}", size, digests, fmt)
            sip_files.append(f)
            result.files += 1
            result.bytes += size
            result.formats[f"{fmt.code} {fmt.label}"] = result.formats.get(
                f"{fmt.code} {fmt.label}", 0) + 1
            if fmt.by_extension_only:
                result.by_extension_only.append(f"{folder}/{name}")
            if fmt.vocabulary != "PRONOM-register":
                result.unidentified.append(f"{folder}/{name}")
            doc = bestand_xml(f, checked_at=created, object_name=naam,
                              package_id=src.package_id)
            _valid(doc, f"{folder}/{name}{mdto.SIDECAR}")
            listing[f"{folder}/{name}{mdto.SIDECAR}"] = _write(
                tmp / folder / f"{name}{mdto.SIDECAR}", doc)
        validation = _validation_text(src, {f.ident.partition("/")[2]: f.name
                                            for f in sip_files})
        result.validations[src.package_id] = validation
        events = [("Export", created, f"Geëxporteerd in SIP {sip_id} ({title}) voor "
                                      "overbrenging naar een archiefbewaarplaats."),
                  ("Validatie Handtekening", src.validated_at, validation)]
        doc = informatieobject_xml(original, files=sip_files, parent=parent,
                                   organisation=organisation, events=events)
        _valid(doc, f"{folder}/{folder}{OBJECT_SIDECAR}")
        listing[f"{folder}/{folder}{OBJECT_SIDECAR}"] = _write(
            tmp / folder / f"{folder}{OBJECT_SIDECAR}", doc)
        result.objects += 1
    lines = "".join(f"{digest}  {path}\n" for path, digest in
                    sorted(listing.items(), key=lambda kv: kv[0].encode()))
    result.sip_hash = "SHA-256:" + hashlib.sha256(lines.encode()).hexdigest()
    _write(tmp / PAKBON, pakbon_xml(result, title=title, organisation=organisation,
                                 created=created, parent=parent, contact=contact))


def _valid(doc: bytes, where: str) -> None:
    problems = mdto.validate(doc)
    if problems:  # a fault of this code, never of the package: stop before anything leaves
        raise SipError(f"{where} would not be valid MDTO: {'; '.join(problems)}")


def _validation_text(src: SipSource, names: dict[str, str]) -> str:
    """The result of the seal check, naming the files of the SIP it is about (``names``: path
    in the package -> name in the SIP)."""
    def n(rel: str) -> str:
        return names.get(rel, rel)

    text = (f"Zegel gecontroleerd: de CMS-handtekening {n(f'seal/{SIG_NAME}')} over "
            f"{n('bag/tagmanifest-sha512.txt')} is geldig en gezet door "
            f"{src.signer or 'onbekend'}; elk bestand klopt met "
            f"{n('bag/manifest-sha512.txt')}, dat door het tagmanifest gedekt wordt.")
    if src.timestamp:
        text += (f" Het tijdstempel {n(f'seal/{TSR_NAME}')} (RFC 3161) over de handtekening "
                 f"is geldig, van {src.timestamp}.")
    else:
        text += " Het pakket heeft geen tijdstempel."
    return text


def _write_tar(folder: Path, out: Path, top: str, created: datetime) -> None:
    """The folder as a POSIX (pax) tar under ``top/``, in a fixed order and with fixed owners
    and times, fsynced."""
    stamp = int(created.timestamp())

    def norm(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = stamp
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    try:
        with open(out, "xb") as fh:
            with tarfile.TarFile(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT,
                                 copybufsize=bag.BLOCK * 8) as tf:
                tf.add(folder, arcname=top, recursive=False, filter=norm)
                for path in sorted(folder.rglob("*"), key=lambda p: str(p).encode()):
                    rel = path.relative_to(folder).as_posix()
                    tf.add(path, arcname=f"{top}/{rel}", recursive=False, filter=norm)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise SipError(f"cannot write the tar {out}: {exc.strerror}") from None
