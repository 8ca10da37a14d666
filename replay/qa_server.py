"""Long-lived ``wayback`` processes for many replay checks (``bewaar harvest``).

``check_run`` on its own starts wayback processes per check (about two CPU-seconds each: pywb
and gevent load); a harvest checks hundreds of runs. ``QaReplay`` starts them once, over a QA
configuration (no access rules or embargo, as ``check_run``'s own) that names the collections
of the harvested sites before they exist: each collection's index is named as its file
(``indexes/index.cdxj``), which pywb opens per query, so a collection made after the start
replays without a restart. ``check_run(..., servers=qa.servers)`` then uses them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from archive.files import write_atomic
from archive.settings import Settings
from replay.collections import collection_dir, collection_index
from replay.wayback import Wayback


class QaReplay:
    """``workers`` wayback processes that replay the collections ``names`` for QA."""

    def __init__(self, settings: Settings, names: Iterable[str], workers: int = 1) -> None:
        self.settings = settings
        self.names = list(dict.fromkeys(names))
        self.workers = max(1, workers)
        self.dir: Path | None = None
        self._servers: list[Wayback] = []

    @property
    def servers(self) -> list[tuple[str, int]]:
        return [(s.host, s.port) for s in self._servers]

    def launch(self) -> QaReplay:
        """Start the processes (they end with the thread that calls this, should it die)."""
        root = self.settings.collections_dir
        root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".qa-", dir=root))
        empty = self.dir / "root"  # pywb lists its collections root: an empty one
        empty.mkdir()
        config = {
            "collections_root": str(empty),
            "collections": {name: {
                "index_paths": str(collection_index(self.settings, name)),
                "archive_paths": str(collection_dir(self.settings, name) / "archive") + "/",
                "default_access": "allow",
            } for name in self.names},
            "enable_memento": True,
            "framed_replay": True,
        }
        write_atomic(self.dir / "config.yaml", (json.dumps(config, indent=2) + "\n").encode())
        try:
            for i in range(self.workers):
                self._servers.append(Wayback(self.dir, log_path=self.dir / f"wayback-{i}.log",
                                             die_with_parent=True).launch())
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> QaReplay:
        try:
            for server in self._servers:
                server.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for s in self._servers:
            s.stop()
        self._servers = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def start(self) -> QaReplay:
        return self.launch().wait_ready()

    def __enter__(self) -> QaReplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
