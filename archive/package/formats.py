"""File format identification by PRONOM signatures: siegfried's engine and its own signature
data (the DROID signature file and container signatures it embeds), through ``pygfried``.

A format comes from the bytes of a file where PRONOM has a signature for it (a PDF, an HTML
page, a PNG, a PKCS #7 seal). PRONOM describes some formats by their extension alone (JSON, CSV);
siegfried then says so, and ``basis`` keeps that. A file siegfried cannot place gets the IANA
media type given for it (default ``application/octet-stream``), as MDTO's own example does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PRONOM = "PRONOM-register"
IANA = "IANA Media types"
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class Identified:
    path: str
    label: str  # the format's name (and version) as PRONOM names it, or the media subtype
    code: str  # a PRONOM PUID (fmt/18, x-fmt/111) or an IANA media type
    vocabulary: str  # PRONOM or IANA
    basis: str  # why: siegfried's byte, container, text or extension match, or "unidentified"
    warning: str  # siegfried's warning ("match on extension only"), or ""

    @property
    def by_extension_only(self) -> bool:
        return "extension only" in self.warning


def engine() -> str:
    """The identifier and its signature data, e.g. ``siegfried 1.11.9; DROID_Signature…``."""
    import pygfried

    details = pygfried.identify_many([], workers=1)
    names = "; ".join(i["details"] for i in details.get("identifiers", []))
    return f"siegfried {pygfried.version()} ({names})" if names else \
        f"siegfried {pygfried.version()}"


def _label(fmt: str, version: str) -> str:
    return fmt if not version or version in fmt else f"{fmt} {version}"


def identify(paths: Iterable[str], *, media: Mapping[str, str] | None = None,
             workers: int = 2) -> dict[str, Identified]:
    """Identify each file; ``media`` gives the media type to fall back on per path."""
    import pygfried

    todo = list(paths)
    if not todo:
        return {}
    result = pygfried.identify_many(todo, workers=workers)
    out: dict[str, Identified] = {}
    for f in result["files"]:
        path = f["filename"]
        match = next((m for m in f["matches"]
                      if m["ns"] == "pronom" and m["id"] and m["id"] != "UNKNOWN"), None)
        if match is not None:
            out[path] = Identified(path, _label(match["format"], match["version"]), match["id"],
                                   PRONOM, match["basis"], match["warning"])
            continue
        mime = (media or {}).get(path) or OCTET_STREAM
        out[path] = Identified(path, mime.partition("/")[2] or mime, mime, IANA,
                               "unidentified", f["errors"] or "no PRONOM signature matched")
    missing = [p for p in todo if p not in out]
    for path in missing:  # siegfried names every file it was given; never assume a format
        mime = (media or {}).get(path) or OCTET_STREAM
        out[path] = Identified(path, mime.partition("/")[2] or mime, mime, IANA,
                               "unidentified", "not reported by siegfried")
    return out
