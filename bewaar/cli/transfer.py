"""``bewaar export sip`` and ``bewaar transfer list|confirm|history``: packages to the
e-Depot as a SIP, and the receiving archive's confirmation (bewaar/services/transfer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from archive.db import session_scope
from archive.errors import ValidationError
from bewaar.cli.common import EXIT_FINDINGS, console, count, err_console, print_json, settings
from bewaar.cli.tables import table as make_table

transfer_app = typer.Typer(help="Transfers to the e-Depot: SIP exports and their confirmation.",
                           no_args_is_help=True)


def export_sip(
    package_ids: Annotated[list[str], typer.Argument(help="The packages (see `bewaar retention`).")],
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="The new (or empty) folder to write the SIP to.")],
    tar: Annotated[Path | None, typer.Option(help="Also write the SIP as this tar file.")] = None,
    title: Annotated[str | None, typer.Option(help="The delivery's title in the pakbon.")] = None,
    parent: Annotated[str | None, typer.Option(
        help="The e-Depot aggregation the receiving archive named for this delivery.")] = None,
    contact: Annotated[str | None, typer.Option(
        help="Contact person and e-mail for the pakbon.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export packages as an MDTO SIP for the e-Depot.

    Each package must verify (bag, MDTO, seal, time-stamp); one that does not is refused with
    its findings (exit 1) and nothing is written. The SIP has a pakbon.xml and one folder per
    package with its files, the seal and time-stamp, and an MDTO sidecar for each.

    Example:

        bewaar export sip weg-20260101T120000Z-a1b2c3 -o sip-2026-01 --tar sip-2026-01.tar
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.transfer import export_sip as do_export

    try:
        data = do_export(settings(), cli_actor(), package_ids, output, tar=tar, title=title,
                         parent=parent, contact=contact)
    except ValidationError as exc:
        if json_out:
            print_json({"written": False, "error": exc.args[0],
                        "findings": [f.to_dict() for f in exc.findings]})
        else:
            err_console.print(Text(str(exc)))
        raise typer.Exit(EXIT_FINDINGS) from None
    if json_out:
        print_json(data)
        return
    for w in data["warnings"]:
        err_console.print(Text(f"warning: {w}"))
    console.print(Text(f"SIP {data['id']}: {count(data['objects'], 'informatieobject')}, "
                       f"{count(data['files'], 'bestand', 'bestanden')}, {data['bytes']} bytes "
                       f"in {data['path']}" + (f" and {data['tar']}" if data["tar"] else "")))
    console.print(Text(f"hash {data['sip_hash']}"))


@transfer_app.command("list")
def list_exports(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List SIP exports, newest first, with their state (exported or transferred).

    Example:

        bewaar transfer list --json
    """
    from archive.timefmt import human
    from bewaar.services.transfer import exports

    with session_scope(settings()) as db:
        rows = exports(db)
    if json_out:
        print_json(rows)
        return
    t = make_table("SIP", "packages", "files", "state", "made", "confirmed by", whole=("SIP",))
    for r in rows:
        t.add_row(Text(r["id"]), str(len(r["packages"])), str(r["files"]), r["state"],
                  human(r["created_at"]), Text(r["confirmed_by"] or ""))
    console.print(t)


@transfer_app.command("confirm")
def confirm(
    sip_id: Annotated[str, typer.Argument(help="The SIP's id (see `bewaar transfer list`).")],
    user: Annotated[str, typer.Option(help="Who records it (role records or archivist).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Record that the receiving archive confirmed a SIP: its packages are transferred.

    Example:

        bewaar transfer confirm SIP-20260101T120000Z-a1b2c3 --user anna --json
    """
    from bewaar.services.transfer import confirm as do_confirm

    data = do_confirm(settings(), user, sip_id, via="cli")
    if json_out:
        print_json(data)
    else:
        console.print(Text(f"SIP {data['id']} transferred: "
                           f"{count(len(data['packages']), 'package')}"))


@transfer_app.command("history")
def history(
    package_id: Annotated[str, typer.Argument(help="The package's id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a package's MDTO events, sealed and recorded since (Export, Overbrenging).

    Example:

        bewaar transfer history weg-20260101T120000Z-a1b2c3 --json
    """
    from bewaar.services.transfer import history as events

    with session_scope(settings()) as db:
        rows = events(db, package_id)
    if json_out:
        print_json(rows)
        return
    t = make_table("time", "event", "by", "result", whole=("time",))
    for r in rows:
        t.add_row(r["time"] or "", r["type"] or "", Text(r["actor"] or ""),
                  Text(r["result"] or ""))
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(transfer_app, name="transfer")
