"""Benchmark: `bewaar chat export` against a plain paginating httpx client, same Synapse, same run.

Seeds N events (default 10,000) into a few rooms of a local Synapse (from .venv-synapse), then
times, alternately, the plain client (``/messages`` with limit=1000, JSON parsed, written as
JSON lines) and a full ``bewaar chat export`` (CLI start, login, pagination, state, media,
transcript, evidence, sealed package). Prints events/s of each and the ratio (target >= 0.8).

    .venv/bin/python bench/chat.py [--events 10000] [--rooms 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.synapse import MatrixUser, SynapseServer  # noqa: E402

SELECTIELIJST = 'name = "bench"\n[[categorie]]\ncode = "1.1"\nnaam = "chat"\nwaardering = "B"\n' \
                'trigger = "einde"\n'


async def seed(url: str, token: str, events: int, rooms: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        alice = MatrixUser(client, token, "@alice:localhost")
        ids = [await alice.create_room(f"Bench {i}") for i in range(rooms)]
        per_room = events // rooms - 8  # a new room holds ~8 state events
        done = 0

        async def fill(room: str) -> None:
            nonlocal done
            for start in range(0, per_room, 50):
                batch = range(start, min(start + 50, per_room))
                await asyncio.gather(*(alice.text(room, f"bericht {i} " + "x" * 80)
                                       for i in batch))
                done += len(batch)
                print(f"\rseeding {done}/{per_room * rooms}", end="", file=sys.stderr)

        await asyncio.gather(*(fill(r) for r in ids))
        print(file=sys.stderr)
        return ids


def plain_client(url: str, token: str, rooms: list[str], out: Path) -> int:
    n = 0
    with httpx.Client(base_url=url, timeout=120,
                      headers={"Authorization": f"Bearer {token}"}) as c, open(out, "w") as fh:
        for room in rooms:
            params: dict[str, str | int] = {"dir": "b", "limit": 1000}
            while True:
                page = c.get(f"/_matrix/client/v3/rooms/{room}/messages", params=params).json()
                for ev in page["chunk"]:
                    fh.write(json.dumps(ev) + "\n")
                n += len(page["chunk"])
                if not page.get("end") or not page["chunk"]:
                    break
                params["from"] = page["end"]
    return n


def bewaar(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "bewaar.cli.main", *args], capture_output=True,
                          text=True, env={**os.environ, "BEWAAR_HOME": str(home), **(env or {})},
                          timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bewaar {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rooms", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bewaar-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server = SynapseServer(tmp / "synapse")
        server.start()
        try:
            token = server.register("alice", "bench-password", admin=True)
            t0 = time.perf_counter()
            rooms = asyncio.run(seed(server.url, token, args.events, args.rooms))
            print(f"seeded in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            home = tmp / "home"
            (tmp / "sl.toml").write_text(SELECTIELIJST)
            bewaar(home, "selectielijst", "load", str(tmp / "sl.toml"))
            plain_rates, bewaar_rates = [], []
            for r in range(args.rounds):
                t0 = time.perf_counter()
                n_plain = plain_client(server.url, token, rooms, tmp / f"plain-{r}.jsonl")
                plain_rates.append(n_plain / (time.perf_counter() - t0))
                name = f"bench{r}"
                bewaar(home, "chat", "add", "matrix", name, "--homeserver", server.url, "--user",
                       "@alice:localhost", "--password-env", "BENCH_PW", "--all-joined",
                       "--category", "1.1")
                t0 = time.perf_counter()
                out = json.loads(bewaar(home, "chat", "export", name, "--json",
                                        env={"BENCH_PW": "bench-password"}))
                bewaar_rates.append(out["events"] / (time.perf_counter() - t0))
                assert out["events"] == n_plain, (out["events"], n_plain)
                print(f"round {r + 1}: plain {n_plain} events {plain_rates[-1]:,.0f}/s, "
                      f"bewaar chat export {out['events']} events {bewaar_rates[-1]:,.0f}/s",
                      file=sys.stderr)
        finally:
            server.remove()
    best_plain, best_bewaar = max(plain_rates), max(bewaar_rates)
    # Each round runs both back to back, so its ratio is the least disturbed by other load.
    ratios = sorted(b / p for b, p in zip(bewaar_rates, plain_rates, strict=True))
    print(f"events: {n_plain} in {len(rooms)} rooms, {len(ratios)} rounds")
    print(f"plain httpx client (/messages limit=1000): best {best_plain:,.0f} events/s")
    print(f"bewaar chat export (sealed package incl.):  best {best_bewaar:,.0f} events/s")
    print(f"ratio per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"median {ratios[len(ratios) // 2]:.2f}x, best-to-best {best_bewaar / best_plain:.2f}x "
          "(target >= 0.8x)")


if __name__ == "__main__":
    main()
