"""Reading a WACZ made elsewhere (Browsertrix, ReplayWeb.page, ``bewaar export wacz``).

``unpack_wacz(path, into)`` checks the ZIP before it takes anything from it, then verifies
``datapackage.json``: every resource it lists is in the ZIP with the hash and size it states
(and ``datapackage-digest.json``, when present, matches ``datapackage.json``). The WARC files
under ``archive/`` are written into ``into`` (each ``into/N/NAME``), hashed on the way; the
caller imports them as WARCs (``crawler.imports``).

A WACZ is refused (``WaczRefused``, nothing kept) when it is not a ZIP, has no
``datapackage.json``, has a member whose name could escape (absolute, ``..``, backslashes, a
drive), an encrypted, oversize or suspiciously well-compressed member (a ZIP bomb), a resource
whose hash differs, or a WARC that ``datapackage.json`` does not vouch for.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from archive.errors import BewaarError

MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 64 * 1024**3
MAX_TOTAL_BYTES = 256 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed for a deflated member bigger than 1 MiB
MAX_JSON_BYTES = 16 * 1024 * 1024
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
KEPT_FIELDS = ("title", "software", "created", "modified", "wacz_version", "mainPageURL",
               "mainPageDate", "description")


class WaczRefused(BewaarError):
    """The WACZ cannot be taken; nothing of it is imported."""


@dataclass
class WaczContents:
    warcs: list[Path] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # the WARCs' names in the ZIP
    datapackage: dict[str, Any] = field(default_factory=dict)  # KEPT_FIELDS only
    resources_verified: int = 0


def _safe(name: str) -> bool:
    if not name or len(name) > 1000 or "\\" in name or "\x00" in name or ":" in name:
        return False
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and not name.startswith("/")


def _check_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise WaczRefused(f"the ZIP has {len(infos)} members; at most {MAX_MEMBERS} are taken")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        shown = info.filename.encode("unicode_escape").decode("ascii")[:200]
        if not _safe(info.filename):
            raise WaczRefused(f"member {shown!r} has a name that could escape the archive "
                              "(absolute, '..', a backslash or a drive): refused")
        if info.flag_bits & 0x1:
            raise WaczRefused(f"member {shown!r} is encrypted")
        if info.filename in members:
            raise WaczRefused(f"member {shown!r} is in the ZIP twice")
        if info.file_size > MAX_MEMBER_BYTES:
            raise WaczRefused(f"member {shown!r} is {info.file_size} bytes; at most "
                              f"{MAX_MEMBER_BYTES} are taken")
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > (1 << 20) \
                and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise WaczRefused(f"member {shown!r} unpacks to {info.file_size} bytes from "
                              f"{info.compress_size}: refused as a ZIP bomb")
        total += info.file_size
        members[info.filename] = info
    if total > MAX_TOTAL_BYTES:
        raise WaczRefused(f"the ZIP unpacks to {total} bytes; at most {MAX_TOTAL_BYTES}")
    return members


def _read_json(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes, Any]:
    if info.file_size > MAX_JSON_BYTES:
        raise WaczRefused(f"{info.filename} is {info.file_size} bytes: too big")
    with zf.open(info) as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    try:
        return data, json.loads(data)
    except ValueError as exc:
        raise WaczRefused(f"{info.filename} is not JSON: {exc}") from None


def _hash_spec(value: Any, where: str) -> tuple[str, str]:
    m = re.fullmatch(r"(sha256|sha512|sha1|md5):([0-9a-fA-F]+)", str(value or ""))
    if m is None:
        raise WaczRefused(f"{where}: hash {str(value)[:80]!r} is not ALGORITHM:HEX")
    return m.group(1), m.group(2).lower()


def _copy_member(zf: zipfile.ZipInfo | Any, z: zipfile.ZipFile, out: Path | None,
                 algo: str) -> tuple[str, int]:
    h = hashlib.new(algo)
    size = 0
    limit = zf.file_size
    with z.open(zf) as src:
        dst = open(out, "xb") if out is not None else None  # noqa: SIM115
        try:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise WaczRefused(f"member {zf.filename} is longer than it says")
                h.update(chunk)
                if dst is not None:
                    dst.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise WaczRefused(f"member {zf.filename} cannot be read: {exc}") from None
        finally:
            if dst is not None:
                dst.close()
    return h.hexdigest(), size


def unpack_wacz(path: Path, into: Path) -> WaczContents:
    """Check ``path`` and write its WARCs into ``into``; see the module docstring."""
    if not zipfile.is_zipfile(path):
        raise WaczRefused("not a WACZ: it is not a ZIP file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WaczRefused(f"not a readable ZIP file: {exc}") from None
    with zf:
        members = _check_members(zf)
        if DATAPACKAGE not in members:
            raise WaczRefused("no datapackage.json: not a WACZ (every WACZ lists its files "
                              "and their hashes there)")
        raw, package = _read_json(zf, members[DATAPACKAGE])
        if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
            raise WaczRefused("datapackage.json has no list of resources")
        if DIGEST in members:
            _, digest = _read_json(zf, members[DIGEST])
            algo, want = _hash_spec(digest.get("hash") if isinstance(digest, dict) else None,
                                    DIGEST)
            if hashlib.new(algo, raw).hexdigest() != want:
                raise WaczRefused("datapackage-digest.json does not match datapackage.json")
        out = WaczContents(datapackage={k: str(package[k])[:500] for k in KEPT_FIELDS
                                        if package.get(k) is not None})
        listed: set[str] = set()
        into.mkdir(parents=True, exist_ok=True)
        for i, res in enumerate(package["resources"]):
            if not isinstance(res, dict):
                raise WaczRefused(f"datapackage.json resource {i} is not an object")
            name = str(res.get("path") or "")
            if not _safe(name):
                raise WaczRefused(f"datapackage.json names {name[:200]!r}: a path that could "
                                  "escape the archive")
            info = members.get(name)
            if info is None:
                raise WaczRefused(f"datapackage.json lists {name}, which is not in the ZIP")
            algo, want = _hash_spec(res.get("hash"), f"datapackage.json resource {name}")
            is_warc = name.startswith("archive/") and name.lower().endswith((".warc",
                                                                             ".warc.gz"))
            target = None
            if is_warc:
                target = into / str(len(out.warcs)) / PurePosixPath(name).name
                target.parent.mkdir(parents=True, exist_ok=True)
            got, size = _copy_member(info, zf, target, algo)
            if got != want:
                raise WaczRefused(f"{name}: its {algo} differs from datapackage.json's")
            if "bytes" in res and str(res["bytes"]) != str(size):
                raise WaczRefused(f"{name}: {size} bytes, datapackage.json says {res['bytes']}")
            listed.add(name)
            out.resources_verified += 1
            if target is not None:
                out.warcs.append(target)
                out.members.append(name)
        unlisted = [n for n in members if n.startswith("archive/") and not n.endswith("/")
                    and n not in listed]
        if unlisted:
            raise WaczRefused(f"{unlisted[0]} is not listed in datapackage.json: its hash "
                              "cannot be checked")
        if not out.warcs:
            raise WaczRefused("the WACZ holds no WARC files under archive/")
    return out
