"""``bewaar crawl``, ``bewaar runs`` and ``bewaar run show``: archive a site and read the record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text
from sqlalchemy import func, select

from archive.db import session_scope
from archive.models import Capture, CrawlRun, Site, SkippedUrl, WarcFile
from bewaar.cli.common import (
    EXIT_FINDINGS,
    EXIT_UNUSABLE,
    console,
    count,
    err_console,
    fail,
    print_after_steps,
    print_json,
    settings,
)

if TYPE_CHECKING:
    from crawler import CrawlProgress

run_app = typer.Typer(help="Show one crawl run.", no_args_is_help=True)


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
    stored. Exit 0 when the crawl captured something (some URLs may have failed: see the
    report), 1 when it captured none of its seeds (the run is `failed`; the report says why,
    seed by seed), 2 when it could not run.

    Example:

        bewaar crawl https://www.justid.nl/
        bewaar crawl --site justid --json
        bewaar crawl --resume 12
    """
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

    from bewaar.services.audit import cli_actor
    from bewaar.services.crawls import crawl as run

    with crawl_progress() as show:
        result, after = run(s, cli_actor(), site=site, urls=patch_urls if patch is not None
                            else (list(urls) if urls else None), resume=resume, patch=patch,
                            progress=show)
    if result.status == "failed":
        if json_out:
            print_json({**result.to_dict(), "after": after})
        else:
            _print_seeds(result.seeds)
        # It ran and captured nothing (the report says why per seed): 1; it could not run: 2.
        raise fail(f"run {result.run_id} failed: {result.error}",
                   EXIT_FINDINGS if result.seeds else EXIT_UNUSABLE)
    data = {**result.to_dict(), "after": after}
    if json_out:
        print_json(data)
        return
    err_console.print(
        f"run [bold]{result.run_id}[/] {result.status}: {count(result.pages, 'page')}, "
        f"{count(result.fetches, 'fetch', 'fetches')}, {result.bytes / 1e6:.1f} MB received, "
        f"{count(result.revisits, 'revisit')}, {count(result.errors, 'error')}, "
        f"{result.skipped} skipped",
        highlight=False, soft_wrap=True,
    )
    _print_seeds(result.seeds)
    for f in result.failed[:20]:
        err_console.print(Text.assemble(("  failed ", "red"), f"{f['url']}: {f['error']}"),
                          highlight=False, soft_wrap=True)
    for p in result.warc_files:
        console.print(str(p), highlight=False, soft_wrap=True)
    if result.error:
        err_console.print(Text(result.error, "yellow"), highlight=False, soft_wrap=True)
    print_after_steps(after)


def _print_seeds(seeds: list[dict[str, Any]]) -> None:
    """One line per seed that was not captured, saying why (all of them when none was)."""
    for o in seeds:
        if o.get("outcome") != "captured":
            err_console.print(Text.assemble((f"  seed {o['outcome']} ", "red"),
                                            f"{o['url']}: {o['detail']}"),
                              highlight=False, soft_wrap=True)


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
    from archive.timefmt import human
    from bewaar.cli.tables import table as whole_table

    table = whole_table("run", "site", "kind", "status", "started", "pages", "MB", "errors",
                        "revisits", whole=("run", "site", "started"))
    for r in rows:
        table.add_row(str(r["id"]), r["site"], r["kind"], r["status"],
                      human(r["started_at"]), str(r["pages"]), f"{(r['bytes'] or 0) / 1e6:.1f}",
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
