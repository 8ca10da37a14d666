"""Engine, sessions and migrations.

``open_db(settings)`` brings the schema up to date with Alembic (every branch head) and returns
a session factory. SQLite gets WAL and foreign keys; PostgreSQL is used as it is.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archive.errors import SettingsError
from archive.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(.+)$", re.M)


def script_heads() -> set[str]:
    """The head revisions of the shipped migrations, read from the files without Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            names = set(re.findall(r"['\"]([^'\"]+)['\"]", value))
            (parents if key == "down_revision" else revisions).update(names)
    return revisions - parents


def is_current(engine: Engine) -> bool:
    """True when the database is at every head already (a quick check before Alembic)."""
    try:
        with engine.connect() as conn:
            stamped = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        return False
    return stamped == script_heads()


def migrate(engine: Engine) -> None:
    """Upgrade the database to every migration head."""
    if is_current(engine):
        return
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


_factories: dict[str, sessionmaker[Session]] = {}


def check_folder(db_path: Path) -> None:
    """The SQLite database's folder (usually BEWAAR_HOME) exists or can be made, and a new
    database can be written in it; otherwise a ``SettingsError`` that says which and why."""
    folder = db_path.parent
    if folder.exists() and not folder.is_dir():
        raise SettingsError(f"cannot use {folder} for the database: it is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create {folder}: {exc.strerror}") from None
    if db_path.exists():
        return
    try:  # a folder such as /proc/self exists but takes no files
        fd, probe = tempfile.mkstemp(prefix=".bewaar-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SettingsError(f"cannot write the database in {folder} ({exc.strerror}): "
                            "it needs a folder this user can write in") from None


def open_db(settings: Settings, *, migrate_schema: bool = True) -> sessionmaker[Session]:
    """Return a session factory for the settings' database, migrated to the latest schema
    (``migrate_schema=False`` for a child process whose parent migrated it already)."""
    url = settings.db_url
    if url in _factories:
        return _factories[url]
    if url.startswith("sqlite:///"):
        check_folder(Path(url[len("sqlite:///") :]))
    engine = make_engine(url)
    if migrate_schema:
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            shown = engine.url.render_as_string(hide_password=True)
            raise SettingsError(f"cannot open the database {shown}: {reason}") from None
    factory = sessionmaker(engine, expire_on_commit=False)
    _factories[url] = factory
    return factory


def close_all() -> None:
    """Close every pooled database connection of this process (before a fast exit)."""
    for factory in _factories.values():
        factory.kw["bind"].dispose()


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = open_db(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
