"""Long-lived pywb processes for many replay checks (``bewaar harvest``).

``check_run`` on its own starts pywb processes per check (about a CPU-second each: pywb and
gevent load); a harvest checks hundreds of runs. ``QaReplay`` starts them once, over a QA
configuration (no access rules or embargo, as ``check_run``'s own) that names the collections
of the harvested sites before they exist: each collection's index is named as its file
(``indexes/index.cdxj``), which pywb opens per query, so a collection made after the start
replays without a restart. ``check_run(..., servers=qa.servers)`` then uses them.

``BackgroundReplay`` starts them at once and waits for them in a thread: ``bewaar crawl`` starts
its check's processes as its crawl begins (their ~2 CPU-seconds of imports then overlap the
crawl instead of following it), a harvest as its first crawls run. Should they not start, each
check starts its own.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from archive.files import write_atomic
from archive.settings import Settings
from replay.collections import archive_paths, collection_index
from replay.wayback import Wayback

log = logging.getLogger(__name__)


class QaReplay:
    """``workers`` processes that replay the collections ``names`` for QA: pywb's ``warcserver``
    (what ``check_run`` asks without a browser), or with ``tool="wayback"`` its front end."""

    def __init__(self, settings: Settings, names: Iterable[str], workers: int = 1,
                 tool: str = "warcserver") -> None:
        self.settings = settings
        self.tool = tool
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
                "archive_paths": archive_paths(self.settings, name),
                "default_access": "allow",
            } for name in self.names},
            "enable_memento": True,
            "framed_replay": True,
        }
        write_atomic(self.dir / "config.yaml", (json.dumps(config, indent=2) + "\n").encode())
        try:
            for i in range(self.workers):
                self._servers.append(Wayback(self.dir, log_path=self.dir / f"{self.tool}-{i}.log",
                                             die_with_parent=True, tool=self.tool).launch())
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


class BackgroundReplay:
    """A ``QaReplay`` launched now (from the calling thread, which it lives no longer than:
    see ``Wayback``) and waited for in a thread; ``servers()`` waits until they are up and
    gives None when they did not start (the check then starts its own)."""

    def __init__(self, settings: Settings, names: Iterable[str], workers: int = 1) -> None:
        self.replay = QaReplay(settings, names, workers=workers)
        self.ok = False
        self._launched = False
        try:
            self.replay.launch()
            self._launched = True
        except Exception as exc:  # noqa: BLE001 - each check then starts its own
            log.warning("replay for QA did not start: %s", exc)
        self._thread = threading.Thread(target=self._wait, name="qa-replay", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        if not self._launched:
            return
        try:
            self.replay.wait_ready()
            self.ok = True
        except Exception as exc:  # noqa: BLE001 - each check then starts its own
            log.warning("replay for QA did not start: %s", exc)

    def servers(self) -> list[tuple[str, int]] | None:
        self._thread.join()
        return self.replay.servers if self.ok else None

    def stop(self) -> None:
        self._thread.join()
        self.replay.stop()
