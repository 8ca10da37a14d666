"""``bewaar crawl``, ``bewaar runs`` and ``bewaar run show``: archive a site and read the record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from archive.db import session_scope
from archive.errors import BewaarError
from archive.models import Capture, CrawlRun, Site, SkippedUrl, WarcFile
from bewaar.cli.common import console, err_console, fail, print_json, settings

if TYPE_CHECKING:
    from crawler import CrawlProgress

run_app = typer.Typer(help="Show one crawl run.", no_args_is_help=True)


def _after_crawl(run_id: int) -> dict[str, Any] | None:
    from scheduler.pipeline import after_crawl

    try:
        result: dict[str, Any] = after_crawl(settings(), run_id)
        return result
    except Exception as exc:  # noqa: BLE001 - a failed follow-up step must not undo the crawl
        return {"error": f"{type(exc).__name__}: {exc}"}


def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Start URL(s) for an ad-hoc crawl.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Crawl a registered site.")] = None,
    resume: Annotated[int | None, typer.Option("--resume", help="Continue an interrupted run.")] = None,
    patch: Annotated[int | None, typer.Option(
        "--patch", help="Fetch what replay QA of this run found missing, as a patch run.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Crawl a site into WARC files (wire-exact, deduplicated) and record the run.

    URLs without --site make an ad-hoc crawl: the site is named after the first URL's host and
    registered if new. --resume RUN_ID continues the same run without fetching again what it
    stored. Exit 0 when the crawl ran (some URLs may have failed: see the report), 2 when it
    could not run.

    Example:

        bewaar crawl https://www.justid.nl/
        bewaar crawl --site justid --json
        bewaar crawl --resume 12
    """
    from crawler import run_crawl

    chosen = sum(x is not None for x in (site, resume, patch))
    if chosen > 1:
        raise fail("use only one of --site, --resume and --patch")
    if not urls and chosen == 0:
        raise fail("give one or more URLs or --site NAME (see bewaar crawl --help)")
    if resume is not None and urls:
        raise fail("--resume takes no URLs")
    s = settings()
    patch_urls: list[str] | None = None
    if patch is not None:
        from replay import missing_urls

        patch_urls = list(urls or []) or list(missing_urls(s, patch))
        if not patch_urls:
            err_console.print(f"run {patch}: nothing missing, nothing to patch")
            if json_out:
                print_json({"run_id": None, "status": "nothing-to-patch", "warc_files": [],
                            "pages": 0, "bytes": 0})
            return

    with crawl_progress() as show:
        try:
            if patch is not None:
                result = run_crawl(s, patch_run_id=patch, urls=patch_urls, progress=show)
            else:
                result = run_crawl(s, site_name=site, urls=list(urls) if urls else None,
                                   resume_run_id=resume, progress=show)
        except BewaarError as exc:
            raise fail(str(exc)) from None
    after = _after_crawl(result.run_id) if result.status != "failed" else None
    if result.status == "failed":
        if json_out:
            print_json({**result.to_dict(), "after": after})
        raise fail(f"run {result.run_id} could not run: {result.error}")
    data = {**result.to_dict(), "after": after}
    if json_out:
        print_json(data)
        return
    err_console.print(
        f"run [bold]{result.run_id}[/] {result.status}: {result.pages} pages, "
        f"{result.fetches} fetches, {result.bytes / 1e6:.1f} MB received, "
        f"{result.revisits} revisits, {result.errors} errors, {result.skipped} skipped",
        highlight=False,
    )
    for f in result.failed[:20]:
        err_console.print(f"  [red]failed[/] {f['url']}: {f['error']}", highlight=False, markup=False)
    for p in result.warc_files:
        console.print(str(p), highlight=False)
    if result.error:
        err_console.print(f"[yellow]{result.error}[/]", highlight=False)


