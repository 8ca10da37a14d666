"""The chain of packages per source: each package names the previous one and the sha512 of its
tag manifest, so a package that goes missing or is replaced shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import Finding
from archive.models.package import Package
from archive.package import bag
from archive.settings import Settings

# A destroyed package leaves ``<id>.destroyed.json`` where its folder was (package id, the
# destruction list, the sha512 of its tag manifest): the next package's link is then accounted
# for, not a gap. The verklaring van vernietiging of that list is the proof.
TOMBSTONE_SUFFIX = ".destroyed.json"


def is_package(path: Path) -> bool:
    return (path / "bag" / "bagit.txt").is_file()


def previous_package(settings: Settings, kind: str, name: str) -> Package | None:
    """The newest package of this source, which the next one links to."""
    with session_scope(settings) as db:
        return db.scalars(
            select(Package)
            .where(Package.source_kind == kind, Package.source_name == name)
            .order_by(Package.created_at.desc(), Package.id.desc())
            .limit(1)
        ).first()


def _tagmanifest_sha512(pkg: Path) -> str | None:
    try:
        return hashlib.sha512((pkg / "bag" / "tagmanifest-sha512.txt").read_bytes()).hexdigest()
    except OSError:
        return None


def _group(pkg: Path) -> str | None:
    try:
        return bag.parse_bag_info((pkg / "bag" / "bag-info.txt").read_text("utf-8")).get(
            "Bag-Group-Identifier")
    except (OSError, UnicodeDecodeError):
        return None


def check_link(root: Path, info: dict[str, str]) -> list[Finding | str]:
    """Check a package's link to the previous package of its source (findings, warnings).

    The previous package is looked for beside this one. Present: its tag manifest must hash to
    the value in the link. Absent while other packages of the source are there: a gap.
    Absent and alone (a package copied away): a warning that the link was not checked.
    """
    out: list[Finding | str] = []
    prev_id = info.get("Bewaar-Previous-Package")
    if not prev_id:
        return out
    expected = info.get("Bewaar-Previous-Tagmanifest-SHA512")
    prev = root.parent / prev_id
    rel = "bag/bag-info.txt"
    if is_package(prev):
        found = _tagmanifest_sha512(prev)
        if found != expected:
            out.append(Finding(rel, f"previous package {prev_id} was replaced or altered "
                               "(its tag manifest differs from the link)", expected, found))
        return out
    stone = root.parent / f"{prev_id}{TOMBSTONE_SUFFIX}"
    if stone.is_file():
        try:
            facts = json.loads(stone.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            facts = {}
        if isinstance(facts, dict) and facts.get("tagmanifest_sha512") == expected:
            out.append(f"previous package {prev_id} was destroyed (destruction list "
                       f"{facts.get('destruction_list')}, {facts.get('destroyed')}); its "
                       "tombstone matches the chain link")
            return out
        out.append(Finding(rel, f"previous package {prev_id} is gone and its tombstone does "
                           "not match the chain link", expected,
                           str(facts.get("tagmanifest_sha512") if isinstance(facts, dict)
                               else None)))
        return out
    group = info.get("Bag-Group-Identifier")
    siblings = [p for p in root.parent.iterdir()
                if p != root and p.is_dir() and is_package(p) and _group(p) == group]
    if siblings:
        out.append(Finding(rel, f"previous package {prev_id} is missing from {root.parent}",
                           prev_id, "absent"))
    else:
        out.append(
            f"previous package {prev_id} is not beside this one; the chain link was not checked"
        )
    return out


def missing_recorded(packages_dir: Path, recorded: list[tuple[str, str]]) -> list[Finding]:
    """Packages the database records in ``packages_dir`` (id, path) that are not there."""
    out: list[Finding] = []
    base = packages_dir.absolute()
    for package_id, path in recorded:
        p = Path(path)
        if p.parent == base and not is_package(p):
            out.append(Finding(package_id, "package recorded in the database is missing",
                               str(p), "absent"))
    return out
