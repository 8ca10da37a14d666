"""``bewaar replay …``, ``bewaar fixity`` and ``bewaar export wacz`` (``export sip`` is
bewaar/cli/transfer.py): see and check captures."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from archive.db import session_scope
from archive.models import CollectionRun, CrawlRun
from bewaar.cli.common import (
    EXIT_FINDINGS,
    console,
    count,
    err_console,
    fail,
    print_json,
    settings,
)
from bewaar.services.audit import cli_actor

ACL_REFRESH_SECONDS = 60.0
COLLECTIONS_SECONDS = 3.0  # how often `replay serve` looks for a new site's collection

replay_app = typer.Typer(help="Replay captures with pywb, check them, control access.",
                         no_args_is_help=True)
export_app = typer.Typer(help="Export captures in exchange formats.", no_args_is_help=True)


def _progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True)


def _sync_collections() -> list[int]:
    """Add finished runs with WARCs that this machine's collections lack: runs not in a
    collection yet, and runs another machine added (its index is on its own disk; the WARCs
    and CDXJ files are in the shared storage)."""
    from bewaar.services.crawls import add_to_collection
    from replay import CollectionError
    from replay.collections import local_runs

    s = settings()
    with session_scope(s) as db:
        here = {name: local_runs(s, name) for name in
                set(db.scalars(select(CollectionRun.collection)))}
        todo = [r.id for r in db.scalars(select(CrawlRun).order_by(CrawlRun.id))
                if r.status != "running" and r.warc_files
                and r.id not in here.get(r.site.name, set())]
    done = []
    for rid in todo:
        try:
            add_to_collection(s, cli_actor(), rid)
            done.append(rid)
        except CollectionError as exc:
            err_console.print(f"[yellow]warning:[/] run {rid} not added: {exc}", highlight=False)
    return done


@replay_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
                                             help="Port (default 8080; 0: any free port).")] = None,
) -> None:
    """Serve every collection with pywb: replay, calendar, Memento timemaps and the CDX API.

    Runs until interrupted (Ctrl-C). Binds 127.0.0.1 unless --host says otherwise. New
    captures of existing collections show at once; a new site's collection within seconds
    (the replay restarts on the same address).
    Exclusions and embargoes hold within a second, in replay, calendar, timemaps and CDX API.

    Example:

        bewaar replay serve --port 8080
        # then open http://127.0.0.1:8080/justid/*/https://www.justid.nl/
    """
    from replay.access import write_acl
    from replay.collections import collection_names, write_config
    from replay.wayback import Wayback, port_free

    s = settings()
    host = host or s.replay_host
    port = s.replay_port if port is None else port
    if port and not port_free(host, port):
        raise fail(f"port {port} on {host} is in use; choose another --port")
    from archive.storage import check_storage

    check_storage(s)  # pywb reads WARCs kept in a bucket there: said now, not per request
    _sync_collections()
    write_config(s)
    server = Wayback(s.collections_dir, host, port)
    server.start()
    names = collection_names(s)
    console.print(f"replay at [bold]{server.url}/[/] — collections: {', '.join(names) or 'none'}")

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        last = looked = time.monotonic()
        while (code := server.poll()) is None:
            time.sleep(0.5)
            if time.monotonic() - last > ACL_REFRESH_SECONDS:
                write_acl(s)  # rules whose --until date has passed drop out
                last = time.monotonic()
            if time.monotonic() - looked > COLLECTIONS_SECONDS:
                looked = time.monotonic()
                if (now := collection_names(s)) != names:
                    # pywb reads its collections from config.yaml at start only: a new
                    # site's collection needs a new wayback on the same address.
                    names = now
                    write_config(s)
                    server.stop()
                    server = Wayback(s.collections_dir, host, server.port)
                    server.start()
                    err_console.print(f"collections now: {', '.join(names)}", highlight=False)
        raise fail(f"wayback stopped unexpectedly (exit {code}); see {server.log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@replay_app.command("add")
def add(
    run_id: Annotated[int, typer.Argument(help="Crawl run id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a crawl run's WARCs and index to its site's pywb collection (done after every crawl).

    Example:

        bewaar replay add 12
    """
    from bewaar.services.crawls import add_to_collection

    path = add_to_collection(settings(), cli_actor(), run_id)
    if json_out:
        print_json({"run_id": run_id, "collection": path.name, "path": str(path)})
    else:
        console.print(f"run {run_id} is in collection [bold]{path.name}[/] ({path})")


