"""``bewaar enrich`` and ``bewaar suggestions [accept|reject]``: the digital archivist's
metadata suggestions and the decisions on them (bewaar/services/suggestions.py)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.text import Text

from archive.db import session_scope
from bewaar.cli.common import console, print_json, settings
from bewaar.cli.tables import table as make_table

suggestions_app = typer.Typer(
    help="The archivist's suggestions: list them, accept or reject one.",
    invoke_without_command=True)


def enrich(
    package: Annotated[str | None, typer.Option(help="This package.")] = None,
    run: Annotated[int | None, typer.Option(help="The packages of this crawl run.")] = None,
    source: Annotated[str | None, typer.Option(
        help="The packages of this site or chat source.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every package.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compute metadata suggestions for packages, on this machine.

    Language, keywords, persons, organisations, locations, personal data with where it
    stands (redaction candidates), a short summary and a selectielijst category, each with
    its confidence. Nothing is applied: a person accepts or rejects each one (`bewaar
    suggestions`). A model that is not installed is named; the rest goes on.

    Example:

        bewaar enrich --source minister --json
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.suggestions import enrich as run_enrich

    def progress(package_id: str) -> None:
        if not json_out:
            print(f"enriching {package_id} …", file=sys.stderr)

    out = run_enrich(settings(), cli_actor(), package=package, run=run, source=source,
                     every=every, progress=progress)
    if json_out:
        print_json(out)
        return
    for p in out["packages"]:
        console.print(Text(f"{p['package_id']}: {p['suggestions']} suggestions from "
                           f"{p['segments']} texts ({p['chars']} characters)"))
        for note in p["notes"]:
            console.print(Text(f"  note: {note}"))
    console.print(Text(f"models: {', '.join(out['models']) or 'none'}"))
    for m in out["missing"]:
        console.print(Text(f"missing: {m}"))
    if out.get("category"):
        console.print(Text(f"no category: {out['category']}"))


def _evidence(row: dict[str, Any]) -> str:
    ev = [e for e in row["evidence"] if "start" in e]
    if not ev:
        return ""
    first = ev[0]
    where = first.get("url") or first.get("event_id") or first.get("file") or ""
    more = f" (+{row['occurrences'] - 1})" if row["occurrences"] > 1 else ""
    return f"{where} [{first['start']}:{first['end']}]{more}"


@suggestions_app.callback()
def list_suggestions(
    ctx: typer.Context,
    package: Annotated[str | None, typer.Option(help="Of this package.")] = None,
    field: Annotated[str | None, typer.Option(
        help="Of this field (language, keyword, person, organisation, location, summary, "
             "category, pii.name, pii.phone, pii.email, pii.bsn, pii.iban, pii.address; "
             "pii: all personal data).")] = None,
    state: Annotated[str | None, typer.Option(
        help="proposed, accepted or rejected.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the suggestions with their confidence and where they were found.

    Example:

        bewaar suggestions --package minister-20261201T120000Z-1a2b3c --field pii --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from bewaar.services.suggestions import suggestions

    with session_scope(settings()) as db:
        rows = suggestions(db, package=package, field=field, state=state)
    if json_out:
        print_json(rows)
        return
    t = make_table("id", "field", "value", "confidence", "evidence", "state",
                   whole=("id", "field"))
    for r in rows:
        value = r["value"] if len(r["value"]) <= 80 else r["value"][:79] + "…"
        t.add_row(str(r["id"]), r["field"], Text(value), f"{r['confidence']:.2f}",
                  Text(_evidence(r)), r["state"])
    console.print(t)


@suggestions_app.command("accept")
def accept(
    suggestion_id: Annotated[int, typer.Argument(metavar="ID", help="The suggestion's id.")],
    user: Annotated[str | None, typer.Option(
        help="Who decides (default cli:<your user name>).")] = None,
    later: Annotated[bool, typer.Option(
        "--later", help="Only record the decision; the next accept seals the new version.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Accept a suggestion; a value MDTO carries goes into a new package version.

    The package keeps its seal: a new version with every value accepted for it is sealed and
    chained to its source's newest package.

    Example:

        bewaar suggestions accept 12 --user a.jansen
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.suggestions import accept as do_accept

    out = do_accept(settings(), user or cli_actor(), suggestion_id, apply=not later)
    if json_out:
        print_json(out)
        return
    msg = f"suggestion {suggestion_id} accepted ({out['field']}: {out['value'][:60]})"
    if out.get("new_package"):
        msg += f"; new package version {out['new_package']}"
    elif out.get("note"):
        msg += f"; {out['note']}"
    console.print(Text(msg))


@suggestions_app.command("reject")
def reject(
    suggestion_id: Annotated[int, typer.Argument(metavar="ID", help="The suggestion's id.")],
    reason: Annotated[str, typer.Option(help="Why it is wrong.")],
    user: Annotated[str | None, typer.Option(
        help="Who decides (default cli:<your user name>).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reject a suggestion, with the reason.

    Example:

        bewaar suggestions reject 13 --reason "geen persoon: een straatnaam"
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.suggestions import reject as do_reject

    out = do_reject(settings(), user or cli_actor(), suggestion_id, reason)
    if json_out:
        print_json(out)
        return
    console.print(Text(f"suggestion {suggestion_id} rejected"))


def register(app: typer.Typer) -> None:
    app.command("enrich")(enrich)
    app.add_typer(suggestions_app, name="suggestions")
