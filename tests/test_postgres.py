"""The PostgreSQL path: the same Alembic migrations, and two scheduler instances on one
PostgreSQL database never running the same job twice.

BEWAAR_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) selects the server;
each run makes its own database and drops it afterwards. Without the variable these tests skip,
unless BEWAAR_REQUIRE_POSTGRES=1 (CI), then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, text

from archive.db import make_engine, open_db
from archive.settings import load_settings
from scheduler.service import Service
from tests.test_service_scheduler import two_instances_share_one_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    base = os.environ.get("BEWAAR_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("BEWAAR_REQUIRE_POSTGRES") == "1":
            pytest.fail("BEWAAR_REQUIRE_POSTGRES=1 but BEWAAR_TEST_POSTGRES_URL is not set")
        pytest.skip("set BEWAAR_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test")
    name = f"bewaar_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("BEWAAR_DATABASE_URL", url)
    try:
        yield url
    finally:
        from archive import db as dbmod

        for key in [k for k in dbmod._factories if name in k]:
            dbmod._factories.pop(key).kw["bind"].dispose()
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_run_on_postgresql(pg_url: str) -> None:
    settings = load_settings()
    assert settings.db_url == pg_url
    open_db(settings)
    engine = make_engine(pg_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"sites", "crawl_runs", "users", "audit_log", "job_runs", "service_locks",
                "job_claims", "apscheduler_jobs"} <= tables
        with engine.connect() as conn:
            heads = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
            assert "0002_service" in heads
            conn.execute(text("INSERT INTO audit_log (at, actor, action, outcome, detail) "
                              "VALUES (now(), 'x', 'y', 'ok', '{}')"))
            conn.commit()
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_two_schedulers_on_one_postgresql(pg_url: str, home: Path) -> None:
    services: list[Service] = []
    try:
        two_instances_share_one_database(home, services)
    finally:
        for s in services:
            s.shutdown(wait=True)
