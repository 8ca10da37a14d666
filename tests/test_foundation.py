"""The foundation a web team meets first: settings, the database and `bewaar site`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archive.errors import SettingsError
from archive.settings import load_settings
from archive.storage import LocalStorage, storage_from_url


def test_settings_file_and_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True)
    (home / "bewaar.toml").write_text('concurrency = 4\norganisation = "Ministerie van Asiel en Migratie"\n')
    monkeypatch.delenv("BEWAAR_ORGANISATION")  # set by the home fixture; here the file says it
    s = load_settings()
    assert s.concurrency == 4 and s.organisation == "Ministerie van Asiel en Migratie"
    monkeypatch.setenv("BEWAAR_CONCURRENCY", "7")
    assert load_settings().concurrency == 7  # the environment wins over the file
    assert load_settings().db_url == f"sqlite:///{home / 'bewaar.sqlite3'}"


def test_bad_setting_fails_loudly(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEWAAR_WARC_MAX_SIZE", "lots")
    with pytest.raises(SettingsError, match="BEWAAR_WARC_MAX_SIZE"):  # the variable as set
        load_settings()


def test_bad_setting_file_key(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "bewaar.toml").write_text("concurency = 4\n")  # a typo must not pass silently
    with pytest.raises(SettingsError, match="concurency"):
        load_settings()


def test_site_add_and_list(bewaar) -> None:  # type: ignore[no-untyped-def]
    bewaar("site", "add", "justid", "--seed", "https://www.justid.nl/", "--exclude", "/zoeken")
    sites = bewaar("site", "list", "--json").json()
    assert [s["name"] for s in sites] == ["justid"]
    assert sites[0]["seeds"] == ["https://www.justid.nl/"] and sites[0]["exclude"] == ["/zoeken"]
    again = bewaar("site", "add", "justid", "--seed", "https://x.nl/", check=False)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = bewaar("site", "add", "x", "--seed", "ftp://x.nl/", check=False)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr


def test_unwritable_home_is_a_clear_error(bewaar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "file").write_text("x")
    res = bewaar("site", "list", check=False, env={"BEWAAR_HOME": str(ro / "file" / "home")})
    assert res.returncode == 2 and "cannot create" in res.stderr
    assert "Traceback" not in res.stderr


def test_local_storage_round_trip(tmp_path: Path) -> None:
    store = storage_from_url(tmp_path / "store")
    assert isinstance(store, LocalStorage)
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc")
    store.put(src, "x/a.bin")
    assert store.exists("x/a.bin") and list(store.keys()) == ["x/a.bin"]
    with store.open("x/a.bin") as fh:
        assert fh.read() == b"abc"
    with pytest.raises(Exception, match="escapes"):
        store.put(src, "../evil")


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    """Every table and column of the models comes from a migration, and nothing else."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from archive.db import make_engine, migrate
    from archive.models import Base, load_all

    load_all()

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # APScheduler's own job table is made by a migration but has no model of ours, nor has
    # the search index's FTS5 table (nor the shadow tables SQLite makes for it)
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "apscheduler_jobs")
            and not (d[0] == "remove_index" and d[1].table.name == "apscheduler_jobs")
            and not (d[0] == "remove_table" and d[1].name.startswith("search_fts"))]
    assert diff == []


def test_atomic_file_leaves_nothing_half_written(tmp_path: Path) -> None:
    from archive.files import atomic_file, write_atomic

    target = tmp_path / "sub" / "report.html"
    write_atomic(target, b"first", mode=0o600)
    assert target.read_bytes() == b"first" and (target.stat().st_mode & 0o777) == 0o600
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half of the sec")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"first"  # the finished file is untouched
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary left


def test_each_model_module_stands_alone() -> None:
    """Models are imported on first use: each module must bring the tables its foreign keys
    name, or a process that uses only it cannot write a row."""
    code = (
        "import importlib, sys; m = importlib.import_module(sys.argv[1]);"
        "from archive.models import Base;"
        "[fk.column for t in Base.metadata.tables.values() for fk in t.foreign_keys]"
    )
    for module in ("chat", "package", "replay", "service", "web"):
        res = subprocess.run([sys.executable, "-c", code, f"archive.models.{module}"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, f"archive.models.{module}: {res.stderr[-500:]}"


def test_command_map_names_what_each_module_registers() -> None:
    """`bewaar X` imports only the module the map names for X: the map must be exact."""
    import importlib

    import typer

    from bewaar.cli.app import COMMAND_MODULES

    for module, names in COMMAND_MODULES.items():
        app = typer.Typer()
        importlib.import_module(module).register(app)
        registered = {c.name for c in app.registered_commands} | {
            g.name for g in app.registered_groups}
        assert registered == set(names), module


def test_crawl_worker_starts_without_the_database_layer() -> None:
    """The worker's start-up is the wait before a crawl's first fetch: it leaves the database
    to the command (crawler.ledger) and SURT's unused domain lookup (requests) unloaded."""
    code = ("import sys, crawler.worker; crawler.worker.preload(); "
            "print(' '.join(m for m in ('sqlalchemy', 'archive.db', 'requests', 'urllib3') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-500:]
    assert res.stdout.strip() == ""
