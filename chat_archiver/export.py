"""``export_source``: everything new of one chat source into one sealed package.

Order of work, so that a crash or a homeserver restart never duplicates or drops an event:
1. an export row (status ``running``) and a staging folder under ``chat_dir/<source>/``;
2. fetch every room from its stored token (none: the whole history), skip events already sealed;
3. write the export folder, save the new tokens and event keys in ``staging/commit.json``,
   mark the export ``sealing``;
4. build the sealed package (its bag-info names the export);
5. in one transaction: store the tokens and seen events, mark the export ``sealed``.
A crash before 4 leaves nothing sealed: the next run starts again from the old tokens. A crash
between 4 and 5 is finished by the next run, which finds the sealed package and commits step 5.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select

from archive.db import session_scope
from archive.errors import NotFoundError, Word
from archive.models import ChatExport, ChatRoom, ChatSeenEvent, ChatSource
from archive.settings import Settings
from chat_archiver.connector import DEFAULT_PAGE_SIZE, ChatConnector, ChatError
from chat_archiver.credentials import SecretError, load_secret
from chat_archiver.encrypted_files import decrypt_file
from chat_archiver.megolm import DecryptError, KeyRing, read_key_export
from chat_archiver.writer import (
    RoomExport,
    link_attachment,
    media_ref,
    save_attachment,
    write_export,
)

EXPORT_ID_FIELD = "Bewaar-Chat-Export-Id"
ROOMS_AT_ONCE = 4  # rooms paginated concurrently


@dataclass
class ExportResult:
    package: Path | None
    events: int
    rooms: int
    duplicates: int = 0  # events already archived for the source, skipped
    rooms_exported: list[RoomExport] = field(default_factory=list, repr=False)


@dataclass
class ExportProgress:
    phase: str  # "read", "fetch", "media", "write", "seal", "done"
    room_id: str | None = None
    events: int = 0


ProgressFn = Callable[[ExportProgress], None]


@dataclass
class ExportJob:
    """What one export needs besides the source: where the events come from and what the
    package says about them. Matrix exports and export-file imports differ only here."""

    connector: ChatConnector
    header: dict[str, Any]  # the head of evidence.json
    description: str
    bag_info: dict[str, str]
    keys: KeyRing = field(default_factory=KeyRing)
    title: str = "Chat export"
    # Called with the data folder and the rooms before the folder is written: adds files
    # (such as original/) and completes the header.
    before_write: Callable[[Path, list[RoomExport]], None] | None = None


def connector_for(source: ChatSource, page_size: int = DEFAULT_PAGE_SIZE) -> ChatConnector:
    if source.kind == "matrix":
        from chat_archiver.matrix import MatrixConnector  # matrix-nio: only Matrix needs it

        return MatrixConnector(source.homeserver, source.user_id, load_secret(source.secret_ref),
                               page_size=page_size)
    raise ChatError("no connector for chat sources of kind %(kind)r", kind=source.kind)


def load_keys(source: ChatSource) -> KeyRing:
    """The Megolm sessions of the source's key export file (empty without one)."""
    if not source.keys_file:
        return KeyRing()
    import os

    var = (source.keys_passphrase_ref or "").partition(":")[2]
    passphrase = os.environ.get(var) if var else None
    if not passphrase:
        raise SecretError("environment variable %(var)s with the passphrase of the key file "
                          "%(file)s is not set", var=var or Word("(none)"),
                          file=source.keys_file)
    return KeyRing(read_key_export(Path(source.keys_file), passphrase))


@contextmanager
def _source_lock(settings: Settings, name: str) -> Iterator[Path]:
    folder = settings.chat_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ChatError("an export of %(name)r is running already", name=name) from None
        yield folder


def export_source(settings: Settings, name: str, progress: ProgressFn | None = None, *,
                  page_size: int = DEFAULT_PAGE_SIZE) -> ExportResult:
    """Export everything new of chat source ``name``; package None when there was nothing new."""

    def matrix_job(source: ChatSource, staging: Path, export_uuid: str) -> ExportJob:
        keys = load_keys(source)
        header = {
            "format": "bewaarplaats-chat-export/1", "source": source.name, "kind": source.kind,
            "homeserver": source.homeserver, "account": source.user_id,
            "export_id": export_uuid, "page_size": page_size,
            "decryption": (f"Megolm keys from a key export file: {len(keys.sessions)} sessions; "
                           if source.keys_file else "no key export file configured; ")
                          + "encrypted events are kept as sent; what could not be decrypted is "
                            "listed",
        }
        return ExportJob(connector_for(source, page_size), header,
                         f"Matrix chat export of {source.user_id} on {source.homeserver}",
                         {"Chat-Homeserver": source.homeserver, "Chat-Account": source.user_id},
                         keys)

    return run_export(settings, name, matrix_job, progress)