@replay_app.command("check")
def check(
    run_id: Annotated[int, typer.Argument(help="Crawl run id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    browser: Annotated[bool, typer.Option(
        "--browser", help="Also compare live page and replay in headless Chromium.")] = False,
    browser_pages: Annotated[int, typer.Option(min=1, help="Pages to compare in the browser.")]
    = 50,
    workers: Annotated[int | None, typer.Option(min=1, max=16,
                                                help="wayback processes (default: cores).")] = None,
) -> None:
    """Replay every page of a run and load its requisites as a browser would.

    Exit 0 when every page replays with all its requisites, 1 otherwise. The HTML report is
    written to BEWAAR_HOME/runs/RUN_ID/qa-report.html.

    Example:

        bewaar replay check 12 --json | jq '.pages[] | select(.missing != [])'
    """
    from bewaar.services.crawls import check as check_run

    with _progress(f"replay check of run {run_id}") as bar:
        task = bar.add_task("pages", total=None)
        result = check_run(settings(), cli_actor(), run_id, workers=workers, browser=browser,
                           browser_pages=browser_pages,
                           progress=lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    if json_out:
        print_json(result.to_dict())
    else:
        for page in result.pages:
            if not page.ok:
                console.print(f"[red]FAILED[/] {page.url} (replay {page.status})", highlight=False)
                for u in page.missing:
                    console.print(f"    missing: {u}", highlight=False, markup=False,
                                  soft_wrap=True)
                for e in page.errors:
                    console.print(f"    captured only as an error: {e['url']} ({e['status']})",
                                  highlight=False, markup=False, soft_wrap=True)
                for d in page.status_diffs:
                    console.print(f"    status: {d['url']} crawl {d['crawl']} replay {d['replay']}",
                                  highlight=False, markup=False, soft_wrap=True)
        verdict = "[green]passed[/]" if result.ok else "[red]failed[/]"
        n = len(result.pages)
        console.print(f"run {run_id}: {n} page{'' if n == 1 else 's'}, {result.failed} failed — "
                      f"{verdict}: {escape(result.reason)}; report: {result.report_path}",
                      highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


@replay_app.command("missing")
def missing(
    run_id: Annotated[int, typer.Argument(help="Crawl run id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List what the last replay check of a run found missing (what a patch crawl fetches):
    requisites not in the archive, requisites captured only as 4xx/5xx together with the page
    that shows them (replay shows the capture nearest the page's time, so both are fetched
    again), and with --browser checks what the live page loaded that the crawl did not.

    Example:

        bewaar replay missing 12 && bewaar crawl --patch 12
    """
    from replay import missing_urls

    urls = missing_urls(settings(), run_id)
    if json_out:
        print_json(urls)
    else:
        for u in urls:
            console.print(u, highlight=False, soft_wrap=True)


def _parse_date(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--until {value!r}: use a date like 2027-01-31") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@replay_app.command("exclude")
def exclude(
    url_prefix: Annotated[str, typer.Argument(help="URL prefix whose captures are not shown.")],
    until: Annotated[str | None, typer.Option(help="Lift the rule on this date (YYYY-MM-DD).")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the rule as JSON.")] = False,
) -> None:
    """Hide every capture under a URL prefix from replay, calendar, timemaps and CDX API (404).

    Example:

        bewaar replay exclude https://www.justid.nl/medewerkers/ --until 2030-01-01
    """
    from bewaar.services.access import exclude as do_exclude

    rule = do_exclude(settings(), cli_actor(), url_prefix,
                      _parse_date(until) if until else None)
    if json_out:
        print_json(rule)
    else:
        lapse = f" until {until}" if until else ""
        console.print(f"excluded from replay{lapse}: {url_prefix}", highlight=False)


@replay_app.command("allow")
def allow(
    url_prefix: Annotated[str, typer.Argument(help="URL prefix to show again.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Lift the exclusion of a URL prefix (or open a narrower prefix inside an excluded one).

    Example:

        bewaar replay allow https://www.justid.nl/medewerkers/
    """
    from bewaar.services.access import allow as do_allow

    data = do_allow(settings(), cli_actor(), url_prefix)
    if json_out:
        print_json(data)
    else:
        console.print(f"replay allowed: {url_prefix}", highlight=False)


@replay_app.command("rules")
def rules(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the replay access rules.

    Example:

        bewaar replay rules --json
    """
    from replay.access import list_rules

    found = list_rules(settings())
    if json_out:
        print_json([r.to_dict() for r in found])
        return
    table = Table("URL prefix", "access", "until", "active")
    for r in found:
        table.add_row(r.url_prefix, r.access, f"{r.until:%Y-%m-%d}" if r.until else "",
                      "yes" if r.active else "lapsed")
    console.print(table)


@replay_app.command("embargo")
def embargo(
    site: Annotated[str, typer.Argument(help="Site name.")],
    days: Annotated[int, typer.Argument(min=0, help="No replay of captures younger than this "
                                                    "many days; 0 lifts the embargo.")],
) -> None:
    """Set a site's embargo: captures younger than DAYS days are hidden from replay (404).

    A running `bewaar replay serve` applies it within a second, also to its calendar,
    timemaps and CDX API.

    Example:

        bewaar replay embargo justid 30
    """
    from bewaar.services.access import embargo as set_embargo

    set_embargo(settings(), cli_actor(), site, days)
    console.print(f"embargo of {site}: {f'{days} days' if days else 'none'}", highlight=False)


def fixity(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Re-hash every stored WARC and CDXJ index against the database; exit 1 on any finding.

    Example:

        bewaar fixity --json
    """
    from bewaar.services.crawls import fixity as rehash

    with _progress("fixity") as bar:
        task = bar.add_task("bytes", total=None)
        report = rehash(settings(), cli_actor(),
                        progress=lambda d, t: bar.update(task, completed=d, total=t))
    if json_out:
        print_json(report.to_dict())
    else:
        for f in report.findings:
            console.print(f"[red]{f}[/]", highlight=False)
        if report.destroyed:
            console.print(f"{count(len(report.destroyed), 'package')} destroyed by a "
                          "destruction list (not checked; see `bewaar destroy show`)")
        console.print(f"{count(report.files, 'file')}, {count(report.bytes, 'byte')} checked: "
                      + ("[green]all intact[/]" if report.ok else
                         f"[red]{count(len(report.findings), 'finding')}[/]"))
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


@export_app.command("wacz")
def export_wacz(
    run_id: Annotated[int, typer.Argument(help="Crawl run id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .wacz file to write.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export a crawl run as a WACZ 1.1.1 file (opens in ReplayWeb.page, checks with wacz).

    Example:

        bewaar export wacz 12 -o justid-12.wacz && wacz validate -f justid-12.wacz
    """
    from bewaar.services.crawls import export_wacz as do_export

    if output.is_dir():
        raise fail(f"{output} is a folder; give a file name ending in .wacz")
    path = do_export(settings(), cli_actor(), run_id, output)
    if json_out:
        print_json({"run_id": run_id, "path": str(path), "bytes": path.stat().st_size})
    else:
        console.print(f"wrote {path} ({path.stat().st_size} bytes)")


def register(app: typer.Typer) -> None:
    app.add_typer(replay_app, name="replay")
    from bewaar.cli.transfer import export_sip

    export_app.command("sip")(export_sip)
    app.add_typer(export_app, name="export")
    app.command("fixity")(fixity)
