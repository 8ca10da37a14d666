"""``bewaar demo``: archive the bundled demo site end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from archive.db import session_scope
from archive.models import Site
from archive.settings import Settings
from bewaar.cli.common import EXIT_FINDINGS, console, err_console, print_json, settings
from bewaar.demo.site import DemoSite


def demo(
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Archive the bundled demo site end to end: crawl, index, replay check, seal, verify.

    The demo ministry site is served on 127.0.0.1. Everything lands in BEWAAR_HOME (default
    ./bewaar-data).
    Unless an organisation is configured, the demo's WARCs and packages name an obviously
    fictitious one (only for this command; nothing is written to bewaar.toml).

    Example:

        bewaar demo && bewaar replay serve
    """
    from archive.package.selectielijst import all_categories
    from bewaar.cli.crawl import crawl_progress
    from bewaar.services.audit import cli_actor
    from bewaar.services.packages import load_selectielijst

    cfg = demo_settings(settings())
    if cfg.enrich_after_archiving is None:
        # the quick start stays quick: the archivist's first run builds its models' tables
        # (about a minute); `bewaar enrich --run N` asks for it, or set enrich_after_archiving
        cfg = cfg.model_copy(update={"enrich_after_archiving": False})
    out: dict[str, Any] = {}
    if not all_categories(cfg):
        load_selectielijst(cfg, cli_actor(), Path(__file__).resolve().parents[1] / "demo" / "selectielijst.toml")
        err_console.print("loaded the sample selectielijst (bewaar selectielijst list)")
    with DemoSite() as site:
        from bewaar.services.crawls import crawl
        from bewaar.services.sites import add_site, edit_site

        with session_scope(cfg) as db:
            exists = db.scalar(select(Site.id).where(Site.name == "demo")) is not None
        if exists:  # the demo site gets a fresh port each time
            edit_site(cfg, cli_actor(), "demo", {"seeds": [site.url]})
        else:
            add_site(cfg, cli_actor(), {"name": "demo", "seeds": [site.url],
                                        "category": "WEB-1"})
        err_console.print(f"demo site serving at {site.url}")
        with crawl_progress() as show:
            result, after = crawl(cfg, cli_actor(), site="demo", progress=show)
        out["crawl"] = {
            "run_id": result.run_id, "status": result.status, "pages": result.pages,
            "bytes": result.bytes, "errors": result.errors,
            "warc_files": [str(p) for p in result.warc_files],
        }
        out["after"] = after or {}
    package = (out["after"].get("seal") or {}).get("path")
    if package:
        from archive.package import verify_package

        report = verify_package(package)
        out["verify"] = {"valid": report.valid, "warnings": report.warnings,
                         "findings": [f.to_dict() for f in report.findings]}
    if json_out:
        print_json(out)
    else:
        c = out["crawl"]
        console.print(f"[bold]crawl run {c['run_id']}[/]: {c['status']}, {c['pages']} pages, "
                      f"{c['bytes']:,} bytes, {c['errors']} errors")
        for w in c["warc_files"]:
            console.print(f"  WARC {w}")
        qa = out["after"].get("qa") or {}
        if qa:
            console.print(f"replay check: {'passed' if qa.get('passed') else 'FAILED'} "
                          f"({qa.get('pages')} pages, {qa.get('failed')} failed) {qa.get('report', '')}")
        if package:
            v = out["verify"]
            console.print(f"sealed package: {package}")
            console.print(f"verified: {'valid' if v['valid'] else 'INVALID'}"
                          + (f" (warnings: {'; '.join(v['warnings'])})" if v["warnings"] else ""))
        console.print("next: [bold]bewaar replay serve[/] to browse the capture, "
                      f"[bold]bewaar verify {package or 'PACKAGE'}[/] to check the package, "
                      f"[bold]bewaar search ministerie[/] to find it by its words, "
                      f"[bold]bewaar enrich --run {c['run_id']}[/] for the digital archivist's "
                      "metadata suggestions")
    if out.get("verify") and not out["verify"]["valid"]:
        raise typer.Exit(EXIT_FINDINGS)


def demo_settings(cfg: Settings) -> Settings:
    """The settings with the fictitious stand-in organisation when none is configured: the
    demo site is a made-up ministry, and must not be archived in a real one's name."""
    from archive.package.organisation import FICTITIOUS_ORGANISATION, FICTITIOUS_ORGANISATION_ID

    if cfg.organisation and cfg.organisation_id:
        return cfg
    return cfg.model_copy(update={"organisation": FICTITIOUS_ORGANISATION,
                                  "organisation_id": FICTITIOUS_ORGANISATION_ID})


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
