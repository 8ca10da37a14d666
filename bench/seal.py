"""Benchmark: seal and verify a package vs bagit-python's make_bag and validate (sha512).

    .venv/bin/python bench/seal.py                 # 1 GB in 10,000 files
    .venv/bin/python bench/seal.py --size-mb 100   # quick run

Each side runs in its own child process (so peak memory is each side's own), on the same
source files, in the same run. bagit-python's make_bag moves the files into data/ in place and
hashes them (its default: one process). "ours (copy)" copies every file into a new bag,
hashing it on the way; "ours (link)" hard-links the files (as seal_run does for closed WARCs)
and hashes each once; "ours (recorded)" links them under the sha512 recorded when they were
written, as ``bewaar seal`` does with a crawl's WARCs (the crawler hashes each WARC as it
writes it; that hashing is not timed here), so it reads no payload. All three write MDTO
sidecars, sign, and make the package durable (syncfs) before it counts as sealed, which
bagit-python does not. The target compares "ours (link)", which hashes every byte as
bagit-python does. Verify: ours checks every checksum,
every MDTO sidecar against the XSD and the seal; bagit-python validates the bag.

Each timed part starts after a sync, so no side pays for writing back the others' files. Each
side runs ``--repeat`` times (default 3) on fresh copies, alternating, and the median run is
shown. On ext4 without a journal (as on some virtual machines) start it at least six minutes
after many files were deleted (an earlier run's clean-up, a test run, a package install), or
give ``--dir`` on a journaled file system: such an ext4 will not reuse an inode freed in the
last minute (six, while its inode table block is not written back) and scans past every such
inode for each new file, so the 10,000 MDTO sidecars we create (bagit-python renames files
and creates almost none) cost up to several times more. The benchmark first waits
(``--settle``, up to 7 minutes) while creating a file in its work folder is slow; that probe
sees only the part of the disk it writes to, so a quiet probe does not rule the effect out.
Journaled file systems are not affected.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def make_source(src: Path, size_mb: int, files: int) -> int:
    src.mkdir(parents=True)
    per = max(1, size_mb * 1_000_000 // files)
    block = os.urandom(per + 4096)
    total = 0
    for i in range(files):
        sub = src / f"d{i // 500:03d}"
        sub.mkdir(exist_ok=True)
        start = i % 4096
        data = block[start : start + per]
        (sub / f"f{i:06d}.warc.gz").write_bytes(data)
        total += len(data)
    return total


SETTLED_US = 35  # creating an empty file takes 10-30 us on a quiet ext4; 100-700 us right
# after a mass deletion on one without a journal (see the module docstring)


def create_us(folder: Path, n: int = 300) -> float:
    """Microseconds to create one empty file in ``folder`` (the files are kept: deleting them
    would make the next probe slower)."""
    folder.mkdir(parents=True)
    start = time.perf_counter()
    for i in range(n):
        os.close(os.open(folder / f"p{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - start) / n * 1e6


def settle(base: Path, limit_s: float) -> None:
    """Wait (up to ``limit_s``) until creating files is as fast as on a quiet file system."""
    waited = 0.0
    for probe in range(1000):
        us = create_us(base / f"probe-{probe}")
        if us <= SETTLED_US:
            return
        if waited >= limit_s:
            print(f"warning: creating a file still takes {us:.0f} us (quiet: <= {SETTLED_US});"
                  " files deleted in the last minutes skew the results")
            return
        if probe == 0:
            print(f"creating a file takes {us:.0f} us: waiting for the file system to settle "
                  f"(up to {limit_s:.0f} s; --settle 0 skips this)", flush=True)
        time.sleep(20)
        waited += 20


def peak_mb() -> float:
    """The largest of this process and its worker processes."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def child_ours(src: Path, work: Path, mode: str) -> dict[str, float]:
    os.environ["BEWAAR_HOME"] = str(work / "home")
    from archive.package import PackageInput, build_package, verify_package
    from archive.package.organisation import FICTITIOUS_ORGANISATION, FICTITIOUS_ORGANISATION_ID
    from archive.settings import load_settings

    # sealing needs an organisation: the benchmark names the fictitious one
    settings = load_settings(organisation=FICTITIOUS_ORGANISATION,
                             organisation_id=FICTITIOUS_ORGANISATION_ID)
    from archive.package.keys import init_keys

    init_keys(settings)
    from archive.db import open_db

    open_db(settings)

    recorded: dict[str, tuple[str, int]] = {}
    if mode == "recorded":  # what the crawler recorded while writing: not timed
        from archive.package.bag import hash_file

        for dirpath, _dirs, names in os.walk(src):
            for name in names:
                recorded[os.path.join(dirpath, name)] = hash_file(os.path.join(dirpath, name))

    def inputs() -> Iterator[PackageInput]:
        # The folder walk is timed, as make_bag's own walk is.
        for dirpath, dirs, names in os.walk(src):
            dirs.sort()
            rel = os.path.relpath(dirpath, src)
            for name in sorted(names):
                path = os.path.join(dirpath, name)
                sha512, size = recorded.get(path, (None, None))
                yield PackageInput(name if rel == "." else f"{rel}/{name}", path,
                                   link=mode != "copy", sha512=sha512, size=size)

    os.sync()  # start from a quiet disk: no writeback of earlier steps in the timed part
    c0, t0 = cpu_s(), time.perf_counter()
    result = build_package(settings, source_kind="crawl", source_name="bench", title="Benchmark",
                           category=None, files=inputs())
    c1, t1 = cpu_s(), time.perf_counter()
    report = verify_package(result.path)
    c2, t2 = cpu_s(), time.perf_counter()
    if not report.valid:
        raise SystemExit(f"our package did not verify: {report.findings[:3]}")
    return {"seal_s": t1 - t0, "verify_s": t2 - t1, "peak_mb": peak_mb(),
            "seal_cpu": c1 - c0, "verify_cpu": c2 - c1}


