"""``bewaar audit``: read the append-only audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from archive.db import session_scope
from bewaar.cli.common import console, print_json, settings
from bewaar.cli.tables import table as make_table


def audit(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Newest N rows.")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this actor (a user name, "
                                              "cli:<os user> or service).")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (site.add), or every "
                                               "action of a kind with a trailing dot "
                                               "(site.).")] = None,
    target: Annotated[str | None, typer.Option(help="Only rows about this target.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the audit log, newest first.

    Who did what to what, when, and how it ended (ok, failed with the reason, denied). Every
    change made through the command line, the
    web app, the API or the scheduler has its row; the database refuses to change or delete
    one.

    Example:

        bewaar audit --limit 20
        bewaar audit --actor anna --action site. --json
    """
    from bewaar.services.audit import events

    with session_scope(settings()) as db:
        rows = events(db, limit=limit, actor=actor, action=action, target=target)
    if json_out:
        print_json(rows)
        return
    from archive.timefmt import human

    table = make_table("when", "actor", "action", "target", "outcome", "detail",
                       whole=("when", "target"))
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (r["detail"] or {}).items()
                           if v not in (None, "", [], {}))
        table.add_row(human(r["at"]), r["actor"], r["action"], r["target"] or "",
                      r["outcome"], detail)
    console.print(table)
    if not rows:
        console.print("no audit rows match", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
