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

from archive.db import make_engine, open_db, script_heads
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
        columns = {t: {c["name"] for c in inspect(engine).get_columns(t)}
                   for t in ("sites", "users", "chat_sources")}
        assert "retired_at" in columns["sites"] and "locale" in columns["users"]
        assert {"timezone", "locale", "owner"} <= columns["chat_sources"]
        assert {"sites", "crawl_runs", "users", "audit_log", "job_runs", "service_locks",
                "job_claims", "apscheduler_jobs"} <= tables
        with engine.connect() as conn:
            heads = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
            assert heads == script_heads()  # every branch at its head (service, web, chat…)
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


def test_changes_and_their_audit_rows_on_postgresql(pg_url: str) -> None:
    """The service layer on PostgreSQL: a change and its row land together; a refused change
    leaves only its failed row; the user's removal keeps the log."""
    from archive.errors import BewaarError
    from bewaar.services import accounts, sites
    from bewaar.services.audit import events

    settings = load_settings()
    sites.add_site(settings, "test", {"name": "justid", "seeds": ["https://www.justid.nl/"],
                                      "schedule": "0 3 * * *"})
    sites.edit_site(settings, "test", "justid", {"max_pages": "500"})
    with pytest.raises(BewaarError):
        sites.edit_site(settings, "test", "justid", {"seeds": "http://exa mple.nl/"})
    accounts.add_user(settings, "test", "anna", "records", "a long password")
    accounts.create_token(settings, "test", "anna")
    accounts.remove_user(settings, "test", "anna")
    assert sites.remove_site(settings, "test", "justid")["outcome"] == "deleted"
    with open_db(settings)() as db:
        rows = [(e["action"], e["outcome"]) for e in reversed(events(db))]
    assert rows == [("site.add", "ok"), ("schedule.set", "ok"), ("site.edit", "ok"),
                    ("site.edit", "failed"), ("user.add", "ok"), ("token.create", "ok"),
                    ("user.remove", "ok"), ("site.remove", "ok"), ("schedule.remove", "ok")]
