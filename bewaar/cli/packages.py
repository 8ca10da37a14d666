"""``bewaar keys|seal|verify|package|selectielijst``: sealed archive packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table
from sqlalchemy import select

from archive.db import session_scope
from archive.errors import Finding
from archive.models import Package
from archive.package import verify_package
from archive.package.chain import is_package, missing_recorded
from archive.package.keys import local_paths
from archive.package.selectielijst import all_categories
from archive.package.verify import VerifyReport
from bewaar.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    console,
    err_console,
    fail,
    print_json,
    settings,
)
from bewaar.services import packages as services
from bewaar.services.audit import cli_actor

keys_app = typer.Typer(help="The organisation's seal keys.", no_args_is_help=True)
package_app = typer.Typer(help="Sealed archive packages in the depot.", no_args_is_help=True)
selectielijst_app = typer.Typer(help="Selectielijst categories (waardering, bewaartermijn).",
                                no_args_is_help=True)


@keys_app.command("init")
def keys_init(
    force: Annotated[bool, typer.Option("--force", help="Replace existing local keys.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the key paths as JSON.")] = False,
) -> None:
    """Make a local CA and seal certificate in BEWAAR_HOME/keys (not qualified).

    For a qualified seal set BEWAAR_SEAL_CERT, BEWAAR_SEAL_KEY and BEWAAR_SEAL_CHAIN instead.

    Example:

        bewaar keys init --json
    """
    s = settings()
    if s.seal_cert is not None:
        err_console.print("note: BEWAAR_SEAL_CERT is set; packages are sealed with that, "
                          "not with local keys")
    existed = local_paths(s).seal_cert.exists()
    paths = services.init_keys(s, cli_actor(), force=force)
    data = {"ca": str(paths.ca_cert), "seal_cert": str(paths.seal_cert),
            "seal_key": str(paths.seal_key), "created": paths.created,
            "organisation": paths.organisation, "fictitious": paths.fictitious}
    if paths.fictitious:
        err_console.print("note: no organisation is configured, so these keys name a "
                          f"fictitious one ({paths.organisation}); sealing needs "
                          "BEWAAR_ORGANISATION and BEWAAR_ORGANISATION_ID, then "
                          "`bewaar keys init --force`")
    if json_out:
        print_json(data)
    elif existed and not paths.created:
        console.print(f"local seal keys exist already in {paths.seal_cert.parent} (use --force)")
    else:
        console.print(f"local seal keys made in {paths.seal_cert.parent}; trust anchor for "
                      f"verification: {paths.ca_cert}")


def seal(
    run_id: Annotated[int, typer.Argument(help="The crawl run to seal.")],
    again: Annotated[bool, typer.Option("--again", help="Seal a run that is sealed already "
                                        "once more (a new package, chained).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print package and id as JSON.")] = False,
) -> None:
    """Seal a finished crawl run (WARCs, CDXJ, crawl log, report, QA) into a package.

    The package lands in BEWAAR_HOME/packages/<id>; it is signed with the seal key and
    time-stamped by BEWAAR_TSA_URL when that is set. A run that is sealed already is refused
    (exit 2) unless --again.

    Example:

        bewaar seal 12 --json
    """
    from bewaar.services.crawls import seal as seal_it

    s = settings()
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=err_console, transient=True,
                  disable=json_out or not err_console.is_terminal,
                  auto_refresh=False) as bar:  # no refresh thread: sealing forks workers
        task = bar.add_task(f"sealing run {run_id}", total=None)
        result = seal_it(s, cli_actor(), run_id, again=again,
                         progress=lambda n: bar.update(task, advance=n, refresh=True))
    data = {"package": result.location or str(result.path), "id": result.id,
            "previous_id": result.previous_id, "timestamped": result.timestamped,
            "tagmanifest_sha512": result.tagmanifest_sha512}
    if json_out:
        print_json(data)
        return
    console.print(f"sealed run {run_id} as [bold]{result.id}[/]\n  {data['package']}")
    if not result.timestamped:
        console.print("[yellow]no time-stamp: BEWAAR_TSA_URL is not set[/]")


def _print_report(report: VerifyReport) -> None:
    status = "[green]valid[/]" if report.valid else "[bold red]NOT valid[/]"
    console.print(f"{report.path}: {status}", highlight=False)
    for f in report.findings:
        line = f"  [red]✗[/] {f.path}: {f.problem}"
        if f.expected is not None or f.found is not None:
            line += f"\n      expected {f.expected}\n      found    {f.found}"
        console.print(line, highlight=False)
    for w in report.warnings:
        console.print(f"  [yellow]![/] {w}", highlight=False)


def _missing_from_depot(path: Path) -> list[Finding]:
    """For this archive's own packages folder: packages the database has that are gone."""
    s = settings()
    if path.absolute() != s.packages_dir.absolute():
        return []
    from archive.models import Tombstone

    with session_scope(s) as db:
        destroyed = set(db.scalars(select(Tombstone.package_id)))  # gone by decision
        recorded = [(p.id, p.path) for p in db.scalars(select(Package))
                    if p.id not in destroyed]
    return missing_recorded(s.packages_dir, recorded)


