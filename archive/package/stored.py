"""A package kept in a bucket, fetched to be verified.

Verifying checks what the bucket holds, so every object of the package is fetched afresh into
the object cache (``archive.storage.local_folder``). The chain link check
(``archive.package.chain.check_link``) looks beside the package for the previous one: its tag
files (``bag/bagit.txt``, ``bag/bag-info.txt``, ``bag/tagmanifest-sha512.txt``), or, when it
was destroyed, its tombstone (``packages/ID.destroyed.json``) are fetched afresh beside it, and
a stale copy of what the bucket no longer holds is removed.
"""

from __future__ import annotations

from pathlib import Path

from archive.errors import StorageError
from archive.package import bag
from archive.package.chain import TOMBSTONE_SUFFIX
from archive.settings import Settings
from archive.storage import bucket, cache, is_remote, local_folder, package_key

LINK_FILES = ("bag/bagit.txt", "bag/bag-info.txt", "bag/tagmanifest-sha512.txt")


def fetch_for_verify(settings: Settings, location: str) -> Path:
    """The local folder to verify for a recorded package location (a local one as it is)."""
    if not is_remote(location):
        return Path(location.removeprefix("file://"))
    root = local_folder(settings, location, fresh=True)
    store = bucket(settings)
    assert store is not None  # local_folder checked the location is in it
    try:
        info = bag.parse_bag_info((root / "bag" / "bag-info.txt").read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        return root  # verify reports the damage
    prev = info.get("Bewaar-Previous-Package")
    if not prev or "/" in prev or prev.startswith("."):
        return root
    objects = cache(settings)
    for rel in (*(f"{package_key(prev)}/{f}" for f in LINK_FILES),
                f"{package_key(prev)}{TOMBSTONE_SUFFIX}"):
        path = objects.path(rel)
        try:
            if store.size(rel) is None:
                path.unlink(missing_ok=True)
            else:
                store.download(rel, path)
        except StorageError:
            path.unlink(missing_ok=True)
            raise
    return root
