"""Benchmark: `bewaar chat import` of a WhatsApp export against merely unzipping and hashing it.

Generates a WhatsApp "Export chat" of an Android phone in Dutch (default 40,000 messages, 2,000
media files of a few KB each, in the ``.zip`` the phone writes): multi-line messages, system
lines, senders known by phone number only, ``NAAM (bestand bijgevoegd)`` and
``<bijgevoegd: NAAM>`` references, ``<Media weggelaten>``, deleted and edited markers, text
holding " - " and ": ". Then times, alternately in each round:

- the floor: unzip the export (every member written to disk) and sha256 every member, in this
  Python process (no process start: the floor is the cheapest it can be);
- ``bewaar chat import NAME EXPORT.zip --json`` as a user runs it, a subprocess, process start,
  reading, writing the chat layout and sealing the package included (each round imports into a
  new source of the same BEWAAR_HOME, so every round archives all messages).

Prints messages/s of the import, the ratio of its time to the floor's (per round and the
median), the ratio of CPU seconds (the import's own and its children's, such as the sealing's
workers: on a machine others load, less disturbed than wall-clock time) and the peak memory
(RSS) of the import process. Targets (issue 12): at least 20,000 messages/s, within 3x the
floor, under 300 MB. No target is asserted.

Then, where the time goes: one more import (not counted in the rounds) runs under stage timers
(``--stages``, this file run as the command: it wraps the import's stage functions with
clocks, wall and CPU seconds of the import process, and runs ``bewaar chat import``), printed
largest first. A stage inside another is indented under it; "process start and exit" is the
wall time the import process took beyond what it measured itself.

    .venv/bin/python bench/chat_import.py [--messages 40000] [--media 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SELECTIELIJST = 'name = "bench"\n[[categorie]]\ncode = "1.1"\nnaam = "chat"\nwaardering = "B"\n' \
                'trigger = "einde"\n'
ORGANISATION = {"BEWAAR_ORGANISATION": "Ministerie van Proefzaken (fictief, benchmark)",
                "BEWAAR_ORGANISATION_ID": "00000009999999999000"}
CHAT = "Crisisoverleg"
LTR, PDF = "\u202a", "\u202c"  # WhatsApp puts these around phone numbers
PEOPLE = ["Jan de Vries", "Fatima el Amrani", "Pieter Bakker", "Ingrid van den Berg",
          f"{LTR}+31 6 12345678{PDF}", f"{LTR}+31 6 87654321{PDF}", "Mw. drs. K. Jansen",
          f"{LTR}+31 70 3456789{PDF}"]
WORDS = ["de", "het", "een", "en", "van", "in", "op", "voor", "met", "dat", "is", "niet",
         "wordt", "nota", "begroting", "kamerbrief", "minister", "overleg", "morgen",
         "vandaag", "akkoord", "planning", "punt", "stuk", "reactie", "bijlage", "versie",
         "vergadering", "graag", "even", "bellen", "vanmiddag", "concept", "advies",
         "directie", "ambtelijk"]
SYSTEM = ["{a} heeft {b} toegevoegd", "{a} heeft {b} verwijderd", "{a} heeft de groep verlaten",
          "{a} heeft het onderwerp gewijzigd naar 'Crisisoverleg week {n}'",
          "Je beveiligingscode met {b} is gewijzigd. Tik voor meer informatie.",
          "{a} heeft de groepsbeschrijving gewijzigd"]
MEDIA = [("IMG", "jpg"), ("IMG", "jpg"), ("DOC", "pdf"), ("PTT", "opus"), ("VID", "mp4"),
         ("STK", "webp")]


def sentence(rng: random.Random, lo: int = 3, hi: int = 18) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize()


def make_export(path: Path, messages: int, media: int, seed: int = 12) -> int:
    """Write the export zip; return the number of messages (and system lines) in its text."""
    rng = random.Random(seed)
    t = datetime(2024, 1, 8, 8, 0)
    media_every = max(1, messages // media) if media else 0
    lines = ["08-01-2024 08:00 - Berichten en gesprekken worden end-to-end versleuteld. "
             "Niemand buiten deze chat, zelfs WhatsApp niet, kan ze lezen of beluisteren. Tik "
             "voor meer informatie.",
             f'08-01-2024 08:00 - Jan de Vries heeft groep "{CHAT}" aangemaakt']
    files: list[tuple[str, bytes]] = []
    blob = os.urandom(16384)
    n = 2
    while n < messages:
        t += timedelta(seconds=rng.choice((0, 0, 20, 40, 60, 60, 120, 300, 900)))
        if t.hour >= 23 or t.hour < 7:  # nobody writes at night (nor in the DST gap)
            t = (t + timedelta(days=1)).replace(hour=7, minute=rng.randint(0, 59))
        stamp = t.strftime("%d-%m-%Y %H:%M")
        who = rng.choice(PEOPLE)
        roll = rng.random()
        if media_every and (n - 2) % media_every == 0 and len(files) < media:
            kind, ext = rng.choice(MEDIA)
            name = f"{kind}-{t:%Y%m%d}-WA{len(files):04d}.{ext}"
            size = rng.randint(2000, 8000)
            start = rng.randint(0, len(blob) - size)
            files.append((name, blob[start:start + size]))
            ref = f"\u200e{name} (bestand bijgevoegd)" if len(files) % 2 else \
                f"<bijgevoegd: {name}>"
            caption = f"\n{sentence(rng)}" if rng.random() < 0.3 else ""
            lines.append(f"{stamp} - {who}: {ref}{caption}")
        elif roll < 0.01:
            a, b = rng.sample(PEOPLE, 2)
            lines.append(f"{stamp} - " + rng.choice(SYSTEM).format(a=a, b=b, n=n // 1000))
        elif roll < 0.02:
            lines.append(f"{stamp} - {who}: <Media weggelaten>")
        elif roll < 0.025:
            lines.append(f"{stamp} - {who}: Dit bericht is verwijderd")
        elif roll < 0.035:
            lines.append(f"{stamp} - {who}: {sentence(rng)} <Dit bericht is bewerkt>")
        elif roll < 0.09:  # multi-line, sometimes with an empty line
            body = "\n".join(sentence(rng) if rng.random() < 0.85 else ""
                             for _ in range(rng.randint(2, 6)))
            lines.append(f"{stamp} - {who}: {body}")
        elif roll < 0.12:
            lines.append(f"{stamp} - {who}: Agenda: punt 1 - {sentence(rng, 2, 4)}; "
                         f"punt 2 - {sentence(rng, 2, 4)}. Tijd: 10:00 - 11:00")
        elif roll < 0.15:
            lines.append(f"{stamp} - {who}: ok")
        else:
            lines.append(f"{stamp} - {who}: {sentence(rng)}")
        n += 1
    text = ("\n".join(lines) + "\n").encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"WhatsApp-chat met {CHAT}.txt", text)
        for name, data in files:  # phones store media as they are (already compressed)
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 8, 8, 0, 0)), data,
                        compress_type=zipfile.ZIP_STORED)
    return n


def floor(export: Path, target: Path) -> tuple[float, float, int]:
    """Seconds (wall, CPU) to unzip every member to disk and sha256 it; the number of
    members."""
    target.mkdir(parents=True)
    c0, t0 = time.process_time(), time.perf_counter()
    with zipfile.ZipFile(export) as zf:
        infos = zf.infolist()
        for i, info in enumerate(infos):
            h = hashlib.sha256()
            with zf.open(info) as fin, open(target / f"{i:06d}", "wb") as fout:
                while chunk := fin.read(1 << 20):
                    h.update(chunk)
                    fout.write(chunk)
            h.hexdigest()
    return time.perf_counter() - t0, time.process_time() - c0, len(infos)


def bewaar(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "bewaar.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=1800, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bewaar {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def timed_import(env: dict[str, str], work: Path, name: str,
                 export: Path) -> tuple[float, float, float, dict[str, object]]:
    """(seconds, CPU seconds and peak RSS in MB of the import process, its JSON output)."""
    out, err = work / f"{name}.out", work / f"{name}.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bewaar.cli.main", "chat", "import", name,
                                 str(export), "--json"], stdout=fo, stderr=fe, env=env,
                                cwd=ROOT, stdin=subprocess.DEVNULL)
        # wait4 gives this child's own peak RSS (getrusage(RUSAGE_CHILDREN) would be the
        # largest of every child so far)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bewaar chat import failed ({proc.returncode}):\n{err.read_text()}")
    return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            json.loads(out.read_text()))


# Stage timers -----------------------------------------------------------------------------
# (module, attribute, label, depth): each function is replaced by a timed wrapper where its
# caller looks it up; a name that no longer exists is reported, not fatal.
STAGES = [
    ("chat_archiver.imports", "stage_files", "copy, unzip and hash the export", 0),
    ("chat_archiver.imports", "reader_for", "parse the export", 0),
    ("chat_archiver.export", "_fetch_room", "events, dedup, link attachments", 0),
    ("chat_archiver.export", "write_export", "write messages.csv, events, transcript", 0),
    ("chat_archiver.writer", "render_room", "transcript.html", 1),
    ("chat_archiver.export", "_seal", "seal the package", 0),
    ("archive.package.build", "run_batched", "bag files: hash, link, MDTO sidecars", 1),
    ("archive.package.build", "sign_detached", "CMS signature", 1),
    ("archive.package.build", "request_timestamp", "RFC 3161 time-stamp", 1),
    ("archive.package.bag", "sync_tree", "fsync", 1),
    ("chat_archiver.export", "_commit", "record the messages as archived", 0),
    ("bewaar.services.chats", "_search_index", "search index", 0),
]


def _timed(fn: Any, label: str, spent: dict[str, list[float]]) -> Any:
    import inspect

    def add(t: float, c: float) -> None:
        got = spent.setdefault(label.rstrip(":"), [0.0, 0.0])
        got[0] += time.perf_counter() - t
        got[1] += time.process_time() - c

    if inspect.iscoroutinefunction(fn):
        async def timed_async(*a: Any, **k: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return await fn(*a, **k)
            finally:
                add(t, c)
        return timed_async
    if inspect.isgeneratorfunction(fn):
        def timed_gen(*a: Any, **k: Any) -> Any:
            it = fn(*a, **k)
            while True:
                t, c = time.perf_counter(), time.process_time()
                try:
                    part = next(it)
                except StopIteration:
                    add(t, c)
                    return
                add(t, c)
                yield part
        return timed_gen
    if label == "parse the export":  # reader_for gives the reader; its read() is the stage
        def reader(*a: Any, **k: Any) -> Any:
            found = fn(*a, **k)
            found.read = _timed(found.read, label + ":", spent)
            return found
        return reader

    def timed(*a: Any, **k: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            add(t, c)
    return timed


def run_with_stages(out: Path, argv: list[str]) -> None:
    """``bewaar chat import …`` in this process with the STAGES timed; the seconds to ``out``
    (JSON), then the command's own exit."""
    t0, c0 = time.perf_counter(), time.process_time()
    # as `python -m bewaar.cli.main` in ROOT finds modules (bench/ holds a search.py)
    sys.path[0] = str(ROOT)
    spent: dict[str, list[float]] = {}
    missing = []
    from bewaar.cli.main import main as bewaar_main

    for mod_name, attr, label, _depth in STAGES:
        mod = importlib.import_module(mod_name)
        fn = getattr(mod, attr, None)
        if fn is None:
            missing.append(f"{mod_name}.{attr}")
            continue
        setattr(mod, attr, _timed(fn, label, spent))
    service = importlib.import_module("bewaar.services.chats")
    entered: list[float] = []
    real = service.import_export

    def entering(*a: Any, **k: Any) -> Any:
        entered.extend((time.perf_counter() - t0, time.process_time() - c0))
        return real(*a, **k)

    setattr(service, "import_export", entering)  # noqa: B010 (the CLI looks it up there)
    sys.argv = ["bewaar", *argv]
    import atexit

    def report() -> None:
        total = [time.perf_counter() - t0, time.process_time() - c0]
        out.write_text(json.dumps({"spent": spent, "missing": missing, "total": total,
                                   "imports": entered}))

    atexit.register(report)
    bewaar_main()


