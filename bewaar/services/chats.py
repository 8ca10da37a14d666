"""Chat sources and their exports, each change audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archive.models import ChatSource
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.sites import NAME_RE, InputError

if TYPE_CHECKING:
    from chat_archiver.export import ExportProgress, ExportResult
    from chat_archiver.imports import ImportResult

ROOM_ID = re.compile(r"![^\s:]+(:[^\s]+)?")  # room v12 ids have no server part
USER_ID = re.compile(r"@[^:\s]+:[^\s]+")


def source_dict(s: ChatSource, events: int = 0, last: Any = None) -> dict[str, Any]:
    return {
        "id": s.id, "name": s.name, "kind": s.kind, "homeserver": s.homeserver,
        "user": s.user_id, "secret": s.secret_ref.split(":", 1)[0],
        "rooms": s.rooms, "all_joined": s.all_joined, "category": s.category,
        "keys_file": s.keys_file, "timezone": s.timezone, "locale": s.locale, "owner": s.owner,
        "events_archived": events,
        "last_export": None if last is None else {
            "status": last.status, "started_at": last.started_at, "events": last.events,
            "package": last.package_path, "error": last.error},
    }


def add_matrix(settings: Settings, actor: str, name: str, *, homeserver: str, user: str,
               category: str, password_env: str | None = None, token_env: str | None = None,
               secret_file: Path | None = None, rooms: list[str] | None = None,
               all_joined: bool = False, keys_file: Path | None = None,
               keys_passphrase_env: str | None = None) -> dict[str, Any]:
    """Register a Matrix account whose rooms are archived. Only where the secret is kept is
    stored (and audited), never the secret."""
    from archive.package.selectielijst import find_category
    from chat_archiver.credentials import SecretError, check_file

    with change(settings, actor, "chat.add", name, kind="matrix", homeserver=homeserver,
                user=user, category=category) as c:
        if not re.fullmatch(NAME_RE, name):
            raise InputError("source name %(name)r: use letters, digits, '.', '_' or '-'",
                             field="name", name=name)
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", homeserver):
            raise InputError("--homeserver %(url)r is not an http(s) URL", field="homeserver",
                             url=homeserver)
        if not USER_ID.fullmatch(user):
            raise InputError("--user %(user)r is not a Matrix user id like @name:server",
                             field="user", user=user)
        for var in (password_env, token_env, keys_passphrase_env):
            if var is not None and var.upper().startswith("BEWAAR_"):
                raise InputError("%(var)s: name a variable outside BEWAAR_* for a secret "
                                 "(BEWAAR_* variables are settings)", var=var)
        given = [x for x in (password_env, token_env, secret_file) if x is not None]
        if len(given) != 1:
            raise InputError("give exactly one of --password-env, --token-env or --secret-file")
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
                raise InputError.of(exc) from None
            ref = f"file:{path}"
        rooms = list(rooms or [])
        if bool(rooms) == all_joined:
            raise InputError("give either --room ROOM_ID (one or more) or --all-joined")
        bad = [r for r in rooms if not ROOM_ID.fullmatch(r)]
        if bad:
            raise InputError("not a Matrix room id (like !abc:server or !abc): %(rooms)s",
                             field="rooms", rooms=", ".join(bad))
        if (keys_file is None) != (keys_passphrase_env is None):
            raise InputError("--keys-file and --keys-passphrase-env go together")
        if keys_file is not None and not keys_file.is_file():
            raise InputError("key file %(path)s does not exist", path=keys_file)
        find_category(settings, category)  # an unknown category fails here, not at sealing
        if c.db.scalar(select(ChatSource).where(ChatSource.name == name)):
            raise InputError("a chat source named %(name)r exists already", field="name",
                             name=name)
        source = ChatSource(name=name, kind="matrix", homeserver=homeserver.rstrip("/"),
                            user_id=user, secret_ref=ref, rooms=rooms, all_joined=all_joined,
                            category=category,
                            keys_file=str(keys_file.absolute()) if keys_file else None,
                            keys_passphrase_ref=f"env:{keys_passphrase_env}"
                            if keys_passphrase_env else None)
        c.db.add(source)
        c.db.flush()
        c.note(secret=ref.split(":", 1)[0], rooms=rooms, all_joined=all_joined)
        return source_dict(source)


def export(settings: Settings, actor: str, name: str,
           progress: Callable[[ExportProgress], None] | None = None,
           **options: Any) -> ExportResult:
    """Export everything new of a chat source into one sealed package."""
    from chat_archiver.export import export_source  # matrix-nio loads only when exporting

    with change(settings, actor, "chat.export", name) as c:
        result = export_source(settings, name, progress, **options)
        c.note(package=str(result.package) if result.package else None, events=result.events,
               rooms=result.rooms)
    _search_index(settings, actor, result.package)
    _enrich(settings, actor, result.package)
    return result


def _search_index(settings: Settings, actor: str, package: Path | None) -> None:
    from bewaar.services.search import index_chat_guarded

    index_chat_guarded(settings, actor, package)


def _enrich(settings: Settings, actor: str, package: Path | None) -> None:
    """enrich_after_archiving: suggestions for the new package (never fails the export)."""
    if package is not None:
        from bewaar.services.suggestions import after_archiving

        after_archiving(settings, actor, package.name)


def add_export(settings: Settings, actor: str, kind: str, name: str, *, category: str,
               timezone: str | None = None, locale: str | None = None,
               owner: str | None = None) -> dict[str, Any]:
    """Register a source whose chats come as export files of an app (whatsapp, signal, teams,
    telegram): the time zone its phone times are in, the language of its exports."""
    from archive.package.selectielijst import all_categories, find_category
    from chat_archiver.imports import new_export_source

    with change(settings, actor, "chat.add", name, kind=kind, category=category,
                timezone=timezone, locale=locale) as c:
        if not all_categories(settings):
            raise InputError("no selectielijst is loaded: load one first with `bewaar "
                             "selectielijst load FILE` (then give --category CODE)")
        find_category(settings, category)
        if c.db.scalar(select(ChatSource).where(ChatSource.name == name)):
            raise InputError("a chat source named %(name)r exists already", field="name",
                             name=name)
        source = new_export_source(kind, name, category=category, timezone=timezone,
                                   locale=locale, owner=owner)
        c.db.add(source)
        c.db.flush()
        return source_dict(source)


def import_export(settings: Settings, actor: str, name: str, files: list[Path],
                  progress: Callable[[ExportProgress], None] | None = None) -> ImportResult:
    """Archive what is new in export files of a source and seal it (no package when nothing
    is new). The audit row names the files and counts what was read."""
    from chat_archiver.imports import collector_paused, import_files

    with collector_paused():
        with change(settings, actor, "chat.import", name,
                    files=[Path(f).name for f in files]) as c:
            result = import_files(settings, name, [Path(f) for f in files], progress)
            c.note(**{k: v for k, v in result.as_dict().items() if k != "warnings"},
                   warnings=len(result.warnings))
        _search_index(settings, actor, result.package)
    _enrich(settings, actor, result.package)
    return result
