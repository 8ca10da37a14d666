"""``bewaar harvest``: archive many sites at once (crawl, collection, replay check, seal)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from bewaar.cli.common import EXIT_FINDINGS, err_console, print_json, settings

if TYPE_CHECKING:
    from bewaar.services.harvesting import HarvestStatus

PROGRESS_SECONDS = 1.0


def harvest(
    site: Annotated[list[str] | None, typer.Option(
        "--site", help="Harvest this site (repeat for more); default: every active site.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Only resume the runs a killed harvest left unfinished.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Archive every active site (or those named) at once, in one crawl process.

    Each site is its own run, with its own WARCs, report, replay check and package; at most
    `harvest_concurrency` sites crawl at a time, and each is sealed as soon as its crawl ends.
    A site whose run a killed harvest left unfinished is resumed (same run id). Progress (sites
    done, running, failed) goes to stderr. Exit 0 when every site was archived, 1 when one or
    more failed (each with its reason), 2 when the harvest could not run.

    Example:

        bewaar harvest
        bewaar harvest --site justid --site rijksoverheid --json
        bewaar harvest --resume
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.harvesting import harvest as run

    last: dict[str, Any] = {"at": 0.0, "line": ""}

    def show(st: HarvestStatus) -> None:
        line = (f"harvest: {st.done}/{st.total} done, {st.running} crawling, {st.sealing} "
                f"sealing, {st.waiting} waiting, {st.failed} failed")
        now = time.monotonic()
        if line != last["line"] and (now - last["at"] >= PROGRESS_SECONDS
                                     or st.done == st.total):
            last["at"], last["line"] = now, line
            err_console.print(line, highlight=False, soft_wrap=True)

    result = run(settings(), cli_actor(), sites=site, resume_only=resume, progress=show)
    if json_out:
        print_json({"runs": [{k: r[k] for k in ("site", "run_id", "status", "pages", "package",
                                                "error", "after_ok")}
                             for r in result["runs"]],
                    "seconds": result["seconds"]})
    else:
        for r in result["runs"]:
            ok = r["status"] == "finished" and r["after_ok"] is not False
            style = "green" if ok else "red"
            detail = f"package {r['package']}" if r["package"] else (r["error"] or "")
            if r["status"] == "finished" and r["after_ok"] is False:
                detail = "after-steps failed: " + ", ".join(
                    k for k, v in (r.get("after") or {}).items()
                    if isinstance(v, dict) and not v.get("ok"))
            err_console.print(Text.assemble((f"{r['site']}", "bold"), f" run {r['run_id']} ",
                                            (r["status"], style), f", {r['pages']} pages; ",
                                            detail), highlight=False, soft_wrap=True)
        err_console.print(f"{len(result['runs'])} sites in {result['seconds']:.1f} s, "
                          f"{result['failed']} failed", highlight=False)
    if result["failed"]:
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    app.command("harvest")(harvest)