def _stored_package(path: Path) -> Path:
    """The local folder to verify for PATH: PATH itself; for a package in the bucket (its
    s3:// URL or its id) a fresh copy of its objects, so that what is checked is what the
    bucket holds. A package missing from the bucket is a finding (exit 1)."""
    from archive.storage import check_storage, is_remote

    text = str(path)
    if text.startswith("s3:/") and not text.startswith("s3://"):
        text = "s3://" + text[4:]  # a Path folds the double slash
    if not is_remote(text):
        if path.exists() or "/" in text:
            return path
        with session_scope(settings()) as db:
            row = db.get(Package, text)
            if row is None or not is_remote(row.path):
                return Path(row.path) if row is not None else path
            text = row.path
    s = settings()
    check_storage(s)
    from archive.storage import bucket

    store = bucket(s)
    key = store.key_of(text) if store is not None else None
    if store is None or key is None:
        raise fail(f"{text} is not in the configured storage ({s.storage_url or 'local'})")
    if not any(True for _ in store.keys(key + "/")):
        console.print(f"{text}: [bold red]NOT valid[/]\n  [red]✗[/] the package has no "
                      "objects in the bucket", highlight=False)
        raise typer.Exit(EXIT_FINDINGS)
    from archive.package.stored import fetch_for_verify

    return fetch_for_verify(s, text)


def verify(
    path: Annotated[Path, typer.Argument(help=(
        "A package folder, or a folder of packages; a package in the bucket by its s3:// "
        "URL or its id."))],
    ca: Annotated[Path | None, typer.Option(help="Trust anchor (PEM) for the seal.")] = None,
    tsa_ca: Annotated[Path | None, typer.Option(help="Trust anchor (PEM) for the TSA.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify a sealed package: bag, checksums, MDTO, seal, time-stamp and chain link.

    Exit 0 when valid, 1 when not (every finding is listed), 2 when PATH is not a package.
    Given a folder of packages (e.g. BEWAAR_HOME/packages), every package is verified. With
    an s3:// storage_url a package is fetched afresh from the bucket (its URL or its id).

    Example:

        bewaar verify bewaar-data/packages/justid-20250101T120000Z-a1b2c3 --ca org-root.pem --json
        bewaar verify justid-20250101T120000Z-a1b2c3 --json
    """
    path = _stored_package(path)
    if not is_package(path) and path.is_dir():
        members = sorted(p for p in path.iterdir() if p.is_dir() and is_package(p))
        if not members:
            raise fail(f"{path} is not a sealed package and holds none")
        reports = [verify_package(p, ca=ca, tsa_ca=tsa_ca) for p in members]
        gone = _missing_from_depot(path)
        valid = all(r.valid for r in reports) and not gone
        if json_out:
            print_json({"valid": valid,
                        "packages": [r.to_dict() for r in reports],
                        "findings": [{**f.to_dict(), "package": str(r.path)}
                                     for r in reports for f in r.findings]
                        + [f.to_dict() for f in gone],
                        "warnings": sorted({w for r in reports for w in r.warnings})})
        else:
            for r in reports:
                _print_report(r)
            for f in gone:
                console.print(f"[red]✗[/] {f}", highlight=False)
        raise typer.Exit(EXIT_OK if valid else EXIT_FINDINGS)
    report = verify_package(path, ca=ca, tsa_ca=tsa_ca)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_report(report)
    raise typer.Exit(EXIT_OK if report.valid else EXIT_FINDINGS)


@package_app.command("list")
def package_list(
    source: Annotated[str | None, typer.Option(help="Only this source (site or chat).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sealed packages, newest last.

    Example:

        bewaar package list --source justid --json
    """
    with session_scope(settings()) as db:
        q = select(Package).order_by(Package.created_at, Package.id)
        if source:
            q = q.where(Package.source_name == source)
        rows: list[dict[str, Any]] = [
            {"id": p.id, "source_kind": p.source_kind, "source": p.source_name,
             "run_id": p.run_id, "path": p.path, "previous_id": p.previous_id,
             "timestamped": p.timestamped, "files": p.files, "bytes": p.bytes,
             "tagmanifest_sha512": p.tagmanifest_sha512, "created_at": p.created_at}
            for p in db.scalars(q)
        ]
    if json_out:
        print_json(rows)
        return
    from bewaar.cli.tables import table as whole_table

    table = whole_table("id", "source", "run", "files", "bytes", "time-stamp", "previous",
                        whole=("id", "source", "run", "previous"))
    for r in rows:
        table.add_row(r["id"], f"{r['source_kind']}:{r['source']}", str(r["run_id"] or ""),
                      str(r["files"]), str(r["bytes"]), "yes" if r["timestamped"] else "no",
                      r["previous_id"] or "")
    console.print(table)


@selectielijst_app.command("load")
def selectielijst_load(
    file: Annotated[Path, typer.Argument(help="Selectielijst file (TOML or JSON).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the categories as JSON.")] = False,
) -> None:
    """Load a selectielijst (replaces the stored one).

    Each category has code, naam, waardering (B or V), bewaartermijn (ISO 8601, e.g. P10Y)
    and trigger. Sites and chat sources name a category code.

    Example:

        bewaar selectielijst load selectielijst.toml && bewaar site add justid --seed https://www.justid.nl/ --category 1.1
    """
    cats = services.load_selectielijst(settings(), cli_actor(), file)
    if json_out:
        print_json([c.__dict__ for c in cats])
    else:
        console.print(f"loaded {len(cats)} categories from {file}")


@selectielijst_app.command("list")
def selectielijst_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the selectielijst categories.

    Example:

        bewaar selectielijst list --json
    """
    cats = all_categories(settings())
    if json_out:
        print_json([c.__dict__ for c in cats])
        return
    table = Table("code", "naam", "waardering", "bewaartermijn", "trigger")
    for c in cats:
        table.add_row(c.code, c.name, c.waardering, c.bewaartermijn or "", c.trigger)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("seal")(seal)
    app.command("verify")(verify)
    app.add_typer(package_app, name="package")
    app.add_typer(selectielijst_app, name="selectielijst")
