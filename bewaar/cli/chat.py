"""``bewaar chat add|export|list``: archive business chats into sealed packages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from archive.db import session_scope
from bewaar.cli.common import console, count, err_console, print_json, settings
from bewaar.services.audit import cli_actor
from chat_archiver.connector import DEFAULT_PAGE_SIZE

if TYPE_CHECKING:
    from chat_archiver.export import ExportProgress

chat_app = typer.Typer(help="Archive chats (Matrix, and the exports of WhatsApp, Signal, Teams "
                        "and Telegram) as sealed packages.", no_args_is_help=True)
add_app = typer.Typer(help="Register a chat source.", no_args_is_help=True)
chat_app.add_typer(add_app, name="add")



@add_app.command("matrix")
def add_matrix(
    name: Annotated[str, typer.Argument(help="Short name of the source, e.g. 'bz-crisisteam'.")],
    homeserver: Annotated[str, typer.Option(help="Homeserver base URL.")],
    user: Annotated[str, typer.Option(help="Matrix user id of the archiving account.")],
    category: Annotated[str, typer.Option(help="Selectielijst category code.")],
    password_env: Annotated[str | None, typer.Option(
        help="Environment variable that holds the password.")] = None,
    token_env: Annotated[str | None, typer.Option(
        help="Environment variable that holds an access token.")] = None,
    secret_file: Annotated[Path | None, typer.Option(
        help="File (mode 0600) with the password, or 'password=…' / 'access_token=…'.")] = None,
    room: Annotated[list[str] | None, typer.Option(
        "--room", help="Room id to archive (repeatable).")] = None,
    all_joined: Annotated[bool, typer.Option(
        help="Archive every room the account has joined (at each export).")] = False,
    keys_file: Annotated[Path | None, typer.Option(
        help="Matrix key export file (Element: Export E2E room keys) to decrypt with.")] = None,
    keys_passphrase_env: Annotated[str | None, typer.Option(
        help="Environment variable that holds the key file's passphrase.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the source as JSON.")] = False,
) -> None:
    """Register a Matrix account whose rooms are archived. The secret itself is never stored.

    Example:

        export BZ_ARCHIVE_PW=…
        bewaar chat add matrix crisisteam --homeserver https://matrix.minbz.nl \\
            --user @archief:minbz.nl --password-env BZ_ARCHIVE_PW --all-joined --category 1.1
    """
    from bewaar.services.chats import add_matrix as add

    data = add(settings(), cli_actor(), name, homeserver=homeserver, user=user,
               category=category, password_env=password_env, token_env=token_env,
               secret_file=secret_file, rooms=room, all_joined=all_joined,
               keys_file=keys_file, keys_passphrase_env=keys_passphrase_env)
    if json_out:
        print_json(data)
    else:
        console.print(f"chat source [bold]{name}[/] registered (id {data['id']})")


def _add_export(kind: str) -> None:
    app_name = {"whatsapp": "WhatsApp", "signal": "Signal", "teams": "Microsoft Teams",
                "telegram": "Telegram"}[kind]
    file_hint = {"whatsapp": "WhatsApp's 'Export chat' (.zip with media, or the bare .txt)",
                 "signal": "Signal Desktop messages as sigtop exports them (JSON)",
                 "teams": "Microsoft Graph chatMessage pages saved as JSON",
                 "telegram": "Telegram Desktop 'Export chat history' (result.json)"}[kind]

    def command(
        name: Annotated[str, typer.Argument(help="Short name of the source, e.g. "
                                            "'minister-whatsapp'.")],
        category: Annotated[str, typer.Option(help="Selectielijst category code.")],
        timezone: Annotated[str | None, typer.Option(
            help="Time zone the export's times are in (default Europe/Amsterdam).")] = None,
        locale: Annotated[str | None, typer.Option(
            help="Language of the phone: auto, nl or en (default auto).")] = None,
        owner: Annotated[str | None, typer.Option(
            help="Whose chats these are, e.g. a function.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the source as JSON.")]
        = False,
    ) -> None:
        from bewaar.services.chats import add_export

        data = add_export(settings(), cli_actor(), kind, name, category=category,
                          timezone=timezone, locale=locale, owner=owner)
        if json_out:
            print_json(data)
        else:
            console.print(f"{app_name} source [bold]{name}[/] registered (id {data['id']}); "
                          f"import its exports with `bewaar chat import {name} FILE`",
                          highlight=False, soft_wrap=True)

    command.__doc__ = f"""Register a source of {app_name} exports: {file_hint}.

    Times in the files are read in --timezone (the package says it was declared, not read).

    Example:

        bewaar chat add {kind} minister-{kind} --category CHAT-1 --owner 'minister'
        bewaar chat import minister-{kind} export.zip --json
    """
    add_app.command(kind)(command)


for _kind in ("whatsapp", "signal", "teams", "telegram"):
    _add_export(_kind)


@chat_app.command("import")
def import_files(
    name: Annotated[str, typer.Argument(help="The source the exports belong to.")],
    files: Annotated[list[Path], typer.Argument(help="Export file(s) of that app.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Archive what is new in export files and seal it as one package. Every message lands
    once, however often overlapping exports are imported; the original files are kept
    bit-for-bit; what could not be read is listed in the package's evidence.json. A file that
    is not a readable export of the source's app is refused (exit 2) and nothing is kept.

    Example:

        bewaar chat import minister-whatsapp 'WhatsApp Chat met Kabinet.zip' --json
    """
    from bewaar.services.chats import import_export

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"importing into {name}", total=None)

        def show(p: ExportProgress) -> None:
            bar.update(task, description=f"{p.phase}: {p.events} messages")

        result = import_export(settings(), cli_actor(), name, list(files), show)
    data = result.as_dict()
    if json_out:
        print_json(data)
        return
    if result.package is None:
        console.print(f"nothing new ({count(result.duplicates, 'message')} archived already); "
                      f"no package made", highlight=False)
    else:
        console.print(f"{count(result.messages, 'message')} and "
                      f"{count(result.attachments, 'attachment')} sealed in {result.package}",
                      highlight=False, soft_wrap=True)
    for line in (f"{count(result.duplicates, 'message')} archived already, skipped"
                 if result.duplicates and result.package else None,
                 f"{count(result.unparsed, 'line')} could not be read (see evidence.json)"
                 if result.unparsed else None,
                 f"{count(result.attachments_missing, 'attachment')} referenced but not in "
                 f"the export" if result.attachments_missing else None,
                 *result.warnings):
        if line:
            err_console.print(Text(f"  {line}", "yellow"), highlight=False, soft_wrap=True)


