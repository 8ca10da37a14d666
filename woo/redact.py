"""Redaction of a document's text: phrases (every occurrence, case and runs of white space
ignored) and spans (``start:end``, character offsets into the text, end exclusive). A span may
come from a selection in the browser: :func:`locate` finds the selected text at its place.

What is redacted is left out, not covered: :func:`apply` returns the text with each redacted
stretch replaced by a marker naming its ground(s), ``[5.1.2e]``. Overlapping or touching
stretches become one, its marker naming every ground among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import BewaarError

MAX_PHRASE = 500
MAX_SELECTION = 100_000  # a selection may be a long passage, not a whole archive


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
        raise RedactionError("a phrase is at most %(max)s characters", max=MAX_PHRASE)
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def find_phrase(text: str, phrase: str, ground: str) -> list[Cut]:
    """Every occurrence of ``phrase`` in ``text``."""
    return [Cut(m.start(), m.end(), ground) for m in phrase_pattern(phrase).finditer(text)]


def parse_span(value: str, length: int) -> tuple[int, int]:
    """``START:END`` as offsets into a text of ``length`` characters (0 <= START < END <=
    length)."""
    m = re.fullmatch(r"\s*(\d{1,12})\s*[:-]\s*(\d{1,12})\s*", str(value or ""))
    if not m:
        raise RedactionError("span %(span)r: write START:END, character offsets such as "
                             "120:134", span=value)
    start, end = int(m[1]), int(m[2])
    if not start < end:
        raise RedactionError("span %(span)r: START must be before END", span=value)
    if end > length:
        raise RedactionError("span %(span)r is outside the document: its text has "
                             "%(length)s characters (offsets 0 to %(length)s)", span=value,
                             length=length)
    return start, end


def locate(text: str, selected: str, start: int | None = None,
           occurrence: int | None = None) -> tuple[int, int]:
    """Where a stretch selected in the shown ``text`` is, as ``(start, end)``: at ``start``
    when the text there is ``selected`` exactly; else its ``occurrence``-th place (0 the
    first) in the text; else its only place. ``RedactionError`` when it is not in the text,
    or occurs more than once and neither says which (redacting a guess is worse than
    refusing)."""
    if not selected.strip():
        raise RedactionError("select the text to redact")
    if len(selected) > MAX_SELECTION:
        raise RedactionError("a selection is at most %(max)s characters", max=MAX_SELECTION)
    if start is not None and start >= 0 and text[start:start + len(selected)] == selected:
        return start, start + len(selected)
    places = [m.start() for m in re.finditer(re.escape(selected), text)]
    if occurrence is not None and 0 <= occurrence < len(places):
        return places[occurrence], places[occurrence] + len(selected)
    if len(places) == 1:
        return places[0], places[0] + len(selected)
    if not places:
        raise RedactionError("the selected text is not in the document")
    raise RedactionError("the selected text occurs %(n)s times in the document: select it "
                         "again", n=len(places))


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
