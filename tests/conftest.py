"""Shared fixtures: a fresh BEWAAR_HOME per test and the ``bewaar`` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEWAAR = [sys.executable, "-m", "bewaar.cli.main"]
# Sealing refuses without a configured organisation: every test home names this fictitious one
# (a test about the unconfigured case removes it).
TEST_ORGANISATION = {"BEWAAR_ORGANISATION": "Ministerie van Proefzaken (fictief, test)",
                     "BEWAAR_ORGANISATION_ID": "00000009999999999000"}
# Enriching after each seal loads the archivist's models (seconds and a gigabyte): off in test
# homes; tests/test_archivist.py turns it on where it is what is tested.
TEST_QUIET = {"BEWAAR_ENRICH_AFTER_ARCHIVING": "false"}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Bewaar:
    """Runs ``bewaar`` in a subprocess with this test's BEWAAR_HOME."""

    home: Path
    env: dict[str, str]

    def __call__(self, *args: str, check: bool = True, timeout: float = 300,
                 env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [*BEWAAR, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"bewaar {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the digital archivist's lookup tables for the whole session (deduce builds
    its tables once: about a minute)."""
    return Path(os.environ.get("BEWAAR_TEST_ARCHIVIST_CACHE")
                or tmp_path_factory.mktemp("archivist-cache"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh BEWAAR_HOME, also set for in-process calls."""
    h = tmp_path / "bewaar-home"
    monkeypatch.setenv("BEWAAR_HOME", str(h))
    for key in list(os.environ):
        if key.startswith("BEWAAR_") and key not in ("BEWAAR_HOME",) and not key.startswith("BEWAAR_TEST"):
            monkeypatch.delenv(key)
    for key, value in {**TEST_ORGANISATION, **TEST_QUIET}.items():
        monkeypatch.setenv(key, value)
    from bewaar.cli import common

    common.reset_settings()
    yield h
    common.reset_settings()


@pytest.fixture
def bewaar(home: Path) -> Bewaar:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_") or k.startswith("BEWAAR_TEST")}
    env["BEWAAR_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    env.update(TEST_ORGANISATION)
    env.update(TEST_QUIET)
    return Bewaar(home=home, env=env)


# moto's S3 server on loopback (tests/s3.py): `s3_server` (session), `s3` (a fresh bucket)
from tests.s3 import s3, s3_server  # noqa: E402, F401
