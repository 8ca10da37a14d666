"""Persons, organisations and locations with their spans.

Two models, both optional: Debian's ``frog`` (Dutch named entities; run as one long-lived
server process per analysis, restarted once when it dies) and ``deduce`` (Dutch
de-identification: names, institutions, locations, phone numbers and e-mail addresses; its
lookup tables are built once into a cache folder, ``archivist_cache``). What is missing is
named by :func:`archivist.models.available` and in every result; the rest goes on.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FROG_START_TIMEOUT = 120.0  # seconds for frog to load its models and listen
FROG_REPLY_TIMEOUT = 300.0  # seconds for one batch
BATCH_CHARS = 20_000
FROG_CHARS = 200_000  # per package: frog tags about 1,500 characters a second on two cores
TITLES = re.compile(
    r"^(?:(?:mevrouw|mevr\.?|mw\.?|meneer|mijnheer|dhr\.?|de heer|heer|mr\.?|dr\.?|drs\.?|"
    r"ir\.?|ing\.?|prof\.?|minister|staatssecretaris|burgemeester|wethouder|collega|"
    r"mrs\.?|mr\.?|ms\.?|sir|dear|beste|lieve|hoi|hallo|hey|hi|hello|dag|"
    r"goedemorgen|goedemiddag|goedenavond|morning|groet|groeten|bedankt|thanks)[\s,]+)+", re.IGNORECASE)


@dataclass(frozen=True)
class Entity:
    kind: str  # person | organisation | location | phone | email | address
    segment: int
    start: int
    end: int
    text: str
    confidence: float
    model: str


class Batches:
    """Segments joined into texts of at most ``BATCH_CHARS`` (one model call each), and the
    way back from an offset in a batch to (segment, offset in it)."""

    SEP = "\n\n"

    def __init__(self, texts: list[str]) -> None:
        self.batches: list[tuple[str, list[tuple[int, int]]]] = []  # text, [(segment, start)]
        parts: list[str] = []
        index: list[tuple[int, int]] = []
        size = 0
        for i, t in enumerate(texts):
            t = t.replace("\0", " ")
            if parts and size + len(t) > BATCH_CHARS:
                self.batches.append((self.SEP.join(parts), index))
                parts, index, size = [], [], 0
            index.append((i, size))
            parts.append(t)
            size += len(t) + len(self.SEP)
        if parts:
            self.batches.append((self.SEP.join(parts), index))
        self.lengths = [len(t) for t in texts]

    def back(self, batch: int, start: int, end: int) -> tuple[int, int, int] | None:
        for seg, offset in reversed(self.batches[batch][1]):
            if offset <= start:
                if end - offset > self.lengths[seg]:
                    return None  # crosses into the next segment
                return seg, start - offset, end - offset
        return None


_NOT_NAMES_TEXT = """
    the a an this that these those who what when where why how which will would can could may
    might must shall should do does did is are was were be been have has had i you he she it we
    they me my your his her its our their fine ok okay yes no please thanks thank sure great
    good morning test contact call mail email send sent see note new next last today tomorrow
    presented announced said says told asked wrote published informs visiting
    de het een dit dat deze die wie wat waar wanneer waarom hoe welke ik jij je hij zij ze wij
    we jullie mijn jouw zijn haar ons onze hun u uw ja nee graag dank bedankt prima goed top
    mail bel stuur zie nieuw nieuwe vandaag morgen gisteren contact melden vraag aanvragen
    """
NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_ARTICLE = re.compile(r"^(?:the|de|het|een|a|an)\s+", re.IGNORECASE)
_JOINER_END = re.compile(r"\s+(?:van|uit|bij|of|en|and|from|at|de|der|den|het)?\s*$")


def person_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The name itself: titles and greetings before it and punctuation after it dropped."""
    value = text[start:end]
    m = TITLES.match(value)
    if m:
        start += m.end()
        value = text[start:end]
    stripped = value.rstrip(" ,.;:!?)'\"")
    end = start + len(stripped)
    if len(stripped) < 2 or not stripped[:1].isupper() or "\n" in stripped:
        return None
    words = stripped.split()
    if len(words) == 1 and (stripped.casefold() in NOT_NAMES or stripped.isupper()):
        return None  # a capitalised common word or an abbreviation (BSN, VOG), not a name
    if words[-1].casefold() in NOT_NAMES:  # "Rob Jetten presented"
        return None if len(words) == 1 else person_span(text, start, start + len(
            stripped) - len(words[-1]) - 1)
    return start, end