JobMaker = Callable[[ChatSource, Path, str], ExportJob]


def run_export(settings: Settings, name: str, make_job: JobMaker,
               progress: ProgressFn | None = None) -> ExportResult:
    """The one export path (see the module docstring): ``make_job(source, staging folder,
    export uuid)`` says where the events come from."""
    from archive.storage import check_storage

    check_storage(settings)  # a bucket that cannot take the package: said before fetching
    report = progress or (lambda p: None)
    with session_scope(settings) as db:
        source = db.scalar(select(ChatSource).where(ChatSource.name == name))
        if source is None:
            raise NotFoundError("no chat source named %(name)r (see: bewaar chat list)",
                                name=name)
        db.expunge(source)
    with _source_lock(settings, name) as folder:
        _recover(settings, source, folder)
        export_uuid = uuid.uuid4().hex
        staging = folder / f"staging-{export_uuid}"
        (staging / "data").mkdir(parents=True)
        with session_scope(settings) as db:
            row = ChatExport(source_id=source.id, uuid=export_uuid, status="running",
                             staging=str(staging))
            db.add(row)
            db.flush()
            export_id = row.id
            known = {r.room_id: (r.id, r.token) for r in db.scalars(
                select(ChatRoom).where(ChatRoom.source_id == source.id))}
        try:
            job = make_job(source, staging, export_uuid)
            result = _run(settings, source, staging, export_uuid, export_id, known, report, job)
        except BaseException as exc:
            with session_scope(settings) as db:
                failed = db.get(ChatExport, export_id)
                sealing = failed is not None and failed.status == "sealing"
                if failed is not None and failed.status == "running":
                    failed.status, failed.error = "failed", str(exc)[:2000]
                    failed.finished_at = datetime.now(UTC)
            if not sealing:  # while sealing, the next run decides from what was sealed
                shutil.rmtree(staging, ignore_errors=True)
            raise
        report(ExportProgress("done", events=result.events))
        return result


def _run(settings: Settings, source: ChatSource, staging: Path, export_uuid: str, export_id: int,
         known: dict[str, tuple[int, str | None]], report: ProgressFn,
         job: ExportJob) -> ExportResult:
    started = datetime.now(UTC)
    rooms: list[RoomExport] = []
    # The coroutine fills ``rooms`` and returns None: when asyncio.run (Python 3.11) puts the
    # SIGINT handler back it formats the finished main task, its result included (signal's
    # enum lookup of the handler, a partial naming the task) – a repr of every event fetched,
    # seconds for a large export.
    asyncio.run(_fetch_all(settings, source, job.connector, staging / "data", known, report,
                           job.keys, rooms))
    total = sum(len(r.fetch.events) for r in rooms)
    skipped = sum(r.skipped_duplicates for r in rooms)
    if total == 0:
        with session_scope(settings) as db:
            row = db.get(ChatExport, export_id)
            assert row is not None
            row.status, row.finished_at, row.rooms = "empty", datetime.now(UTC), len(rooms)
        shutil.rmtree(staging, ignore_errors=True)
        return ExportResult(None, 0, len(rooms), skipped, rooms)
    report(ExportProgress("write", events=total))
    job.header.setdefault("format", "bewaarplaats-chat-export/1")
    job.header.update(started_at=started.isoformat(),
                      finished_fetching_at=datetime.now(UTC).isoformat())
    if job.before_write is not None:
        job.before_write(staging / "data", rooms)
    write_export(staging / "data", [r for r in rooms if r.fetch.events], job.header, job.keys)
    commit = {"export_uuid": export_uuid, "rooms": [
        {"room_id": r.fetch.room_id, "name": r.name, "token": r.fetch.next_token,
         "reached_start": r.fetch.reached_start,
         "keys": [e.key for e in r.fetch.events],
         "first": r.fetch.events[0].key if r.fetch.events else None,
         "last": r.fetch.events[-1].key if r.fetch.events else None} for r in rooms]}
    tmp = staging / "commit.json.part"
    tmp.write_text(json.dumps(commit))
    tmp.replace(staging / "commit.json")
    with session_scope(settings) as db:
        row = db.get(ChatExport, export_id)
        assert row is not None
        row.status, row.events, row.rooms = "sealing", total, len(rooms)
    report(ExportProgress("seal", events=total))
    stamps = [e.ts for r in rooms for e in r.fetch.events if e.ts is not None]
    period = None
    if stamps:
        period = (datetime.fromtimestamp(min(stamps) / 1000, UTC),
                  datetime.fromtimestamp(max(stamps) / 1000, UTC))
    package = _seal(settings, source, staging / "data", export_uuid, total, len(rooms), period,
                    job)
    # recorded where it is kept (its s3:// URL with a bucket), not this machine's copy
    _commit(settings, source.id, export_id, commit, package.id, package.location or package.path)
    shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(package.path, total, len(rooms), skipped, rooms)


