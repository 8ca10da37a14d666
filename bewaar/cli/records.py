"""``bewaar retention`` and ``bewaar hold add|list|release``: each package's end date and
state, and the legal holds that stop its destruction (bewaar/services/records.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from archive.db import session_scope
from bewaar.cli.common import console, fail, print_json, settings
from bewaar.cli.tables import table as make_table

hold_app = typer.Typer(help="Legal holds: nothing held is proposed for destruction.",
                       no_args_is_help=True)


def retention(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="The day to judge the states on (2030-01-31); default today.")] = None,
    state: Annotated[str | None, typer.Option(
        help="Only packages in this state (keep, due, held, transfer-due, destroyed, "
             "transferred).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every package with its valuation, end date and state.

    For each: category, waardering, end date (termijnEinddatum) and state: keep, due (V, its
    term ended), held (under a hold), transfer-due (B, its transfer term ended), destroyed or
    transferred.

    Example:

        bewaar retention --as-of 2035-01-01 --state due --json
    """
    from bewaar.services import records

    day = records.parse_date(as_of, "--as-of")
    with session_scope(settings()) as db:
        rows = records.retention(db, day, state)
    if json_out:
        print_json(rows)
        return
    t = make_table("package", "source", "category", "waardering", "end date", "state",
                   whole=("package", "source"))
    for r in rows:
        t.add_row(Text(r["id"]), Text(r["source"]), Text(r["category"] or ""), r["waardering"],
                  r["end_date"] or (f"transfer {r['transfer_date']}" if r["transfer_date"]
                                    else ""), r["state"])
    console.print(t)


@hold_app.command("add")
def add(
    reason: Annotated[str, typer.Option(help="Why: the Woo request, objection or case.")],
    site: Annotated[str | None, typer.Option(help="Hold every package of this site.")] = None,
    source: Annotated[str | None, typer.Option(
        help="Hold every package of this chat source.")] = None,
    package: Annotated[str | None, typer.Option(help="Hold this one package.")] = None,
    until: Annotated[str | None, typer.Option(
        help="The last day it holds (2030-01-31); default until released.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the hold as JSON.")] = False,
) -> None:
    """Put a hold on a site's, a chat source's or one package's archives: while it holds
    they are `held` and never proposed for destruction. Give exactly one of --site, --source
    and --package.

    Example:

        bewaar hold add --site justid --reason "Woo-verzoek 2026-0142" --until 2027-06-30
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.records import add_hold

    given = [(s, v) for s, v in (("site", site), ("source", source), ("package", package))
             if v is not None]
    if len(given) != 1:
        raise fail("give exactly one of --site, --source and --package")
    scope, target = given[0]
    data = add_hold(settings(), cli_actor(), scope, target, reason, until)
    if json_out:
        print_json(data)
    else:
        console.print(Text(f"hold {data['id']} on {scope} {target}"
                           + (f" until {data['until']}" if data["until"] else "")))


@hold_app.command("list")
def list_holds(
    active: Annotated[bool, typer.Option("--active", help="Only holds that hold today.")]
    = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List holds, newest first, with whether each holds today.

    Example:

        bewaar hold list --active --json
    """
    from archive.timefmt import human
    from bewaar.services.records import holds

    with session_scope(settings()) as db:
        rows = holds(db, active_only=active)
    if json_out:
        print_json(rows)
        return
    t = make_table("id", "on", "reason", "until", "by", "since", "state", whole=("id", "on"))
    for h in rows:
        t.add_row(str(h["id"]), Text(f"{h['scope']} {h['target']}"), Text(h["reason"]),
                  h["until"] or "", Text(h["created_by"]), human(h["created_at"]),
                  "holds" if h["active"] else ("released" if h["released_at"] else "lapsed"))
    console.print(t)


@hold_app.command("release")
def release(
    hold_id: Annotated[str, typer.Argument(help="The hold's id (see `bewaar hold list`).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the hold as JSON.")] = False,
) -> None:
    """Release a hold: what it covered follows its end date again.

    Example:

        bewaar hold release 3 --json
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.records import release_hold

    data = release_hold(settings(), cli_actor(), hold_id)
    if json_out:
        print_json(data)
    else:
        console.print(Text(f"hold {data['id']} on {data['scope']} {data['target']} released"))


def register(app: typer.Typer) -> None:
    app.command("retention")(retention)
    app.add_typer(hold_app, name="hold")
