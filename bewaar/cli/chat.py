"""``bewaar chat add|export|list``: archive business chats into sealed packages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from sqlalchemy import func, select

from archive.db import session_scope
from archive.models import ChatExport, ChatRoom, ChatSource
from archive.package.selectielijst import find_category
from bewaar.cli.common import console, err_console, fail, print_json, settings
from chat_archiver.connector import DEFAULT_PAGE_SIZE
from chat_archiver.credentials import SecretError, check_file

if TYPE_CHECKING:
    from chat_archiver.export import ExportProgress

chat_app = typer.Typer(help="Archive chats (Matrix) as sealed packages.", no_args_is_help=True)
add_app = typer.Typer(help="Register a chat source.", no_args_is_help=True)
chat_app.add_typer(add_app, name="add")

ROOM_ID = re.compile(r"![^\s:]+(:[^\s]+)?")  # room v12 ids have no server part
USER_ID = re.compile(r"@[^:\s]+:[^\s]+")


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
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise fail(f"source name {name!r}: use letters, digits, '.', '_' or '-'")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", homeserver):
        raise fail(f"--homeserver {homeserver!r} is not an http(s) URL")
    if not USER_ID.fullmatch(user):
        raise fail(f"--user {user!r} is not a Matrix user id like @name:server")
    given = [x for x in (password_env, token_env, secret_file) if x is not None]
    if len(given) != 1:
        raise fail("give exactly one of --password-env, --token-env or --secret-file")
    if password_env is not None:
        ref = f"password-env:{password_env}"
    elif token_env is not None:
        ref = f"token-env:{token_env}"
    else:
        assert secret_file is not None
        path = secret_file.expanduser().absolute()
        try:
            check_file(path)
        except SecretError as exc:
            raise fail(str(exc)) from None
        ref = f"file:{path}"
    rooms = room or []
    if bool(rooms) == all_joined:
        raise fail("give either --room ROOM_ID (one or more) or --all-joined")
    bad = [r for r in rooms if not ROOM_ID.fullmatch(r)]
    if bad:
        raise fail(f"not a Matrix room id (like !abc:server or !abc): {', '.join(bad)}")
    if (keys_file is None) != (keys_passphrase_env is None):
        raise fail("--keys-file and --keys-passphrase-env go together")
    if keys_file is not None and not keys_file.is_file():
        raise fail(f"key file {keys_file} does not exist")
    find_category(settings(), category)  # an unknown category fails here, not at sealing
    with session_scope(settings()) as db:
        if db.scalar(select(ChatSource).where(ChatSource.name == name)):
            raise fail(f"a chat source named {name!r} exists already")
        source = ChatSource(name=name, kind="matrix", homeserver=homeserver.rstrip("/"),
                            user_id=user, secret_ref=ref, rooms=rooms, all_joined=all_joined,
                            category=category,
                            keys_file=str(keys_file.absolute()) if keys_file else None,
                            keys_passphrase_ref=f"env:{keys_passphrase_env}"
                            if keys_passphrase_env else None)
        db.add(source)
        db.flush()
        data = _source_dict(source, 0, None)
    if json_out:
        print_json(data)
    else:
        console.print(f"chat source [bold]{name}[/] registered (id {data['id']})")


def _source_dict(s: ChatSource, events: int, last: ChatExport | None) -> dict[str, object]:
    return {
        "id": s.id, "name": s.name, "kind": s.kind, "homeserver": s.homeserver,
        "user": s.user_id, "secret": s.secret_ref.split(":", 1)[0],
        "rooms": s.rooms, "all_joined": s.all_joined, "category": s.category,
        "keys_file": s.keys_file,
        "events_archived": events,
        "last_export": None if last is None else {
            "status": last.status, "started_at": last.started_at, "events": last.events,
            "package": last.package_path, "error": last.error},
    }


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
    from chat_archiver.export import export_source  # matrix-nio loads only when exporting

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"exporting {name}", total=None)

        def show(p: ExportProgress) -> None:
            where = f" {p.room_id}" if p.room_id else ""
            bar.update(task, description=f"{p.phase}{where}: {p.events} events")

        result = export_source(settings(), name, show, page_size=page_size)
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
    with session_scope(settings()) as db:
        out = []
        for s in db.scalars(select(ChatSource).order_by(ChatSource.name)):
            events = db.scalar(select(func.coalesce(func.sum(ChatRoom.events), 0))
                               .where(ChatRoom.source_id == s.id)) or 0
            latest = db.scalar(select(ChatExport).where(ChatExport.source_id == s.id)
                               .order_by(ChatExport.id.desc()).limit(1))
            out.append(_source_dict(s, int(events), latest))
    if json_out:
        print_json(out)
        return
    table = Table("name", "user", "homeserver", "rooms", "events", "last export")
    for d in out:
        last: Any = d["last_export"]
        table.add_row(str(d["name"]), str(d["user"]), str(d["homeserver"]),
                      "all joined" if d["all_joined"] else str(len(d["rooms"])),  # type: ignore[arg-type]
                      str(d["events_archived"]),
                      "" if not last else f"{last['status']} {last['started_at']:%Y-%m-%d %H:%M}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(chat_app, name="chat")
