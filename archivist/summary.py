"""A short extractive summary: the sentences that carry most of the text's frequent words,
in the order they stand, up to about 300 characters. Needs no model."""

from __future__ import annotations

import re
from collections import Counter

_SENTENCE = re.compile(r"[^.!?\n]{20,}?[.!?](?=\s|$)|[^.!?\n]{20,}(?=\n|$)")
_WORD = re.compile(r"[^\W\d_]{4,}")
MAX_CHARS = 300


def summarise(text: str) -> tuple[str, list[tuple[int, int]]] | None:
    """(summary, spans of its sentences in ``text``), or None for too little text."""
    sample = text[:200_000]
    sentences = [(m.start(), m.end(), m.group().strip()) for m in _SENTENCE.finditer(sample)]
    sentences = [s for s in sentences if len(_WORD.findall(s[2])) >= 3]
    if not sentences:
        return None
    freq = Counter(w.lower() for _, _, s in sentences for w in _WORD.findall(s))
    scored = []
    for i, (_start, _end, s) in enumerate(sentences):
        words = [w.lower() for w in _WORD.findall(s)]
        score = sum(freq[w] for w in set(words)) / (len(words) ** 0.5) - i * 0.01
        scored.append((score, i))
    chosen: list[int] = []
    size = 0
    for _, i in sorted(scored, reverse=True):
        length = len(sentences[i][2])
        if chosen and size + length > MAX_CHARS:
            continue
        chosen.append(i)
        size += length + 1
        if size >= MAX_CHARS * 0.6:
            break
    chosen.sort()
    text_out = " ".join(sentences[i][2] for i in chosen)
    if len(text_out) > MAX_CHARS * 2:
        text_out = text_out[: MAX_CHARS * 2].rsplit(" ", 1)[0] + " …"
    spans = []
    for i in chosen:
        start, end, s = sentences[i]
        lead = len(sample[start:end]) - len(sample[start:end].lstrip())
        spans.append((start + lead, start + lead + len(s)))
    return text_out, spans