def child_bagit(src: Path, work: Path) -> dict[str, float]:
    import bagit

    target = work / "bagit"
    shutil.copytree(src, target)  # make_bag works in place; the copy is not timed
    os.sync()  # start from a quiet disk: no writeback of earlier steps in the timed part
    c0, t0 = cpu_s(), time.perf_counter()
    bagit.make_bag(str(target), {"Source-Organization": "bench"}, checksums=["sha512"])
    c1, t1 = cpu_s(), time.perf_counter()
    bagit.Bag(str(target)).validate()
    c2, t2 = cpu_s(), time.perf_counter()
    return {"seal_s": t1 - t0, "verify_s": t2 - t1, "peak_mb": peak_mb(),
            "seal_cpu": c1 - c0, "verify_cpu": c2 - c1}


SIDES = {"bagit": "bagit-python", "copy": "ours (copy)", "link": "ours (link)",
         "recorded": "ours (recorded)"}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per measure, the median over the runs (peak memory: the highest)."""
    out = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    return out


def run_child(side: str, src: Path, work: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", side, "--src", str(src),
                          "--work", str(work)], capture_output=True, text=True, check=False,
                         timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"{side} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1000)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per side; the median is shown")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--settle", type=float, default=420,
                    help="seconds to wait at most for the file system to settle (default 420)")
    ap.add_argument("--child", choices=["copy", "link", "recorded", "bagit"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child == "bagit":
            print(json.dumps(child_bagit(args.src, args.work)))
        else:
            print(json.dumps(child_ours(args.src, args.work, args.child)))
        return
    base = Path(tempfile.mkdtemp(prefix="bench-seal-", dir=args.dir))
    try:
        total = make_source(base / "src", args.size_mb, args.files)
        mb = total / 1e6
        settle(base, args.settle)
        print(f"{args.files} files, {mb:.0f} MB; {os.cpu_count()} cores")
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for n in range(args.repeat):
            for side, got in runs.items():
                got.append(run_child(side, base / "src", base / f"{side}-{n}"))
        medians = {side: median_run(got) for side, got in runs.items()}
        theirs = medians["bagit"]
        print(f"median of {args.repeat} runs per side")
        print(f"{'':16}{'seal MB/s':>10}{'verify MB/s':>13}{'peak MB':>9}{'seal x':>8}{'verify x':>10}")
        for side, m in medians.items():
            print(f"{SIDES[side]:16}{mb / m['seal_s']:10.0f}{mb / m['verify_s']:13.0f}{m['peak_mb']:9.0f}"
                  f"{theirs['seal_s'] / m['seal_s']:8.2f}{theirs['verify_s'] / m['verify_s']:10.2f}")
        print("targets: seal and verify >= 1.5x bagit-python; peak memory < 200 MB")
        print("CPU seconds (user+sys; ours uses several processes):")
        for side, m in medians.items():
            print(f"  {SIDES[side]:16} seal {m['seal_cpu']:6.2f} s   verify {m['verify_cpu']:6.2f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
