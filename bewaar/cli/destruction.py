"""``bewaar destroy propose|list|show|review|approve|cancel|execute``: destruction lists with
four eyes (bewaar/services/destruction.py; execute: bewaar/services/disposal.py). Every step
names the user who takes it (``--user NAME``): she is the actor of its audit row."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from archive.db import session_scope
from bewaar.cli.common import console, fail, print_json, settings
from bewaar.cli.tables import table as make_table

destroy_app = typer.Typer(
    help="Destruction lists: proposed and reviewed by two records managers, approved by an "
         "archivist, executable after a waiting period.", no_args_is_help=True)

User = Annotated[str, typer.Option("--user", help="The user who takes this step (must exist, "
                                                  "be enabled and have the role for it).")]
Json = Annotated[bool, typer.Option("--json", help="Print the list as JSON.")]
ListId = Annotated[str, typer.Argument(help="The list's id (see `bewaar destroy list`).")]


def _via() -> str:
    from bewaar.services.audit import cli_actor

    return cli_actor()


def _summary(d: dict[str, Any]) -> Text:
    text = f"destruction list {d['id']}: {d['state']}, {d['count']} package(s)"
    if d["held"]:
        text += f", {d['held']} held (skipped when executed)"
    if d["state"] == "approved" and d["executable_from"]:
        text += f", executable from {d['executable_from']}"
    if d.get("verklaring"):
        text += f", verklaring {d['verklaring']}"
    return Text(text)


def _out(d: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(d)
    else:
        console.print(_summary(d))


@destroy_app.command("propose")
def propose(
    user: User,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="List what is due on this day (2030-01-31); default today. The list "
                        "is never executable before it.")] = None,
    json_out: Json = False,
) -> None:
    """Propose a destruction list of every package due (V, its term ended) that is not held
    and not on another open list. Needs a user with role records or admin; nothing due: exit 2.

    Example:

        bewaar destroy propose --user anna --json
    """
    from bewaar.services.destruction import propose as run

    _out(run(settings(), user, as_of, via=_via()), json_out)


@destroy_app.command("list")
def list_lists(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
               ) -> None:
    """List destruction lists, newest first, with their state and who took each step.

    Example:

        bewaar destroy list --json
    """
    from archive.timefmt import human
    from bewaar.services.destruction import lists

    with session_scope(settings()) as db:
        rows = lists(db)
    if json_out:
        print_json(rows)
        return
    t = make_table("id", "state", "packages", "held", "proposed", "reviewed", "approved",
                   "executable from", whole=("id",))
    for d in rows:
        t.add_row(str(d["id"]), d["state"], str(d["count"]), str(d["held"]),
                  Text(f"{d['proposed_by']} {human(d['proposed_at'])}"),
                  Text(d["reviewed_by"] or ""), Text(d["approved_by"] or ""),
                  d["executable_from"] or "")
    console.print(t)


@destroy_app.command("show")
def show(list_id: ListId, json_out: Json = False) -> None:
    """Show a destruction list and its packages; a package a hold covers today is marked
    held (it is skipped when the list is executed).

    Example:

        bewaar destroy show 3 --json
    """
    from bewaar.services.destruction import show as get

    with session_scope(settings()) as db:
        d = get(db, list_id)
    if json_out:
        print_json(d)
        return
    console.print(_summary(d))
    for step in ("proposed", "reviewed", "approved", "cancelled", "executed"):
        if d[f"{step}_by"]:
            console.print(Text(f"  {step} by {d[f'{step}_by']}"))
    if d["review_reason"]:
        console.print(Text(f"  review: {d['review_reason']}"))
    if d["cancel_reason"]:
        console.print(Text(f"  cancelled: {d['cancel_reason']}"))
    t = make_table("package", "source", "category", "end date", "", whole=("package",))
    for it in d["items"]:
        t.add_row(Text(it["package"]), Text(it["source"] or ""), Text(it["category"] or ""),
                  it["end_date"] or "", it["state"] or ("held" if it["held"] else ""))
    console.print(t)


@destroy_app.command("review")
def review(
    list_id: ListId,
    user: User,
    approve: Annotated[bool, typer.Option("--approve", help="Agree with the list.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject it (give --reason).")]
    = False,
    reason: Annotated[str | None, typer.Option(help="Why it is rejected.")] = None,
    json_out: Json = False,
) -> None:
    """Review a proposed list as a second records manager: --approve, or --reject --reason.
    The author may not review her own list (exit 2).

    Example:

        bewaar destroy review 3 --user bert --approve
    """
    from bewaar.services.destruction import review as run

    if approve == reject:
        raise fail("give exactly one of --approve and --reject")
    _out(run(settings(), user, list_id, approve=approve, reason=reason, via=_via()), json_out)


@destroy_app.command("approve")
def approve(list_id: ListId, user: User, json_out: Json = False) -> None:
    """Approve a reviewed list as an archivist; it is executable after destruction_wait_days
    (see `bewaar settings`) and can be cancelled until it is executed.

    Example:

        bewaar destroy approve 3 --user carla --json
    """
    from bewaar.services.destruction import approve as run

    _out(run(settings(), user, list_id, via=_via()), json_out)


@destroy_app.command("cancel")
def cancel(
    list_id: ListId,
    user: User,
    reason: Annotated[str, typer.Option(help="Why the list is cancelled.")],
    json_out: Json = False,
) -> None:
    """Cancel a list that is not executed, as a records manager or an archivist; its packages
    may be proposed again.

    Example:

        bewaar destroy cancel 3 --user carla --reason "Woo-verzoek ontvangen"
    """
    from bewaar.services.destruction import cancel as run

    _out(run(settings(), user, list_id, reason, via=_via()), json_out)


@destroy_app.command("execute")
def execute(list_id: ListId, user: User, json_out: Annotated[bool, typer.Option(
        "--json", help="Print what was destroyed, skipped and the verklaring as JSON.")] = False,
            ) -> None:
    """Execute an approved list after its waiting period, as an archivist: destroy for real.

    Every package on the list that no hold covers is removed from every place it is (WARCs,
    indexes, replay collections, the package itself); a tombstone says what it was and by
    whose decision. The verklaring van vernietiging is sealed as a new package. Interrupted:
    run it again to finish the list. Not approved, still waiting, unknown list: exit 2.

    Example:

        bewaar destroy execute 3 --user carla --json
    """
    from bewaar.services.disposal import execute as run

    out = run(settings(), user, list_id, via=_via())
    if json_out:
        print_json(out)
        return
    console.print(Text(f"destruction list {out['list']}: {out['state']}, "
                       f"{len(out['destroyed'])} package(s) destroyed, "
                       f"{len(out['skipped'])} skipped"))
    for d in out["destroyed"]:
        console.print(Text(f"  destroyed {d['package']} ({d['source_kind']}:{d['source']})"))
        if d.get("revisits_elsewhere"):
            console.print(Text(f"    ! {d['revisits_elsewhere']} revisit record(s) of other "
                               "crawls of the site pointed at its payloads"))
    for d in out["skipped"]:
        console.print(Text(f"  skipped {d['package']}: {d['reason']}"))
    if out["verklaring"]:
        console.print(Text(f"verklaring van vernietiging: package {out['verklaring']}"))


def register(app: typer.Typer) -> None:
    app.add_typer(destroy_app, name="destroy")