@chat_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="The chat source to export.")],
    page_size: Annotated[int, typer.Option(
        min=1, max=1000, help="Events per /messages request.")] = DEFAULT_PAGE_SIZE,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Export everything new since the last export into one sealed package.

    The first export fetches each room's whole history; later ones continue from stored
    tokens. Nothing new: no package (``package`` is null).

    Example:

        bewaar chat export crisisteam --json
    """
    from bewaar.services.chats import export as export_source

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"exporting {name}", total=None)

        def show(p: ExportProgress) -> None:
            where = f" {p.room_id}" if p.room_id else ""
            bar.update(task, description=f"{p.phase}{where}: {p.events} events")

        result = export_source(settings(), cli_actor(), name, show, page_size=page_size)
    data = {"package": str(result.package) if result.package else None,
            "events": result.events, "rooms": result.rooms}
    if json_out:
        print_json(data)
    elif result.package is None:
        console.print(f"nothing new in {result.rooms} rooms; no package made")
    else:
        console.print(f"{result.events} events from {result.rooms} rooms sealed in "
                      f"{result.package}")


@chat_app.command("list")
def list_sources(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List chat sources with what has been archived.

    Example:

        bewaar chat list --json
    """
    from bewaar.services.queries import chat_sources

    with session_scope(settings()) as db:
        out = chat_sources(db)
    if json_out:
        print_json(out)
        return
    from archive.timefmt import human

    table = Table("name", "kind", "account or owner", "rooms", "events", "last export")
    for d in out:
        last: Any = d["last_export"]
        account = (f"{d['user']} on {d['homeserver']}" if d["kind"] == "matrix"
                   else str(d.get("owner") or ""))
        table.add_row(str(d["name"]), str(d["kind"]), account,
                      "all joined" if d["all_joined"] and d["kind"] == "matrix"
                      else str(len(d["rooms"]) or ""),
                      str(d["events_archived"]),
                      "" if not last else f"{last['status']} {human(last['started_at'])}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(chat_app, name="chat")