async def _fetch_all(settings: Settings, source: ChatSource, connector: ChatConnector,
                     data_dir: Path, known: dict[str, tuple[int, str | None]],
                     report: ProgressFn, keys: KeyRing, into: list[RoomExport]) -> None:
    async with connector:
        rooms = await connector.rooms(None if source.all_joined else list(source.rooms))
        limit = asyncio.Semaphore(ROOMS_AT_ONCE)

        async def one(room_id: str) -> RoomExport:
            async with limit:
                return await _fetch_room(settings, connector, room_id, known, data_dir, report,
                                         keys)

        into.extend(await asyncio.gather(*(one(info.room_id) for info in rooms)))


async def _fetch_room(settings: Settings, connector: ChatConnector, room_id: str,
                      known: dict[str, tuple[int, str | None]], data_dir: Path,
                      report: ProgressFn, keys: KeyRing) -> RoomExport:
    room_pk, token = known.get(room_id, (None, None))

    def on_page(rid: str, n: int) -> None:
        report(ExportProgress("fetch", rid, n))

    fetched = await connector.fetch(room_id, token, on_page)
    skipped = 0
    if room_pk is not None and fetched.events:
        fetched.events, skipped = _drop_seen(settings, room_pk, fetched.events)
    seen_here: set[str] = set()
    unique = []
    for e in fetched.events:
        if e.key in seen_here:
            skipped += 1
            continue
        seen_here.add(e.key)
        unique.append(e)
    fetched.events = unique
    state = await connector.room_state(room_id)
    room = RoomExport(fetched, state, skipped)
    await _download_media(connector, room, data_dir, report, keys)
    return room


def _drop_seen(settings: Settings, room_pk: int, events: list[Any]) -> tuple[list[Any], int]:
    keys = [e.key for e in events]
    seen: set[str] = set()
    with session_scope(settings) as db:
        for i in range(0, len(keys), 500):
            seen.update(db.scalars(select(ChatSeenEvent.event_key).where(
                ChatSeenEvent.room_pk == room_pk, ChatSeenEvent.event_key.in_(keys[i:i + 500]))))
    kept = [e for e in events if e.key not in seen]
    return kept, len(events) - len(kept)


async def _download_media(connector: ChatConnector, room: RoomExport, data_dir: Path,
                          report: ProgressFn, keys: KeyRing) -> None:
    """Every attachment, also those inside encrypted events that the room keys open: their
    files are checked against the event's sha256 and kept decrypted (or, if that fails, as
    downloaded, with the reason)."""
    todo = []
    for e in room.fetch.events:
        if e.malformed:
            continue
        ev = e.value
        if ev["type"] == "m.room.encrypted":
            try:
                ev = keys.decrypt_event(ev)
            except DecryptError:
                continue  # the writer lists it as undecryptable
        ref = media_ref(ev)
        if ref is not None and e.event_id:
            todo.append((e.event_id, ev.get("content") or {}, *ref))
    if not todo:
        return
    report(ExportProgress("media", room.fetch.room_id, len(todo)))
    limit = asyncio.Semaphore(8)

    async def one(event_id: str, content: dict[str, Any], uri: str,
                  file: dict[str, Any] | None) -> None:
        async with limit:
            got = await connector.attachment(uri)
        info: dict[str, Any] = {"uri": uri, "encrypted": file is not None}
        data, ctype = got.data, got.content_type
        if data is not None and file is not None:
            mimetype = (content.get("info") or {}).get("mimetype")
            try:
                data = decrypt_file(data, file)
                ctype = mimetype if isinstance(mimetype, str) else None
                info["decrypted"] = True
            except DecryptError as exc:
                info.update(decrypted=False, error=str(exc))
        if data is None and got.path is not None and file is None:
            # a file already on this disk (an export's staged member): linked, not copied
            try:
                path, digest, size = link_attachment(data_dir, got.path, got.sha256,
                                                     str(content.get("body") or ""), ctype)
                info.update(path=path, sha256=digest, size=size, content_type=ctype)
            except OSError as exc:
                info["error"] = f"cannot read the staged file: {exc.strerror or exc}"
        elif data is None:
            info["error"] = got.error
        else:
            path, digest = save_attachment(data_dir, data, str(content.get("body") or ""), ctype)
            info.update(path=path, sha256=digest, size=len(data), content_type=ctype)
        room.attachments[event_id] = info

    await asyncio.gather(*(one(*job) for job in todo))


