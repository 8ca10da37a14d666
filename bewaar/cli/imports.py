"""``bewaar import warc`` and ``bewaar import wacz``: take over web archives made elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from bewaar.cli.common import (
    EXIT_FINDINGS,
    console,
    count,
    err_console,
    fail,
    print_after_steps,
    print_error,
    print_json,
    settings,
)

import_app = typer.Typer(help="Take over web archives made elsewhere (WARC, WACZ).",
                         no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="The files to import.", show_default=False)]
SiteOpt = Annotated[str, typer.Option("--site", help="The registered site they archive.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON list, one object per file.")]


def _say(message: str) -> None:
    err_console.print(Text(message, "dim"), highlight=False, soft_wrap=True)


def _finish(outcomes: list[Any], json_out: bool) -> None:
    if json_out:
        print_json([o.to_dict() for o in outcomes])
    for o in outcomes:  # a refused file's reason on stderr, also with --json
        if not json_out or not o.imported:
            _print(o)
    imported = [o for o in outcomes if o.imported]
    if not imported:
        raise fail("nothing was imported")
    if len(imported) < len(outcomes) or any(o.problems for o in imported):
        raise typer.Exit(EXIT_FINDINGS)


def _print(o: Any) -> None:
    if not o.imported:
        print_error(o.error)
        return
    records = o.records or {}
    by_type = ", ".join(f"{n} {t}" for t, n in records.get("by_type", {}).items())
    console.print(f"{o.file}: run {o.run_id}, {count(records.get('total', 0), 'record')} "
                  f"({by_type}), made by {', '.join(o.software)}; "
                  f"{count(records.get('problems', 0), 'problem')}, "
                  f"{count(records.get('notes', 0), 'note')}; report: {o.report}",
                  highlight=False, soft_wrap=True)
    for p in o.problems[:20]:
        err_console.print(Text.assemble(("  problem ", "red"), f"at byte {p['offset']}: "
                                        f"{p['message']}"), highlight=False, soft_wrap=True)
    kinds: dict[str, int] = {}
    for n in o.notes:
        kinds[n["message"]] = kinds.get(n["message"], 0) + 1
    for message, n in kinds.items():
        err_console.print(Text.assemble(("  note ", "yellow"), f"({n}x) {message}"),
                          highlight=False, soft_wrap=True)
    print_after_steps(o.after, indent="  ")


@import_app.command("warc")
def import_warc(files: FilesArg, site: SiteOpt, json_out: JsonOpt = False) -> None:
    """Import WARC files made by another crawler as new runs of a site.

    Each file (.warc or .warc.gz, from wget, Heritrix, Browsertrix…) becomes its own run of
    kind `import`: kept bit for bit, checked record by record (the report says what is
    malformed), indexed, added to the site's replay collection, replay-checked and sealed with
    its provenance, as after a crawl; its payloads join the site's dedup store, so a later
    crawl writes revisits against them. --json prints a list with one object per file:
    `file`, `run_id`, `package`, `records`, `problems`, `notes`, `error`. Progress goes to
    stderr. Exit 0 when every file was imported without problems, 1 when some file was
    refused or has malformed records, 2 when nothing could be imported.

    Example:

        bewaar import warc justid-2026.warc.gz --site justid
        bewaar import warc a.warc.gz b.warc.gz --site justid --json
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.imports import import_warc as run

    _finish(run(settings(), cli_actor(), site, list(files), progress=_say), json_out)


@import_app.command("wacz")
def import_wacz(files: FilesArg, site: SiteOpt, json_out: JsonOpt = False) -> None:
    """Import WACZ files made elsewhere as new runs of a site.

    Each WACZ is checked first (a ZIP without path escapes or oversize members, with a
    datapackage.json whose hashes match); its archive/*.warc(.gz) files then become one run
    of kind `import`, taken the way `bewaar import warc` takes a WARC. --json and the exit
    codes are those of `bewaar import warc`.

    Example:

        bewaar import wacz delivery-2026-11.wacz --site justid --json
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.imports import import_wacz as run

    _finish(run(settings(), cli_actor(), site, list(files), progress=_say), json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
