"""Benchmark: the full-text index (search/) against a plain SQL ``LIKE`` scan of the same rows.

Generates Dutch chat messages (default 1,000,000; 6 to 30 words of a ministry's vocabulary,
with rarer words and names mixed in) and web pages (default 50,000; 150 to 450 words and a
title), indexes them with the index the database has (SQLite FTS5 by default; PostgreSQL with
``--database-url``), and stores the same texts in a plain table (id, time, text). Then:

- indexing rate: messages/s and pages/s (the documents' rows, their stems and the index, in
  transactions of ``--batch`` documents, commits included);
- search latency over ``--queries`` queries (default 200: single words common and rare,
  phrases, prefixes, AND/OR/NOT, one filter): ``search.index.search`` as the faces call it,
  total count, the first 20 hits newest first and their snippets included; p50 and p95;
- the naive baseline in the same run: ``SELECT … WHERE text LIKE '%word%' ORDER BY time DESC
  LIMIT 20`` with the hit count, for the first word or phrase of each of the first
  ``--like-queries`` queries (default 20: a scan takes long), p50 and p95;
- index size: the search tables and indexes (SQLite: dbstat; PostgreSQL:
  pg_total_relation_size), and the plain table's size for comparison.

Prints the ratios (LIKE latency / index latency). Targets (issue 15): p95 under 100 ms, at
least 20,000 messages/s indexed. No target is asserted.

    .venv/bin/python bench/search.py [--messages 1000000] [--pages 50000] [--queries 200]
        [--like-queries 20] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMON = ["de", "het", "een", "en", "van", "in", "op", "voor", "met", "dat", "is", "niet",
          "wordt", "we", "ik", "jij", "dit", "ook", "nog", "maar", "al", "wel", "dan", "om"]
TOPIC = ["nota", "begroting", "kamerbrief", "minister", "overleg", "morgen", "vandaag",
         "akkoord", "planning", "punt", "stuk", "reactie", "bijlage", "versie", "vergadering",
         "vergaderingen", "graag", "bellen", "vanmiddag", "concept", "advies", "directie",
         "ambtelijk", "staatssecretaris", "woordvoering", "kamervragen", "beantwoording",
         "ideeën", "coördinatie", "beleidsnota", "subsidieregeling", "wetsvoorstel",
         "uitvoering", "toezicht", "inspectie", "handhaving", "gemeenten", "provincies",
         "waterschap", "stikstof", "woningbouw", "energietransitie", "klimaatakkoord",
         "asielopvang", "jeugdzorg", "onderwijs", "zorgverzekering", "pensioenen",
         "belastingdienst", "toeslagen", "digitalisering", "cybersecurity", "privacy",
         "openbaarheid", "archivering", "informatiehuishouding", "persbericht", "debat"]
NAMES = ["Jansen", "de Vries", "van den Berg", "Bakker", "El Amrani", "Visser", "Smit",
         "Meijer", "de Boer", "Mulder", "Yılmaz", "Bos", "Vos", "Peters", "Hendriks"]


def vocabulary(rnd: random.Random, rare: int = 20_000) -> list[str]:
    """Common and topic words (most of the text) and ``rare`` made-up words (a long tail)."""
    syll = ["ka", "me", "ro", "ver", "ge", "be", "ont", "lij", "heid", "ning", "aar", "sch",
            "taal", "dijk", "zorg", "raad", "wet", "stel", "plan", "werk"]
    return [("".join(rnd.choice(syll) for _ in range(rnd.randint(2, 4))) + str(i % 97))
            for i in range(rare)]


def sentence(rnd: random.Random, n: int, tail: list[str]) -> str:
    words = []
    for _ in range(n):
        r = rnd.random()
        words.append(rnd.choice(COMMON) if r < 0.45 else rnd.choice(TOPIC) if r < 0.9
                     else rnd.choice(NAMES) if r < 0.93 else rnd.choice(tail))
    words[0] = words[0].capitalize()
    return " ".join(words) + rnd.choice([".", "?", "!", ""])


def queries(rnd: random.Random, tail: list[str], n: int) -> list[str]:
    forms = [
        lambda: rnd.choice(TOPIC),
        lambda: rnd.choice(tail),
        lambda: f'"{rnd.choice(TOPIC)} {rnd.choice(COMMON)}"',
        lambda: rnd.choice(TOPIC)[:5] + "*",
        lambda: f"{rnd.choice(TOPIC)} AND {rnd.choice(TOPIC)}",
        lambda: f"{rnd.choice(tail)} OR {rnd.choice(tail)}",
        lambda: f"{rnd.choice(TOPIC)} NOT {rnd.choice(TOPIC)}",
        lambda: f"{rnd.choice(NAMES).split()[-1]} {rnd.choice(TOPIC)}",
    ]
    return [forms[i % len(forms)]() for i in range(n)]


def like_pattern(query: str) -> str:
    """The first word or phrase of a query, as a LIKE pattern (what a naive search does)."""
    q = query.strip()
    first = q[1:].split('"')[0] if q.startswith('"') else q.split()[0].rstrip("*")
    return f"%{first}%"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--like-queries", type=int, default=20)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()

    from sqlalchemy import text

    from archive.db import open_db
    from archive.settings import load_settings
    from search import index
    from search.backend import Doc, backend_for

    home = Path(tempfile.mkdtemp(prefix="bench-search-"))
    extra = {"database_url": args.database_url} if args.database_url else {}
    settings = load_settings(home=home, **extra)
    Session = open_db(settings)
    rnd = random.Random(args.seed)
    tail = vocabulary(rnd)
    start = datetime(2024, 1, 1, tzinfo=UTC)

    with Session() as db:
        conn = db.connection()
        backend = backend_for(conn)
        conn.execute(text("CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, at TIMESTAMP, "
                          "body TEXT)"))
        conn.execute(text("CREATE INDEX ix_bench_plain_at ON bench_plain (at)"))
        db.commit()
    print(f"backend {backend.name}; {args.messages:,} messages, {args.pages:,} pages; "
          f"database {settings.db_url.split('@')[-1]}", flush=True)

    def load(kind: str, n: int, make: Any) -> float:
        """Index ``n`` documents (timed) and store them in the plain table (not timed)."""
        spent = 0.0
        done = 0
        while done < n:
            docs = [make(done + i) for i in range(min(args.batch, n - done))]
            with Session() as db:
                t0 = time.perf_counter()
                ids = backend.add(db.connection(), docs)
                db.commit()
                spent += time.perf_counter() - t0
                db.connection().execute(
                    text("INSERT INTO bench_plain (id, at, body) VALUES (:i, :a, :b)"),
                    [{"i": i, "a": d.at, "b": d.title + "\n" + d.body}
                     for i, d in zip(ids, docs, strict=True)])
                db.commit()
            done += len(docs)
            if done % (args.batch * 20) == 0 or done == n:
                print(f"  {kind}: {done:,} indexed, {done / spent:,.0f}/s", flush=True)
        return spent

    def message(i: int) -> Doc:
        return Doc(kind="chat", source=f"bron{i % 7}", title=f"Overleg {i % 300}",
                   body=sentence(rnd, rnd.randint(6, 30), tail),
                   at=start + timedelta(seconds=i * 30), package_id=f"chat-{i // 10000}",
                   sender=f"@{rnd.choice(NAMES).split()[-1].lower()}:example.org",
                   room_id=f"!room{i % 300}:example.org", locator=f"rooms/r{i % 300}#$e{i}")

    def page(i: int) -> Doc:
        body = " ".join(sentence(rnd, rnd.randint(8, 20), tail)
                        for _ in range(rnd.randint(12, 28)))
        url = f"https://www.ministerie{i % 5}.nl/nieuws/{i}.html"
        return Doc(kind="web", source=f"site{i % 5}", title=sentence(rnd, 6, tail),
                   body=body, at=start + timedelta(minutes=i), package_id=f"web-{i // 5000}",
                   run_id=1 + i // 5000, url=url, surt=url, digest=f"sha1:{i}",
                   mime="text/html")

    t_msg = load("messages", args.messages, message)
    t_page = load("pages", args.pages, page)

    qs = queries(random.Random(args.seed + 1), tail, args.queries)
    fts, totals = [], []
    with Session() as db:
        index.search(db, "begroting", limit=20)  # warm the caches once, as a running server is
        for q in qs:
            t0 = time.perf_counter()
            r = index.search(db, q, index.Filters(kind="chat") if "NOT" in q else None,
                             limit=20)
            fts.append(time.perf_counter() - t0)
            totals.append(r.total)
        like, like_fts = [], fts[: args.like_queries]
        conn = db.connection()
        for q in qs[: args.like_queries]:
            t0 = time.perf_counter()
            rows = conn.execute(text(
                "SELECT id, count(*) OVER () FROM bench_plain WHERE body LIKE :p "
                "ORDER BY at DESC LIMIT 20"), {"p": like_pattern(q)}).all()
            like.append(time.perf_counter() - t0)
            del rows
        size = backend.size(conn)
        if conn.dialect.name == "postgresql":
            plain = int(conn.execute(text("SELECT pg_total_relation_size('bench_plain')"))
                        .scalar() or 0)
        else:
            plain = int(conn.execute(text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE "
                                          "'%bench_plain%'")).scalar() or 0)

    ms = 1000.0
    print(f"indexing: {args.messages / t_msg:,.0f} messages/s ({t_msg:.1f} s), "
          f"{args.pages / t_page:,.0f} pages/s ({t_page:.1f} s)")
    print(f"search ({len(fts)} queries, median {statistics.median(totals):,.0f} hits): "
          f"p50 {pct(fts, 50) * ms:.1f} ms, p95 {pct(fts, 95) * ms:.1f} ms, "
          f"max {max(fts) * ms:.1f} ms")
    print(f"LIKE scan ({len(like)} queries): p50 {pct(like, 50) * ms:.1f} ms, "
          f"p95 {pct(like, 95) * ms:.1f} ms")
    print(f"ratio LIKE / index over the same {len(like)} queries: "
          f"p50 {pct(like, 50) / pct(like_fts, 50):.1f}x, "
          f"p95 {pct(like, 95) / pct(like_fts, 95):.1f}x")
    print(f"index size: {size / 1e6:,.0f} MB (search tables and indexes); the plain table: "
          f"{plain / 1e6:,.0f} MB; ratio {size / plain:.2f}")
    print(f"targets: p95 < 100 ms: {'met' if pct(fts, 95) < 0.1 else 'NOT met'}; "
          f">= 20,000 messages/s: {'met' if args.messages / t_msg >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
