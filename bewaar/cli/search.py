"""``bewaar search QUERY`` and ``bewaar search reindex``: full-text search across web captures
and chats (bewaar/services/search.py, search/)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from bewaar.cli.common import console, err_console, fail, print_json, settings


class _QueryFirst(TyperGroup):
    """``bewaar search WORDS`` is ``bewaar search find WORDS``: anything that is not a
    subcommand is a query (to look for the word "reindex": ``bewaar search find reindex``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["find", *args]
        return list(super().parse_args(ctx, args))


search_app = typer.Typer(
    cls=_QueryFirst, no_args_is_help=True,
    help="Full-text search across web captures and chats.\n\n"
         "Example: bewaar search '\"tweede kamer\" AND vergader*' --kind web --json")


@search_app.command("find")
def find(
    query: Annotated[str, typer.Argument(help='Words; "a phrase"; AND, OR, NOT (or -word); '
                                              "prefix*; brackets.")],
    site: Annotated[str | None, typer.Option(help="Only captures of this site.")] = None,
    source: Annotated[str | None, typer.Option(help="Only messages of this chat source.")]
    = None,
    kind: Annotated[str | None, typer.Option(help="web or chat.")] = None,
    date_from: Annotated[str | None, typer.Option(
        "--from", help="Captured or sent on or after this day (2026-01-31).")] = None,
    date_to: Annotated[str | None, typer.Option(
        "--to", help="Captured or sent on or before this day.")] = None,
    limit: Annotated[int, typer.Option(help="Hits to show (at most 200).")] = 20,
    offset: Annotated[int, typer.Option(help="Hits to skip first (paging).")] = 0,
    see_all: Annotated[bool, typer.Option(
        "--all", help="Also captures replay does not show (excluded, embargoed), marked.")]
    = False,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"total": N, "hits": [...]}.')]
    = False,
) -> None:
    """Find archived pages, PDFs and chat messages by their words.

    Newest first. A total of more than 10,000 is given as "at least 10000" (total_exact
    false in JSON). Words are found by their Dutch stem (vergadering finds vergaderingen) with
    diacritics folded (ideeen finds ideeën). By default the operator sees what replay shows:
    excluded and embargoed captures are left out unless --all. Exit 2 for a query that
    cannot be read.

    Example:

        bewaar search '"open overheid" AND (minister OR staatssecretaris) NOT concept' --from 2026-01-01 --json
    """
    from bewaar.services import search
    from bewaar.services.records import parse_date
    from search.index import Filters

    if kind not in (None, "web", "chat"):
        raise fail(f"--kind {kind!r}: use web or chat")
    if limit < 1 or limit > 200 or offset < 0:
        raise fail("--limit takes 1 to 200, --offset 0 or more")
    filters = Filters(site=site, source=source, kind=kind,
                      date_from=parse_date(date_from, "--from"),
                      date_to=parse_date(date_to, "--to"))
    result = search.find(settings(), query, filters, limit=limit, offset=offset,
                         see_all=see_all)
    if json_out:
        print_json(result.to_dict())
        return
    if not result.hits:
        console.print(Text(f"nothing found for {query}" if not result.total else
                           f"{result.total} found; none past --offset {offset}"))
        return
    shown = f"{offset + 1}-{offset + len(result.hits)} of " if result.total > len(result.hits) \
        else ""
    console.print(Text(f"{shown}{'at least ' if not result.exact else ''}{result.total} found",
                       style="bold"))
    for h in result.hits:
        console.print(_hit_text(h))


def _hit_text(h: dict[str, Any]) -> Text:
    from archive.timefmt import iso_utc

    head = Text()
    head.append(f"[{h['kind']}] ", style="cyan")
    head.append(h["title"] or "", style="bold")
    who = h.get("url") if h["kind"] == "web" else f"{h.get('sender') or '?'} in {h['source']}"
    head.append(f"  {who}  {iso_utc(h['at'])}")
    if h.get("access"):
        head.append(f"  ({h['access']})", style="red")
    body = Text("  ")
    for part, marked in _parts(h["snippet"]):
        body.append(part, style="bold yellow" if marked else None)
    return Text.assemble(head, "\n", body, "\n  ", (h["open"], "dim"), "\n")


def _parts(s: dict[str, Any]) -> list[tuple[str, bool]]:
    from search.snippets import Snippet

    return Snippet(s["text"], [(a, b) for a, b in s["marks"]]).parts()


@search_app.command("reindex")
def reindex(
    json_out: Annotated[bool, typer.Option("--json", help="Print what was indexed as JSON.")]
    = False,
) -> None:
    """Rebuild the search index from the archives (crawl runs' WARCs, sealed chat packages).

    Progress goes to stderr. Revisits add no text: they move a page's newest capture time.

    Example:

        bewaar search reindex --json
    """
    from bewaar.services import search
    from bewaar.services.audit import cli_actor

    def progress(done: int, total: int, what: str) -> None:
        err_console.print(Text(f"{done}/{total} {what}"), highlight=False)

    data = search.reindex(settings(), cli_actor(), progress)
    if json_out:
        print_json(data)
        return
    console.print(Text(f"indexed {data['documents']} documents from {data['runs']} runs and "
                       f"{data['chat_packages']} chat packages ({data['revisits']} revisits "
                       f"added no text, {data['skipped']} captures without text)"))
    if data["missing_packages"]:
        console.print(Text("packages not found: " + ", ".join(data["missing_packages"]),
                           style="red"))


def register(app: typer.Typer) -> None:
    app.add_typer(search_app, name="search")