def _seal(settings: Settings, source: ChatSource, data_dir: Path, export_uuid: str, events: int,
          rooms: int, period: tuple[datetime, datetime] | None, job: ExportJob) -> Any:
    from archive.package import PackageInput, build_package

    # The staging files are finished and deleted after the seal: link them into the bag (each
    # is read once, for its hash) instead of writing every byte a second time.
    files = [PackageInput(p.relative_to(data_dir).as_posix(), p, link=True)
             for p in sorted(data_dir.rglob("*")) if p.is_file()]
    return build_package(
        settings, source_kind="chat", source_name=source.name,
        title=f"{job.title} {source.name}: {events} events in {rooms} rooms",
        category=source.category, files=files,
        bag_info={EXPORT_ID_FIELD: export_uuid, **job.bag_info},
        description=job.description,
        period=period,
    )


SEEN_TABLE = cast(Table, ChatSeenEvent.__table__)


def _commit(settings: Settings, source_id: int, export_id: int, commit: dict[str, Any],
            package_id: str, package_path: Path | str) -> None:
    """Store tokens and seen events with the export's sealed state, in one transaction."""
    now = datetime.now(UTC)
    with session_scope(settings) as db:
        for r in commit["rooms"]:
            room = db.scalar(select(ChatRoom).where(ChatRoom.source_id == source_id,
                                                    ChatRoom.room_id == r["room_id"]))
            if room is None:
                room = ChatRoom(source_id=source_id, room_id=r["room_id"], events=0)
                db.add(room)
                db.flush()
            room.name = r["name"] or room.name
            room.token = r["token"] or room.token
            room.reached_start = room.reached_start or bool(r["reached_start"])
            room.events += len(r["keys"])
            room.first_event_id = room.first_event_id or r["first"]
            room.last_event_id = r["last"] or room.last_event_id
            room.updated_at = now
            if r["keys"]:  # one executemany of the table's INSERT, without the ORM's bookkeeping
                db.execute(insert(SEEN_TABLE), [
                    {"room_pk": room.id, "event_key": k, "export_id": export_id}
                    for k in r["keys"]])
        row = db.get(ChatExport, export_id)
        assert row is not None
        row.status, row.finished_at = "sealed", now
        row.package_id, row.package_path = package_id, str(package_path)


def _recover(settings: Settings, source: ChatSource, folder: Path) -> None:
    """Finish or discard exports a crash left behind."""
    with session_scope(settings) as db:
        pending = list(db.scalars(select(ChatExport).where(
            ChatExport.source_id == source.id, ChatExport.status.in_(("running", "sealing")))))
        todo = [(p.id, p.uuid, p.status, p.staging) for p in pending]
    for export_id, export_uuid, status, staging in todo:
        found = _find_package(settings, export_uuid) if status == "sealing" else None
        commit_file = Path(staging or "") / "commit.json"
        if found is not None and commit_file.exists():
            _commit(settings, source.id, export_id, json.loads(commit_file.read_text()),
                    found.name, _recorded_location(settings, found))
        else:
            with session_scope(settings) as db:
                row = db.get(ChatExport, export_id)
                if row is not None:
                    row.status, row.finished_at = "failed", datetime.now(UTC)
                    row.error = row.error or "interrupted; nothing sealed, redone by a later export"
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    for leftover in folder.glob("staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _recorded_location(settings: Settings, folder: Path) -> Path | str:
    """Where the package in ``folder`` is recorded (its s3:// URL when it went to a bucket)."""
    from archive.models import Package

    with session_scope(settings) as db:
        row = db.get(Package, folder.name)
        return row.path if row is not None else folder


def _find_package(settings: Settings, export_uuid: str) -> Path | None:
    needle = f"{EXPORT_ID_FIELD}: {export_uuid}"
    cached = settings.storage_cache_dir / "packages"  # a package stored in a bucket
    for info in [*settings.packages_dir.glob("*/bag/bag-info.txt"),
                 *cached.glob("*/bag/bag-info.txt")]:
        try:
            if needle in info.read_text(encoding="utf-8", errors="replace"):
                return info.parent.parent
        except OSError:
            continue
    return None
