"""Reading the JSON documents of an export (Telegram, Teams, Signal) with errors that name the
file."""

from __future__ import annotations

import json
from typing import Any

from archive.errors import Word
from chat_archiver.exports.base import NotAnExportError
from chat_archiver.exports.files import Bundle, Member
from chat_archiver.exports.whatsapp import decode_text


def label_of(m: Member) -> str:
    return m.name if m.name == m.origin else f"{m.origin}:{m.name}"


def load_json(m: Member, app: str) -> Any:
    text = decode_text(m.path.read_bytes(), label_of(m), app)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NotAnExportError(label_of(m), "is not JSON (%(reason)s): not a %(app)s export",
                               reason=str(exc), app=app) from None


def json_documents(bundle: Bundle, app: str, wanted: str | None = None) -> list[Member]:
    """The ``.json`` members of each original (``wanted``: only members with that file name);
    an original without one is an error."""
    docs: list[Member] = []
    for orig in bundle.originals:
        members = [m for m in bundle.members if m.origin == orig.name]
        if len(members) == 1 and members[0].name == orig.name:
            docs.append(members[0])
            continue
        found = [m for m in members if m.name.lower().endswith(".json")
                 and (wanted is None or m.name.rsplit("/", 1)[-1] == wanted)]
        if not found:
            raise NotAnExportError(orig.name, "holds no %(wanted)s: not a %(app)s export",
                                   wanted=wanted or Word("JSON file"), app=app)
        docs.extend(found)
    return docs


def text_of(value: Any) -> str:
    """Telegram text: a string, or a list of strings and ``{"type", "text"}`` entities."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v if isinstance(v, str) else str((v or {}).get("text", ""))
                       for v in value)
    return ""
