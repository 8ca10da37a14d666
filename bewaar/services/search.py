"""Full-text search (search/): indexing as things are archived, the rebuild, removal by
package, and the search itself.

Indexing is a change with its own audit row (``search.index``, ``search.reindex``,
``search.remove``). After a crawl it is one more guarded step of ``after_crawl``; after a chat
export or import it runs once the package is sealed. A failed indexing is recorded and never
undoes the archiving: ``bewaar search reindex`` catches up.

Who sees what: replay's access rules hold for everyone who replays (pywb applies them to every
visitor), so the web and the API (roles records, auditor, admin) never find excluded or
embargoed captures. The command line is the operator: by default it sees what replay shows,
and with ``--all`` also the rest, each hit marked with its ``access``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.settings import Settings
from bewaar.services.audit import change, reason_of

log = logging.getLogger(__name__)


def index_run(settings: Settings, actor: str, run_id: int) -> dict[str, Any]:
    """Index a crawl run's HTML pages and PDFs (again: replaced)."""
    from archive.storage import in_use, local_copy
    from search.index import index_run as index

    with change(settings, actor, "search.index", f"run {run_id}") as c, in_use(settings):
        counts = index(c.db, run_id, lambda where: local_copy(settings, where)).to_dict()
        c.note(**counts)
        return counts


def index_chat(settings: Settings, actor: str, package_path: Path | str) -> dict[str, Any]:
    """Index the messages and text attachments of a sealed chat package."""
    from archive.models import Package
    from archive.storage import local_folder
    from search.index import index_chat_package

    path = local_folder(settings, str(package_path))  # kept in a bucket: through the cache
    with change(settings, actor, "search.index", f"package {path.name}") as c:
        source = c.db.scalar(select(Package.source_name).where(Package.id == path.name))
        if source is None:
            from archive.errors import NotFoundError

            raise NotFoundError("no package %(id)r", id=path.name)
        counts = index_chat_package(c.db, source, path.name, path).to_dict()
        c.note(**counts)
        return counts


def index_chat_guarded(settings: Settings, actor: str, package_path: Path | None) -> None:
    """``index_chat`` after an export or import: a failure is logged (and audited), not
    raised; the package is sealed all the same."""
    if package_path is None:
        return
    try:
        index_chat(settings, actor, package_path)
    except Exception as exc:  # noqa: BLE001 - recorded; `bewaar search reindex` catches up
        log.warning("search index of %s failed: %s", Path(package_path).name, reason_of(exc))


def remove(settings: Settings, actor: str, package_ids: Iterable[str]) -> int:
    """Make the documents of these packages unfindable (what destruction calls)."""
    from search.index import remove as forget

    ids = sorted(set(package_ids))
    with change(settings, actor, "search.remove", None, packages=ids) as c:
        n = forget(c.db, ids)
        c.note(documents=n)
        return n


def reindex(settings: Settings, actor: str,
            progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Rebuild the index from the archives: every finished crawl run's WARCs and every
    sealed chat package, in the order they were made. ``progress(done, total, what)``."""
    from archive.models import ChatExport, ChatSource, CrawlRun
    from archive.storage import in_use, local_copy, local_folder
    from search import index

    with change(settings, actor, "search.reindex") as c:
        db = c.db
        runs = list(db.scalars(select(CrawlRun.id).where(CrawlRun.status == "finished")
                               .order_by(CrawlRun.id)))
        chats = db.execute(select(ChatSource.name, ChatExport.package_id,
                                  ChatExport.package_path)
                           .join(ChatSource, ChatSource.id == ChatExport.source_id)
                           .where(ChatExport.status == "sealed")
                           .order_by(ChatExport.id)).all()
        index.clear(db)
        total = len(runs) + len(chats)
        done, sums = 0, index.IndexCounts()
        missing = []
        for run_id in runs:
            with in_use(settings):  # a run's WARCs kept in a bucket: through the cache
                _add(sums, index.index_run(db, run_id,
                                           lambda where: local_copy(settings, where)))
            done += 1
            if progress:
                progress(done, total, f"run {run_id}")
        for source, package_id, path in chats:
            if path and path.startswith("s3://"):
                path = str(local_folder(settings, path))
            if not package_id or not path or not Path(path).is_dir():
                missing.append(package_id or path)
            else:
                _add(sums, index.index_chat_package(db, source, package_id, Path(path)))
            done += 1
            if progress:
                progress(done, total, f"package {package_id}")
        data = {"runs": len(runs), "chat_packages": len(chats), **sums.to_dict(),
                "missing_packages": missing}
        data.pop("removed", None)
        c.note(**data)
        return data


def _add(total: Any, one: Any) -> None:
    for k, v in one.to_dict().items():
        setattr(total, k, getattr(total, k) + v)


def find(settings: Settings, query: str, filters: Any = None, *, limit: int = 20,
         offset: int = 0, see_all: bool = False,
         open_chat: Callable[[str, str, str], str] | None = None) -> Any:
    """Search (``search.index.search``): a ``Result``; ``QueryError`` for bad syntax."""
    from archive.db import session_scope
    from bewaar.services.queries import replay_base
    from search.index import search

    with session_scope(settings) as db:
        return search(db, query, filters, limit=limit, offset=offset, see_all=see_all,
                      replay_base=replay_base(settings), open_chat=open_chat)


def stats(settings: Settings) -> dict[str, Any]:
    from archive.db import session_scope
    from search.index import stats as index_stats

    with session_scope(settings) as db:
        return index_stats(db)
