"""Keywords (trefwoorden) of a text with YAKE (statistical, no model files)."""

from __future__ import annotations

from collections.abc import Iterator

TOP = 8


def extract(text: str, language: str | None) -> Iterator[tuple[str, float]]:
    """(keyword, confidence) pairs, best first; YAKE scores (lower is better) mapped to 0–1."""
    import yake

    sample = text[:100_000]
    if len(sample.split()) < 5:
        return
    lan = language if language in ("nl", "en", "de", "fr", "es", "it", "pt") else "en"
    kw = yake.KeywordExtractor(lan=lan, n=2, top=TOP * 2, dedupLim=0.7)
    seen: set[str] = set()
    count = 0
    for word, score in kw.extract_keywords(sample):
        key = word.lower()
        if key in seen or any(key in s or s in key for s in seen) or len(key) < 3:
            continue
        seen.add(key)
        yield word, round(1.0 / (1.0 + 10.0 * float(score)), 3)
        count += 1
        if count >= TOP:
            return
