"""One way the tests start a real `bewaar serve`: on 127.0.0.1, port 0, its log in a file."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import BEWAAR
from tests.test_service_scheduler import wait_for


@contextmanager
def running_serve(env: dict[str, str], log: Path, sync_seconds: float = 5) -> Iterator[str]:
    """Start `bewaar serve --port 0` with ``env``; yield its base URL; stop it afterwards."""
    with log.open("ab") as fh:
        proc = subprocess.Popen([*BEWAAR, "serve", "--port", "0", "--sync-seconds",
                                 str(sync_seconds)], env=env, stdout=fh, stderr=fh,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        line = wait_for(lambda: [ln for ln in log.read_text().splitlines() if "serving on" in ln]
                        or proc.poll() is not None, timeout=60, what="bewaar serve")
        assert proc.poll() is None, log.read_text()
        yield line[0].split("serving on ")[1].split()[0].rstrip("/")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
