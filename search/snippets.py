"""Snippets: a piece of a document around the words a query found, with where they are.

The marks are character offsets into the snippet's plain text, so every face escapes the text
and adds its own markup (the web page: ``<mark>``; the terminal: bold); no markup is ever in
the stored text or built from it unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search.query import Node, Phrase, Term, positive
from search.text import fold, spans, stem

BEFORE, LENGTH = 60, 240  # characters shown before the first word found; snippet length


@dataclass
class Snippet:
    text: str
    marks: list[tuple[int, int]] = field(default_factory=list)

    def parts(self) -> list[tuple[str, bool]]:
        """The text in pieces, each (text, marked)."""
        out, pos = [], 0
        for start, end in self.marks:
            if start > pos:
                out.append((self.text[pos:start], False))
            out.append((self.text[start:end], True))
            pos = end
        if pos < len(self.text):
            out.append((self.text[pos:], False))
        return out

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "marks": [list(m) for m in self.marks]}


class Matcher:
    """Whether a word of a document is one a query asked for (stem or prefix)."""

    def __init__(self, node: Node) -> None:
        self.stems: set[str] = set()
        self.prefixes: list[str] = []
        for t in positive(node):
            if isinstance(t, Term) and t.prefix:
                self.prefixes.append(t.word)
            elif isinstance(t, Term):
                self.stems.add(stem(t.word))
            elif isinstance(t, Phrase):
                self.stems.update(stem(w) for w in t.words)

    def __call__(self, folded: str) -> bool:
        return stem(folded) in self.stems or any(folded.startswith(p) for p in self.prefixes)


def snippet(text: str, matcher: Matcher) -> Snippet:
    """About ``LENGTH`` characters of ``text`` from a little before its first word found,
    with every word found in it marked; the start of the text when none is in it (the
    title matched)."""
    text = " ".join(text.split())
    first = None
    for start, _end, word in spans(text):
        if matcher(word):
            first = start
            break
    begin = 0 if first is None or first < BEFORE else text.rfind(" ", 0, first - BEFORE) + 1
    end = min(len(text), begin + LENGTH)
    if end < len(text):
        cut = text.rfind(" ", begin, end)
        end = cut if cut > begin else end
    lead = "…" if begin > 0 else ""
    piece = lead + text[begin:end] + ("…" if end < len(text) else "")
    marks = [(s + len(lead) - 0, e + len(lead)) for s, e, w in spans(text[begin:end])
             if matcher(w)]
    return Snippet(piece, marks)


__all__ = ["Matcher", "Snippet", "fold", "snippet"]
