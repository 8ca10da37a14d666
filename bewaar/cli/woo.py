"""``bewaar woo new|list|show|add|drop|decide|redact|export|grounds``: Woo requests, from the
query that gathers their documents to the sealed, publishable export
(bewaar/services/woo.py). Every change names the user who makes it (``--user NAME``, role
records or admin): she is the actor of its audit row."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from archive.timefmt import ZONE
from bewaar.cli.common import console, fail, print_json, settings
from bewaar.cli.tables import table as make_table

woo_app = typer.Typer(help="Woo requests: gather documents, decide, redact, export sealed.",
                      no_args_is_help=True)

User = Annotated[str, typer.Option("--user", help="The user who takes this step (role "
                                                  "records or admin).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RequestId = Annotated[str, typer.Argument(help="The request's id (see `bewaar woo list`).")]
Doc = Annotated[str, typer.Argument(help="The document's number in the request "
                                         "(see `bewaar woo show ID`).")]


def _summary(r: dict[str, Any]) -> Text:
    text = (f"Woo request {r['id']}: {r['title']} — {r['documents_count']} document(s), "
            f"{len(r['undecided'])} undecided, {len(r['holds'] or [])} hold(s)")
    if r.get("package_id"):
        text += f", exported as {r['package_id']}"
    return Text(text)


@woo_app.command("new")
def new(
    title: Annotated[str, typer.Argument(help="The request's title (its subject).")],
    query: Annotated[str, typer.Option(help="The search that finds its documents "
                                            "(`bewaar search` syntax).")],
    user: User,
    date_from: Annotated[str | None, typer.Option(
        "--from", help="Documents captured or sent on or after this day (2026-01-31).")]
    = None,
    date_to: Annotated[str | None, typer.Option(
        "--to", help="Documents captured or sent on or before this day.")] = None,
    site: Annotated[list[str] | None, typer.Option(
        help="Only pages of this site (repeat for more).")] = None,
    source: Annotated[list[str] | None, typer.Option(
        help="Only conversations of this chat source (repeat for more).")] = None,
    json_out: Json = False,
) -> None:
    """Start a Woo request: its documents are the query's hits, their packages held.

    Every hit counts, also captures replay does not show. A page version is one document, a
    chat conversation (one room of one package) another. Each package the documents come
    from gets a hold with the request as its reason.

    Example:

        bewaar woo new "Verzoek over de begroting" --query begroting --from 2024-01-01 --user anna --json
    """
    from bewaar.services import woo

    r = woo.new(settings(), user, title, query, date_from=date_from, date_to=date_to,
                sites=site or (), sources=source or ())
    if json_out:
        print_json(r)
        return
    console.print(_summary(r))
    _documents(r)


@woo_app.command("list")
def list_(json_out: Json = False) -> None:
    """List the Woo requests, newest first.

    Example:

        bewaar woo list --json
    """
    from archive.db import session_scope
    from bewaar.services import woo

    with session_scope(settings()) as db:
        rows = woo.requests(db)
    if json_out:
        print_json(rows)
        return
    t = make_table("id", "title", "documents", "undecided", "created", "exported",
                   whole=("id",))
    for r in rows:
        t.add_row(str(r["id"]), Text(r["title"]), str(r["documents_count"]),
                  str(len(r["undecided"])), r["created_by"], Text(r["package_id"] or ""))
    console.print(t)


def _documents(r: dict[str, Any]) -> None:
    t = make_table("doc", "kind", "source", "title", "date", "decision", "grounds")
    for d in r["documents"]:
        if d["dropped"]:
            continue
        t.add_row(str(d["number"]), d["kind"], Text(d["source"]), Text(d["title"]),
                  d["at"].astimezone(ZONE).strftime("%Y-%m-%d"), d["decision"] or "-", " ".join(d["grounds"]))
    console.print(t)


@woo_app.command("show")
def show(
    request_id: RequestId,
    doc: Annotated[str | None, typer.Option(
        "--doc", help="Print this document's text (offsets for --span count from 0).")] = None,
    json_out: Json = False,
) -> None:
    """Show a request: its documents, decisions, redactions and holds.

    Example:

        bewaar woo show 1 --doc 2
    """
    from bewaar.services import woo

    r = woo.show(settings(), request_id, with_text=doc is not None)
    if doc is not None:
        found = [d for d in r["documents"] if str(d["number"]) == doc.strip()]
        if not found:
            raise fail(f"Woo request {r['id']} has no document {doc}")
        if json_out:
            print_json(found[0])
        else:
            console.print(Text(found[0]["text"]), soft_wrap=True, highlight=False)
        return
    if json_out:
        print_json(r)
        return
    console.print(_summary(r))
    _documents(r)
    for red in r["redactions"]:
        what = (f"document {red['document']} span {red['span']}" if red["span"]
                else f"phrase {red['phrase']!r}")
        console.print(Text(f"redaction {red['id']}: {what} [{red['ground']}] by {red['by']}"))


@woo_app.command("add")
def add(request_id: RequestId,
        hit: Annotated[str, typer.Argument(help="A search hit's id (`bewaar search --json`).")],
        user: User, json_out: Json = False) -> None:
    """Add a search hit's page version or conversation to a request (and hold its package).

    Example:

        bewaar woo add 1 5120 --user anna
    """
    from bewaar.services import woo

    r = woo.add(settings(), user, request_id, hit)
    if json_out:
        print_json(r)
    else:
        console.print(Text(f"added as document {r['document']} of request {r['request']}"))


@woo_app.command("drop")
def drop(request_id: RequestId, doc: Doc, user: User, json_out: Json = False) -> None:
    """Leave a document out of a request (it is kept, marked dropped).

    Example:

        bewaar woo drop 1 3 --user anna
    """
    from bewaar.services import woo

    r = woo.drop(settings(), user, request_id, doc)
    if json_out:
        print_json(r)
    else:
        console.print(Text(f"document {r['document']} dropped from request {r['request']}"))


@woo_app.command("decide")
def decide(
    request_id: RequestId, doc: Doc, user: User,
    openbaar: Annotated[bool, typer.Option("--openbaar", help="Made public as it is.")]
    = False,
    deels: Annotated[bool, typer.Option("--deels", help="Made public with redactions.")]
    = False,
    niet: Annotated[bool, typer.Option("--niet", help="Not made public.")] = False,
    ground: Annotated[list[str] | None, typer.Option(
        help="A ground of Woo art. 5.1/5.2 (5.1.2e); repeat for more.")] = None,
    json_out: Json = False,
) -> None:
    """Decide whether a document is made public: --openbaar, --deels or --niet, with grounds.

    Example:

        bewaar woo decide 1 2 --deels --ground 5.1.2e --user anna
    """
    from bewaar.services import woo

    chosen = [n for n, on in (("openbaar", openbaar), ("deels", deels), ("niet", niet)) if on]
    if len(chosen) != 1:
        raise fail("give exactly one of --openbaar, --deels and --niet")
    r = woo.decide(settings(), user, request_id, doc, chosen[0], ground or [])
    if json_out:
        print_json(r)
    else:
        console.print(Text(f"document {r['number']}: {r['decision']} "
                           f"{' '.join(r['grounds'])}".rstrip()))


@woo_app.command("redact")
def redact(
    request_id: RequestId, user: User,
    ground: Annotated[str, typer.Option(help="The ground of Woo art. 5.1/5.2 (5.1.2e).")],
    text: Annotated[str | None, typer.Option(
        "--text", help="A phrase to redact wherever it occurs in the request.")] = None,
    doc: Annotated[str | None, typer.Option("--doc", help="The document of --span.")] = None,
    span: Annotated[str | None, typer.Option(
        help="START:END, character offsets into the document's text (`woo show ID --doc N`)."
    )] = None,
    json_out: Json = False,
) -> None:
    """Redact a phrase in every document of a request, or a span of one document.

    The export leaves the text out and shows the ground in its place, such as [5.1.2e].

    Example:

        bewaar woo redact 1 --text "Jan de Vries" --ground 5.1.2e --user anna
    """
    from bewaar.services import woo

    r = woo.redact(settings(), user, request_id, ground, phrase=text, number=doc, span=span)
    if json_out:
        print_json(r)
    elif "documents" in r:
        console.print(Text(f"redaction {r['redaction']} [{r['ground']}]: "
                           f"{r['occurrences']} occurrence(s) in document(s) "
                           f"{', '.join(map(str, r['documents']))}"))
    else:
        console.print(Text(f"redaction {r['redaction']} [{r['ground']}]: document "
                           f"{r['document']} span {r['span']}"))


@woo_app.command("export")
def export(
    request_id: RequestId, user: User,
    out: Annotated[Path, typer.Option("-o", "--out", help="A new or empty folder.")],
    json_out: Json = False,
) -> None:
    """Export a decided request: PDF/A per public document, inventaris.csv, DiWoo, sealed.

    Refused (exit 2, nothing written) while a document is undecided, when the folder is not
    empty, or when decisions and redactions disagree. The same files are sealed as one
    package (waardering B) that `bewaar verify` checks.

    Example:

        bewaar woo export 1 -o ./woo-1 --user anna --json
    """
    from bewaar.services import woo_export

    r = woo_export.export(settings(), user, request_id, out)
    if json_out:
        print_json(r)
        return
    console.print(Text(f"Woo request {r['request']}: {r['openbaar']} openbaar, {r['deels']} "
                       f"deels, {r['niet']} niet openbaar; written to {r['dir']}, sealed as "
                       f"{r['package']}"))


@woo_app.command("grounds")
def grounds(json_out: Json = False) -> None:
    """List the grounds of Woo articles 5.1 and 5.2 that decisions and redactions name.

    Example:

        bewaar woo grounds --json
    """
    from woo.grounds import GROUNDS

    rows = [{"code": g.code, "article": g.article, "description": g.description,
             "absolute": g.absolute} for g in GROUNDS.values()]
    if json_out:
        print_json(rows)
        return
    t = make_table("ground", "article", "description")
    for g in GROUNDS.values():
        t.add_row(g.code, g.article, g.description)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(woo_app, name="woo")