@contextmanager
def crawl_progress() -> Iterator[Callable[[CrawlProgress], None]]:
    """A live progress line on stderr (pages, fetches, bytes, queue, errors, revisits)."""
    with Progress(
        SpinnerColumn(), TextColumn("[bold]crawl[/]"), BarColumn(bar_width=None),
        TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def show(p: CrawlProgress) -> None:
            bar.update(task, description=(
                f"run {p.run_id}: {p.pages} pages, {p.fetches} fetches, "
                f"{p.bytes / 1e6:.1f} MB, queue {p.queue}, errors {p.errors}, "
                f"revisits {p.revisits}"))

        yield show


def _run_dict(run: CrawlRun, site_name: str) -> dict[str, Any]:
    return {
        "id": run.id, "run_id": run.id, "site": site_name, "kind": run.kind,
        "parent_run_id": run.parent_run_id, "status": run.status, "seeds": run.seeds,
        "started_at": run.started_at, "finished_at": run.finished_at, "pages": run.pages,
        "bytes": run.bytes, "errors": run.errors, "revisits": run.revisits,
        "stats": run.stats, "error": run.error,
    }


def runs(
    site: Annotated[str | None, typer.Option("--site", help="Only this site's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N runs.")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List crawl runs, newest first.

    Example:

        bewaar runs --site justid --json
    """
    with session_scope(settings()) as db:
        q = select(CrawlRun, Site.name).join(Site).order_by(CrawlRun.id.desc()).limit(limit)
        if site:
            q = q.where(Site.name == site)
        rows = [_run_dict(r, name) for r, name in db.execute(q)]
    if json_out:
        print_json(rows)
        return
    table = Table("run", "site", "kind", "status", "started", "pages", "MB", "errors", "revisits")
    for r in rows:
        table.add_row(str(r["id"]), r["site"], r["kind"], r["status"],
                      str(r["started_at"])[:19], str(r["pages"]), f"{(r['bytes'] or 0) / 1e6:.1f}",
                      str(r["errors"]), str(r["revisits"]))
    console.print(table)


@run_app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="The run id (see `bewaar runs`).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a crawl run: counts, WARC files, failed and skipped URLs.

    Example:

        bewaar run show 12 --json
    """
    with session_scope(settings()) as db:
        run = db.get(CrawlRun, run_id)
        if run is None:
            raise fail(f"no crawl run {run_id}")
        data = _run_dict(run, run.site.name)
        data["warc_files"] = [
            {"path": f.path, "size": f.size, "sha256": f.sha256, "sha512": f.sha512,
             "records": f.records,
             "cdxj_path": f.cdxj_path}
            for f in db.scalars(select(WarcFile).where(WarcFile.run_id == run_id).order_by(WarcFile.id))
        ]
        data["failed"] = [
            {"url": u, "error": e} for u, e in db.execute(
                select(Capture.url, Capture.error)
                .where(Capture.run_id == run_id, Capture.status.is_(None)).limit(500))
        ]
        data["skipped"] = dict(db.execute(
            select(SkippedUrl.reason, func.count()).where(SkippedUrl.run_id == run_id)
            .group_by(SkippedUrl.reason)).tuples().all())
        data["skipped_urls"] = [
            {"url": u, "reason": r} for u, r in db.execute(
                select(SkippedUrl.url, SkippedUrl.reason)
                .where(SkippedUrl.run_id == run_id).limit(200))
        ]
        data["report"] = str(settings().runs_dir / str(run_id) / "report.json")
        data["crawl_log"] = str(settings().runs_dir / str(run_id) / "crawl.log")
    if json_out:
        print_json(data)
        return
    console.print(
        f"run [bold]{run_id}[/] of site [bold]{data['site']}[/] ({data['kind']}): {data['status']}, "
        f"{data['pages']} pages, {(data['bytes'] or 0) / 1e6:.1f} MB, {data['errors']} errors, "
        f"{data['revisits']} revisits", highlight=False)
    for f in data["warc_files"]:
        console.print(f"  {f['path']} ({f['size']} bytes, {f['records']} records)", highlight=False)
    for reason, n in data["skipped"].items():
        console.print(f"  skipped {n} ({reason})", highlight=False)
    for f in data["failed"][:50]:
        console.print(f"  failed {f['url']}: {f['error']}", highlight=False, markup=False)
    if data["error"]:
        console.print(f"  {data['error']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl)
    app.command("runs")(runs)
    app.add_typer(run_app, name="run")
