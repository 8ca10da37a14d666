"""Replay fixtures: pywb's ``wayback`` on 127.0.0.1, port 0, every wait bounded.

``wayback`` (fixture) starts a wayback process over the test's ``BEWAAR_HOME/collections`` as
the code does; ``serve(bewaar)`` runs ``bewaar replay serve --port 0`` the way a records manager
does and yields the replay base URL. ``crawl(bewaar, site, ...)`` makes a real crawl of a local
test site.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BEWAAR, Bewaar

START_TIMEOUT = 60.0


@pytest.fixture
def wayback() -> Iterator[Callable[..., Any]]:
    """A factory: ``wayback(settings)`` starts pywb over those settings' collections."""
    from replay.collections import write_config
    from replay.wayback import Wayback

    started: list[Wayback] = []

    def start(settings: Any) -> Wayback:
        write_config(settings)
        server = Wayback(settings.collections_dir, "127.0.0.1", 0, start_timeout=START_TIMEOUT)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@contextmanager
def serve(bewaar: Bewaar, *args: str) -> Iterator[str]:
    """``bewaar replay serve --port 0``: yield the replay URL; stop it afterwards."""
    env = {**bewaar.env, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    proc = subprocess.Popen(
        [*BEWAAR, "replay", "serve", "--port", "0", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        assert proc.stdout is not None
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            if m:
                yield m.group(1)
                return
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"bewaar replay serve did not start: {line!r}\n{err}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def crawl(bewaar: Bewaar, site_url: str, name: str = "normal", exclude: list[str] | None = None
          ) -> dict[str, Any]:
    """Register the site and crawl it for real; return ``bewaar crawl --json``."""
    from archive.db import session_scope
    from archive.models import Site
    from archive.settings import load_settings

    with session_scope(load_settings(home=bewaar.home)) as db:
        db.add(Site(name=name, seeds=[site_url], include=[], exclude=exclude or []))
    result: dict[str, Any] = bewaar("crawl", "--site", name, "--json").json()
    assert result["status"] == "finished", result
    return result


def quiet_env() -> dict[str, str]:
    """Settings for replay tests: no sealing or QA after each crawl (the tests call QA)."""
    return {"BEWAAR_SEAL_AFTER_CRAWL": "false", "BEWAAR_QA_AFTER_CRAWL": "false"}


def make_bewaar(home: Path) -> Bewaar:
    """A ``bewaar`` runner for a home shared by several tests (module-scoped fixtures)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_")}
    env.update(quiet_env(), BEWAAR_HOME=str(home), PYTHONPATH=str(Path(__file__).parents[1]))
    return Bewaar(home=home, env=env)
