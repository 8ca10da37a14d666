"""The files of one import, made safe to read: originals copied bit-for-bit, zips unpacked.

Everything is written below one staging folder (under ``BEWAAR_HOME``). A zip is refused, with
the file named, when a member name is absolute or climbs out (``..``), a member is a link, a
name repeats, a member is encrypted, the zip is damaged or truncated, or it would unpack to more
than ``Limits.total_bytes`` or a member compresses better than ``Limits.ratio`` (a zip bomb).
Members are written under numbered names, never under the name the zip gives them; the zip's
name only serves to find a member (``Bundle.find``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from chat_archiver.exports.base import NotAnExportError, UnsafeArchiveError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    total_bytes: int = 8 << 30  # all members of one zip together, unpacked
    member_bytes: int = 4 << 30
    members: int = 200_000
    ratio: int = 200  # unpacked / packed, checked for members above ratio_from bytes
    ratio_from: int = 1 << 20


@dataclass
class Original:
    name: str  # as given (the file's own name)
    path: Path  # the bit-for-bit copy in staging
    sha256: str
    size: int
    stored_as: str  # its path in the package, under original/


@dataclass
class Member:
    name: str  # the path the zip (or the folder) gives it, "/"-separated
    path: Path  # where it is in staging
    size: int
    origin: str  # the original file it came from
    sha256: str | None = None  # of its bytes, computed while it was written


@dataclass
class Bundle:
    originals: list[Original] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    # find()'s lookups: the first member of each (origin, name), name and file name, made once
    # (a WhatsApp export refers to thousands of files among thousands of members)
    _index: tuple[int, dict[tuple[str, str], Member], dict[str, Member],
                  dict[str, Member]] | None = field(default=None, repr=False, compare=False)

    def find(self, name: str, near: Member | None = None) -> Member | None:
        """The member a message refers to: relative to ``near``'s folder, then anywhere by
        full path, then by file name alone."""
        if self._index is None or self._index[0] != len(self.members):
            by_origin: dict[tuple[str, str], Member] = {}
            by_name: dict[str, Member] = {}
            by_leaf: dict[str, Member] = {}
            for m in self.members:
                by_origin.setdefault((m.origin, m.name), m)
                by_name.setdefault(m.name, m)
                by_leaf.setdefault(PurePosixPath(m.name).name, m)
            self._index = (len(self.members), by_origin, by_name, by_leaf)
        _n, by_origin, by_name, by_leaf = self._index
        wanted = name.replace("\\", "/").lstrip("./")
        if near is not None:
            base = PurePosixPath(near.name).parent
            full = (base / wanted).as_posix()
            found = by_origin.get((near.origin, full))
            if found is not None:
                return found
        return by_name.get(wanted) or by_leaf.get(PurePosixPath(wanted).name)


_SAFE = re.compile(r"[^A-Za-z0-9._ ()+,=@-]")


def stage_files(files: list[Path], staging: Path, limits: Limits | None = None) -> Bundle:
    """Copy each file into ``staging/original`` and unpack zips into ``staging/members``."""
    limits = limits or Limits()
    bundle = Bundle()
    (staging / "original").mkdir(parents=True, exist_ok=True)
    (staging / "members").mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for i, src in enumerate(files):
        label = src.name
        if not src.is_file():
            raise NotAnExportError(label, "is not a file (or does not exist)")
        stored = _SAFE.sub("_", label).strip(" .") or f"file-{i}"
        while stored in used:
            stored = f"{i}-{stored}"
        used.add(stored)
        copy = staging / "original" / stored
        digest, size = _copy(src, copy)
        bundle.originals.append(Original(label, copy, digest, size, f"original/{stored}"))
        if _is_zip(copy):
            _unpack(copy, label, staging / "members" / str(i), bundle, limits)
        else:
            bundle.members.append(Member(label, copy, size, label, digest))
    return bundle


def _copy(src: Path, dst: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def _member_name(label: str, raw: str) -> str:
    name = raw.replace("\\", "/")
    if "\0" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(label, "zip member %(member)r has an absolute path; refused",
                                 member=raw)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(label, "zip member %(member)r climbs out of the folder ('..'); "
                                 "refused", member=raw)
    return "/".join(parts)


def _unpack(path: Path, label: str, target: Path, bundle: Bundle, limits: Limits) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise NotAnExportError(label, "is not a complete zip file (truncated or damaged: "
                               "%(reason)s)", reason=str(exc)) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.members:
            raise UnsafeArchiveError(label, "zip holds %(count)s members, more than %(limit)s; "
                                     "refused", count=len(infos), limit=limits.members)
        checked = []
        names: set[str] = set()
        total = 0
        for info in infos:
            name = _member_name(label, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(label, "zip member %(member)r is a symbolic link; "
                                         "refused", member=info.filename)
            if info.is_dir() or not name:
                continue
            if info.flag_bits & 0x1:
                raise UnsafeArchiveError(label, "zip member %(member)r is encrypted",
                                         member=info.filename)
            if name in names:
                raise UnsafeArchiveError(label, "zip member %(member)r occurs twice; refused",
                                         member=name)
            names.add(name)
            if info.file_size > limits.member_bytes:
                raise UnsafeArchiveError(label, "zip member %(member)r unpacks to %(size)s bytes, "
                                         "more than %(limit)s; refused", member=name,
                                         size=info.file_size, limit=limits.member_bytes)
            if (info.file_size > limits.ratio_from
                    and info.file_size > limits.ratio * max(info.compress_size, 1)):
                raise UnsafeArchiveError(label, "zip member %(member)r unpacks %(times)s times its "
                                         "packed size (limit %(limit)s): a zip bomb; refused",
                                         member=name, limit=limits.ratio,
                                         times=info.file_size // max(info.compress_size, 1))
            total += info.file_size
            if total > limits.total_bytes:
                raise UnsafeArchiveError(label, "zip unpacks to more than %(limit)s bytes; "
                                         "refused", limit=limits.total_bytes)
            checked.append((info, name))
        target.mkdir(parents=True, exist_ok=True)
        for n, (info, name) in enumerate(checked):
            out = target / f"{n:06d}"
            size = 0
            h = hashlib.sha256()  # hashed while written: the attachment's digest
            try:
                with zf.open(info) as fin, open(out, "wb") as fout:
                    while chunk := fin.read(CHUNK):
                        size += len(chunk)
                        if size > info.file_size:  # zipfile stops at the declared size
                            raise UnsafeArchiveError(label, "zip member %(member)r is larger "
                                                     "than it says; refused", member=name)
                        h.update(chunk)
                        fout.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError,
                    NotImplementedError) as exc:
                shutil.rmtree(target, ignore_errors=True)
                raise NotAnExportError(label, "zip member %(member)r cannot be read (truncated "
                                       "or damaged: %(reason)s)", member=name,
                                       reason=str(exc)) from None
            bundle.members.append(Member(name, out, size, label, h.hexdigest()))