# frog -------------------------------------------------------------------------------------
def frog_installed() -> bool:
    return shutil.which("frog") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FrogServer:
    """One frog server process (``frog -S PORT``, tokenizer, tagger and NER only)."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = log_path
        self.restarts = 0
        self.workdir: str | None = None

    def start(self) -> None:
        import tempfile

        self.port = _free_port()
        # frog writes frog.<n>.debug files into its working folder: a private one, removed
        # when it stops
        self.workdir = tempfile.mkdtemp(prefix="bewaar-frog-")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                ["frog", "--skip=mpacl", "-S", str(self.port)], stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True, cwd=self.workdir)
        finally:
            if not isinstance(out, int):
                out.close()
        atexit.register(self.stop)  # also when the process ends without leaving its block
        deadline = time.monotonic() + FROG_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise OSError(f"frog exited with {self.proc.returncode} while starting")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise OSError(f"frog did not listen within {FROG_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> FrogServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ask(self, text: str) -> str:
        # frog reads lines until EOT; a line "EOT" inside the text would end it early
        body = re.sub(r"(?m)^EOT$", "EOT.", text)
        with socket.create_connection(("127.0.0.1", self.port), timeout=FROG_REPLY_TIMEOUT) as s:
            s.sendall(body.encode("utf-8", "replace") + b"\nEOT\n")
            chunks: list[bytes] = []
            while True:
                data = s.recv(1 << 16)
                if not data:
                    break
                chunks.append(data)
                if b"READY" in b"".join(chunks[-2:]):
                    break
        reply = b"".join(chunks).decode("utf-8", "replace")
        if "READY" not in reply:
            raise OSError("frog closed the connection without an answer")
        return reply

    def tag(self, text: str) -> list[tuple[str, str]]:
        """(token, NER label) of ``text``; restarts the server once if it died."""
        try:
            reply = self._ask(text)
        except OSError:
            if self.restarts >= 1:
                raise
            self.restarts += 1
            log.warning("frog stopped answering; restarting it")
            self.stop()
            self.start()
            reply = self._ask(text)
        out: list[tuple[str, str]] = []
        for line in reply.splitlines():
            cols = line.split("\t")
            if len(cols) >= 7 and cols[0].isdigit():
                label = next((c for c in cols[3:] if _NER_LABEL.fullmatch(c)), "O")
                out.append((cols[1], label))
        return out


_NER_LABEL = re.compile(r"O|[BI]-[A-Z]+")
_FROG_KINDS = {"PER": "person", "ORG": "organisation", "LOC": "location"}


def frog_entities(server: FrogServer, batches: Batches) -> list[Entity]:
    found: list[Entity] = []
    for b, (text, _index) in enumerate(batches.batches):
        spans: list[tuple[str, int, int]] = []  # kind, start, end in the batch
        pos = 0
        current: tuple[str, int, int] | None = None
        for token, label in server.tag(text):
            at = text.find(token, pos, pos + 200 + len(token))
            if at < 0:
                if current is not None:
                    spans.append(current)
                current = None
                continue
            pos = at + len(token)
            tag, _, kind = label.partition("-")
            name = _FROG_KINDS.get(kind)
            if tag == "I" and current is not None and name == current[0] and \
                    "\n\n" not in text[current[2]:at]:
                current = (current[0], current[1], pos)
                continue
            if current is not None:
                spans.append(current)
            current = (name, at, pos) if name and tag in ("B", "I") else None
        if current is not None:
            spans.append(current)
        for kind, s, e in spans:
            mapped = batches.back(b, s, e)
            if mapped is not None:
                seg, ls, le = mapped
                found.append(Entity(kind, seg, ls, le, text[s:e], 0.8, "frog"))
    return found


# deduce -----------------------------------------------------------------------------------
_DEDUCE_KINDS = {"persoon": "person", "patient": "person", "locatie": "location",
                 "instelling": "organisation", "ziekenhuis": "organisation",
                 "telefoonnummer": "phone", "emailadres": "email"}


def deduce_model(cache: Path) -> Any:
    """A ``deduce.Deduce`` whose lookup tables are cached in ``cache`` (built on first use:
    about a minute; loaded in seconds after)."""
    import deduce

    cache.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    return deduce.Deduce(cache_path=cache)


def deduce_entities(model: Any, batches: Batches) -> list[Entity]:
    found: list[Entity] = []
    for b, (text, _index) in enumerate(batches.batches):
        doc = model.deidentify(text)
        for a in doc.annotations:
            kind = _DEDUCE_KINDS.get(a.tag.split("_")[0].split("-")[0])
            if kind is None:
                continue
            mapped = batches.back(b, a.start_char, a.end_char)
            if mapped is not None:
                seg, ls, le = mapped
                found.append(Entity(kind, seg, ls, le, text[a.start_char:a.end_char], 0.85,
                                    "deduce"))
    return found


def find(texts: list[str], *, frog: FrogServer | None, deduce_model: Any | None,
         notes: list[str]) -> list[Entity]:
    """Entities of every segment from the models given; a model that fails is noted and
    skipped."""
    batches = Batches(texts)
    out: list[Entity] = []
    if frog is not None:
        prefix: list[str] = []
        size = 0
        for t in texts:
            if size + len(t) > FROG_CHARS:
                notes.append(f"frog read the first {FROG_CHARS} characters only (about 1,500 "
                             "characters a second); deduce read the rest")
                break
            prefix.append(t)
            size += len(t)
        try:
            out.extend(frog_entities(frog, Batches(prefix)))
        except OSError as exc:
            notes.append(f"frog failed ({exc}); no entities from frog")
    if deduce_model is not None:
        try:
            out.extend(deduce_entities(deduce_model, batches))
        except Exception as exc:  # noqa: BLE001 - a model's bug must not stop the others
            notes.append(f"deduce failed ({type(exc).__name__}: {exc}); no names from deduce")
    return out


def cleaned(entities: Iterable[Entity], texts: list[str]) -> list[Entity]:
    """Person spans trimmed to the name (and cut where an organisation or a location that a
    model found begins: "Jansen van Rijkswaterstaat"); overlapping spans of one kind merged
    (the longest)."""
    found = list(entities)
    places = [(e.segment, e.start) for e in found if e.kind in ("organisation", "location")]
    out: list[Entity] = []
    for e in sorted(found, key=lambda e: (e.segment, e.start, -(e.end - e.start))):
        start, end = e.start, e.end
        if e.kind == "person":
            for seg, at in places:
                if seg == e.segment and start < at < end:
                    end = at
            cut = _JOINER_END.search(texts[e.segment], start, end)
            if cut:
                end = cut.start()
            span = person_span(texts[e.segment], start, end)
            if span is None:
                continue
            start, end = span
        elif e.kind in ("organisation", "location"):
            lead = _ARTICLE.match(texts[e.segment], start, end)
            if lead:
                start = lead.end()
            value = texts[e.segment][start:end].rstrip(" ,.;:!?)'\"")
            end = start + len(value)
            if "\n" in value or "|" in value or len(value) < 2 or \
                    value.casefold() in NOT_NAMES:
                continue  # across lines or a title's "page | site": not one name
        e = Entity(e.kind, e.segment, start, end, texts[e.segment][start:end], e.confidence,
                   e.model)
        prev = next((p for p in reversed(out) if p.segment == e.segment and p.kind == e.kind
                     and p.start < e.end and e.start < p.end), None)
        if prev is not None:
            if (e.end - e.start) > (prev.end - prev.start):
                out[out.index(prev)] = Entity(e.kind, e.segment, e.start, e.end, e.text,
                                              min(0.99, max(e.confidence, prev.confidence) + 0.05),
                                              f"{prev.model}+{e.model}")
            else:
                out[out.index(prev)] = Entity(prev.kind, prev.segment, prev.start, prev.end,
                                              prev.text, min(0.99, prev.confidence + 0.1),
                                              prev.model if prev.model == e.model
                                              else f"{prev.model}+{e.model}")
            continue
        out.append(e)
    return out


def frog_log(home: Path) -> Path:
    path = home / "logs" / "frog.log"
    os.makedirs(path.parent, exist_ok=True)
    return path
