"""Redaction of a document's text: phrases (every occurrence, case and runs of white space
ignored) and spans (``start:end``, character offsets into the text, end exclusive).

What is redacted is left out, not covered: :func:`apply` returns the text with each redacted
stretch replaced by a marker naming its ground(s), ``[5.1.2e]``. Overlapping or touching
stretches become one, its marker naming every ground among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import BewaarError

MAX_PHRASE = 500


class RedactionError(BewaarError):
    """A redaction that cannot be applied (an empty phrase, a span outside the text)."""


@dataclass(frozen=True)
class Cut:
    start: int
    end: int
    ground: str


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = str(phrase or "").split()
    if not words:
        raise RedactionError("give the phrase to redact")
    if len(phrase) > MAX_PHRASE:
        raise RedactionError(f"a phrase is at most {MAX_PHRASE} characters")
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def find_phrase(text: str, phrase: str, ground: str) -> list[Cut]:
    """Every occurrence of ``phrase`` in ``text``."""
    return [Cut(m.start(), m.end(), ground) for m in phrase_pattern(phrase).finditer(text)]


def parse_span(value: str, length: int) -> tuple[int, int]:
    """``START:END`` as offsets into a text of ``length`` characters (0 <= START < END <=
    length)."""
    m = re.fullmatch(r"\s*(\d{1,12})\s*[:-]\s*(\d{1,12})\s*", str(value or ""))
    if not m:
        raise RedactionError(f"span {value!r}: write START:END, character offsets such as "
                             "120:134")
    start, end = int(m[1]), int(m[2])
    if not start < end:
        raise RedactionError(f"span {value!r}: START must be before END")
    if end > length:
        raise RedactionError(f"span {value!r} is outside the document: its text has "
                             f"{length} characters (offsets 0 to {length})")
    return start, end


def merge(cuts: list[Cut]) -> list[tuple[int, int, list[str]]]:
    """The cuts as disjoint stretches in order, each with its grounds (each once, sorted)."""
    out: list[tuple[int, int, list[str]]] = []
    for c in sorted(cuts, key=lambda c: (c.start, c.end)):
        if out and c.start <= out[-1][1]:
            start, end, grounds = out[-1]
            out[-1] = (start, max(end, c.end), sorted({*grounds, c.ground}))
        else:
            out.append((c.start, c.end, [c.ground]))
    return out


def marker(grounds: list[str]) -> str:
    return "[" + "; ".join(grounds) + "]"


def apply(text: str, cuts: list[Cut]) -> tuple[str, list[str]]:
    """``text`` with every cut replaced by its marker, and the grounds applied (sorted)."""
    parts, pos, used = [], 0, set()
    for start, end, grounds in merge(cuts):
        parts.append(text[pos:start])
        parts.append(marker(grounds))
        used.update(grounds)
        pos = end
    parts.append(text[pos:])
    return "".join(parts), sorted(used)