def print_stages(found: dict[str, Any], wall: float) -> None:
    spent = found["spent"]
    total_wall, total_cpu = found["total"]
    rows: list[tuple[str, float, float, int]] = []
    top_wall = top_cpu = 0.0
    if found.get("imports"):
        w, c = found["imports"]
        rows.append(("imports and start of the command", w, c, 0))
        top_wall, top_cpu = w, c
    for _mod, _attr, label, depth in STAGES:
        if label in spent:
            w, c = spent[label]
            rows.append((label, w, c, depth))
            if depth == 0:
                top_wall, top_cpu = top_wall + w, top_cpu + c
    rows.append(("the rest (database rows, audit, evidence, exit)", total_wall - top_wall,
                 total_cpu - top_cpu, 0))
    rows.append(("process start and exit (beyond its own clock)", max(0.0, wall - total_wall),
                 0.0, 0))
    # top stages largest first, each followed by its inner stages
    groups: list[list[tuple[str, float, float, int]]] = []
    for row in rows:
        if row[3] == 0 or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    print(f"where the time goes (one more import, {wall:.2f}s wall; wall and CPU seconds of "
          "the import process, the sealing's workers not counted in CPU):")
    for group in sorted(groups, key=lambda g: -g[0][1]):
        for label, w, c, depth in group:
            print(f"  {'  ' * depth}{label:<{52 - 2 * depth}} {w:6.2f}s  CPU {c:6.2f}s")
    if found.get("missing"):
        print(f"  (stages not found, so not timed: {', '.join(found['missing'])})")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--media", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary "
                    "folder; on the file system BEWAAR_HOME would be on)")
    ap.add_argument("--stages", nargs=argparse.REMAINDER, default=None,
                    help=argparse.SUPPRESS)  # internal: OUT.json bewaar-args…
    args = ap.parse_args()
    if args.stages is not None:
        run_with_stages(Path(args.stages[0]), args.stages[1:])
        return
    with tempfile.TemporaryDirectory(prefix="bewaar-bench-", dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        export = tmp / f"WhatsApp-chat met {CHAT}.zip"
        lines = make_export(export, args.messages, args.media)
        print(f"export: {lines} messages, {args.media} media, "
              f"{export.stat().st_size / 1e6:.1f} MB zip", file=sys.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_")}
        env.update(ORGANISATION, BEWAAR_HOME=str(tmp / "home"),
                   BEWAAR_ENRICH_AFTER_ARCHIVING="false")  # the import alone is measured
        (tmp / "sl.toml").write_text(SELECTIELIJST)
        bewaar(env, "selectielijst", "load", str(tmp / "sl.toml"))
        bewaar(env, "keys", "init")
        floors, imports, peaks, cpu_ratios = [], [], [], []
        archived = 0
        for r in range(args.rounds):
            os.sync()  # neither side pays for writing back the other's files
            f_s, f_cpu, members = floor(export, tmp / f"floor-{r}")
            floors.append(f_s)
            name = f"bench{r}"
            bewaar(env, "chat", "add", "whatsapp", name, "--category", "1.1")
            os.sync()
            i_s, i_cpu, peak, out = timed_import(env, tmp, name, export)
            imports.append(i_s)
            cpu_ratios.append(i_cpu / f_cpu)
            peaks.append(peak)
            archived = int(out["messages"])  # type: ignore[call-overload]
            if archived != lines or out["attachments"] != args.media:
                raise SystemExit(f"the import archived {archived} messages and "
                                 f"{out['attachments']} attachments, not {lines} and "
                                 f"{args.media}: {out}")
            print(f"round {r + 1}: floor {f_s:.2f}s ({members} members), import {i_s:.2f}s "
                  f"({archived / i_s:,.0f} messages/s, {i_s / f_s:.1f}x; CPU {i_cpu:.2f}s vs "
                  f"{f_cpu:.2f}s), peak {peak:.0f} MB",
                  file=sys.stderr)
        name = "stages"
        bewaar(env, "chat", "add", "whatsapp", name, "--category", "1.1")
        os.sync()
        found_file = tmp / "stages.json"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--stages",
                        str(found_file), "chat", "import", name, str(export), "--json"],
                       env=env, cwd=ROOT, check=True, capture_output=True, timeout=1800)
        stage_wall = time.perf_counter() - t0
        found = json.loads(found_file.read_text())
    # Each round runs both back to back, so its ratio is the least disturbed by other load.
    ratios = sorted(i / f for i, f in zip(imports, floors, strict=True))
    med_import, med_floor = statistics.median(imports), statistics.median(floors)
    print(f"export: {archived} messages, {args.media} media files, {len(ratios)} rounds")
    print(f"floor (unzip + sha256 every member, in process): median {med_floor:.2f}s")
    print(f"bewaar chat import (process start, sealing incl.): median {med_import:.2f}s, "
          f"{archived / med_import:,.0f} messages/s (target >= 20,000)")
    print(f"ratio import/floor per round: {', '.join(f'{r:.1f}' for r in ratios)}; median "
          f"{ratios[len(ratios) // 2]:.1f}x (target <= 3x)")
    # On a machine others load, CPU seconds are disturbed less than wall-clock seconds.
    print(f"CPU seconds import/floor per round: "
          f"{', '.join(f'{r:.1f}' for r in sorted(cpu_ratios))}")
    print(f"peak RSS of the import process: {max(peaks):.0f} MB (target < 300 MB)")
    print_stages(found, stage_wall)


if __name__ == "__main__":
    main()
