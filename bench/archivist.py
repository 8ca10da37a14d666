"""Benchmark: the digital archivist's suggestions against a labelled set.

``bench/data/archivist_set.json`` holds 42 Dutch and English government texts written for this
benchmark (chats, one message a line, and web pages) with their true persons, organisations,
personal data (phone numbers, e-mail addresses, BSNs, IBANs, addresses) and selectielijst
category, and 40 short messages (five to eight words) with their language. Every item is
analysed as a package's text is (``archivist.enrich.Archivist.analyse``; a chat line is one
segment), with the models installed on this machine (frog as its server process).

Prints, per field, precision, recall and F1 (a value matches when it is the true value:
case-insensitive; phone numbers, BSNs and IBANs by their digits; an address when one holds
the other); personal data recall over all kinds (names included); language accuracy on the
items and on the short messages; category accuracy; and the throughput in documents/s
(analysis only; the models' load time is printed apart). Targets (issue 16): personal data
recall at least 0.95, persons F1 at least 0.8, language accuracy at least 0.98 on messages of
five words or more. No target is asserted.

    .venv/bin/python bench/archivist.py [--cache DIR] [--without frog,deduce,...] [--show]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archivist import models  # noqa: E402
from archivist.enrich import Archivist  # noqa: E402
from archivist.text import PackageText  # noqa: E402

SET = Path(__file__).with_name("data") / "archivist_set.json"
CATEGORIES = {  # the demo selectielijst (bewaar/demo/selectielijst.toml)
    "WEB-1": "Websites met beleidsinformatie van het ministerie",
    "WEB-2": "Campagne- en servicewebsites",
    "CHAT-1": "Zakelijke chatberichten van bewindspersonen en topambtenaren",
    "CHAT-2": "Zakelijke chatberichten van overige medewerkers",
}
PII_KINDS = ("phone", "email", "bsn", "iban", "address")


def norm(kind: str, value: str) -> str:
    if kind in ("phone", "bsn", "iban"):
        v = value.upper().replace("+31", "0").replace("(0)", "")
        v = re.sub(r"[^0-9A-Z]", "", v)
        return "0" + v[4:] if v.startswith("0031") else v
    return " ".join(value.casefold().split())


def matches(kind: str, guess: str, truth: str) -> bool:
    g, t = norm(kind, guess), norm(kind, truth)
    if kind == "address":
        return bool(g) and (g in t or t in g)
    return g == t


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, kind: str, guesses: set[str], truths: set[str]) -> tuple[set[str], set[str]]:
        hit_t = {t for t in truths if any(matches(kind, g, t) for g in guesses)}
        hit_g = {g for g in guesses if any(matches(kind, g, t) for t in truths)}
        self.tp += len(hit_t)
        self.fn += len(truths) - len(hit_t)
        self.fp += len(guesses) - len(hit_g)
        return truths - hit_t, guesses - hit_g

    def line(self, name: str) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return (f"{name:<14} precision {p:5.3f}  recall {r:5.3f}  F1 {f:5.3f}  "
                f"(tp {self.tp}, fp {self.fp}, fn {self.fn})")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, help="model cache (default a temporary folder)")
    ap.add_argument("--without", default="", help="models to leave out, comma-separated")
    ap.add_argument("--show", action="store_true", help="print every miss and false hit")
    args = ap.parse_args()
    data = json.loads(SET.read_text("utf-8"))
    cache = args.cache or Path(tempfile.mkdtemp(prefix="archivist-bench-"))
    leave = {m for m in args.without.split(",") if m}
    use = [m for m in models.MODELS if m not in leave]
    scores = {k: Score() for k in ("person", "organisation", *PII_KINDS, "name")}
    pii_all = Score()
    lang_ok = lang_n = msg_ok = cat_ok = 0
    started = time.monotonic()
    with Archivist(cache, categories=CATEGORIES, use=use) as archivist:
        load = time.monotonic() - started
        t0 = time.monotonic()
        for it in data["items"]:
            text = PackageText()
            lines = it["text"].split("\n") if it["kind"] == "chat" else [it["text"]]
            for i, line in enumerate(lines):
                text.add({"file": it["id"], "line": i}, line)
            result = archivist.analyse(text)
            got: dict[str, set[str]] = {}
            for p in result.proposals:
                got.setdefault(p.field, set()).add(p.value)
            for fld in ("person", "organisation"):
                miss, extra = scores[fld].add(fld, got.get(fld, set()), set(it[f"{fld}s"]))
                _show(args.show, it["id"], fld, miss, extra)
            miss, extra = scores["name"].add("name", got.get("pii.name", set()),
                                             set(it["persons"]))
            pii_all.add("name", got.get("pii.name", set()), set(it["persons"]))
            for kind in PII_KINDS:
                miss, extra = scores[kind].add(kind, got.get(f"pii.{kind}", set()),
                                               set(it["pii"][kind]))
                pii_all.add(kind, got.get(f"pii.{kind}", set()), set(it["pii"][kind]))
                _show(args.show, it["id"], kind, miss, extra)
            lang = next(iter(got.get("language", set())), None)
            if len(it["text"].split()) >= 5:
                lang_n += 1
                lang_ok += lang == it["language"]
            cat = next(iter(got.get("category", set())), None)
            cat_ok += cat == it["category"]
            if args.show and cat != it["category"]:
                print(f"  {it['id']}: category {cat}, true {it['category']}")
        items_s = time.monotonic() - t0
        t1 = time.monotonic()
        for m in data["messages"]:
            text = PackageText()
            text.add({"file": "message"}, m["text"])
            guess = next((p.value for p in archivist.analyse(text).proposals
                          if p.field == "language"), None)
            msg_ok += guess == m["language"]
            if args.show and guess != m["language"]:
                print(f"  message {m['text']!r}: {guess}, true {m['language']}")
        msgs_s = time.monotonic() - t1
        missing = archivist.missing
    n, nm = len(data["items"]), len(data["messages"])
    print(f"models: {', '.join(u for u in use if models.installed(u))}; load {load:.1f} s")
    for m in missing:
        print(f"missing: {m}")
    for name, s in scores.items():
        print(s.line(name if name in ("person", "organisation") else f"pii.{name}"))
    print(f"personal data recall (all kinds, names included): {pii_all.recall:.3f} "
          f"(target >= 0.95)")
    print("persons F1 target >= 0.8 (see the person line)")
    print(f"language accuracy: items {lang_ok}/{lang_n} = {lang_ok / max(lang_n, 1):.3f}; "
          f"short messages {msg_ok}/{nm} = {msg_ok / nm:.3f} (target >= 0.98)")
    print(f"category accuracy: {cat_ok}/{n} = {cat_ok / n:.3f}")
    print(f"throughput: {n / items_s:.1f} documents/s (items, all models); "
          f"{nm / msgs_s:.1f} messages/s (short messages)")
    return 0


def _show(on: bool, item: str, fld: str, miss: set[str], extra: set[str]) -> None:
    if on and (miss or extra):
        print(f"  {item} {fld}: missed {sorted(miss)}, extra {sorted(extra)}")


if __name__ == "__main__":
    raise SystemExit(main())
