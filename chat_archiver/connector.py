"""The connector interface every messenger implements, and what connectors hand back.

A connector knows how to reach one messenger (a Matrix homeserver, a WhatsApp or Teams export
file …). The export writer only sees rooms, raw events in order, tokens to resume from, room
state and attachments, so a new messenger needs a connector and nothing else.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from archive.errors import BewaarError


class ChatError(BewaarError):
    """A chat export could not run."""


class ChatAuthError(ChatError):
    """The messenger refused the credentials."""


class ChatConnectionError(ChatError):
    """The messenger could not be reached (down, refused, timed out)."""


class ChatProtocolError(ChatError):
    """The messenger answered something that is not a valid answer (garbage)."""


class UnknownRoomError(ChatError):
    """A configured room does not exist or the account cannot read it."""


DEFAULT_PAGE_SIZE = 1000  # events per request: the most Synapse hands out at once

REQUIRED_FIELDS: dict[str, type] = {
    "event_id": str, "type": str, "sender": str, "origin_server_ts": int,
}


@dataclass
class RawEvent:
    """One event: the exact bytes the messenger sent plus the parsed value."""

    raw: bytes
    value: Any
    malformed: str | None = None  # why it is not a well-formed event, None when it is

    @classmethod
    def from_element(cls, raw: bytes, value: Any) -> RawEvent:
        if (type(value) is dict and type(value.get("event_id")) is str  # the usual case, at
                and type(value.get("type")) is str  # a glance; any doubt: the checks below
                and type(value.get("sender")) is str
                and type(value.get("origin_server_ts")) is int
                and type(value.get("content", {})) is dict):
            return cls(raw, value)
        problem = None
        if not isinstance(value, dict):
            problem = f"not a JSON object but {type(value).__name__}"
        else:
            missing = [k for k, t in REQUIRED_FIELDS.items()
                       if not isinstance(value.get(k), t) or isinstance(value.get(k), bool)]
            if missing:
                problem = "missing or mistyped " + ", ".join(missing)
            elif not isinstance(value.get("content", {}), dict):
                problem = "content is not an object"
        return cls(raw, value, problem)

    @property
    def event_id(self) -> str | None:
        if isinstance(self.value, dict) and isinstance(self.value.get("event_id"), str):
            return str(self.value["event_id"])
        return None

    @cached_property
    def key(self) -> str:
        """Identity for idempotency: the event id, or a digest of the raw bytes."""
        import hashlib

        return self.event_id or "sha256:" + hashlib.sha256(self.raw).hexdigest()

    @property
    def type(self) -> str:
        t = self.value.get("type") if isinstance(self.value, dict) else None
        return t if isinstance(t, str) else "(malformed)"

    @property
    def ts(self) -> int | None:
        t = self.value.get("origin_server_ts") if isinstance(self.value, dict) else None
        return t if isinstance(t, int) and not isinstance(t, bool) else None


@dataclass
class RoomInfo:
    room_id: str
    name: str | None = None


@dataclass
class RoomFetch:
    """What a connector fetched for one room, in chronological order."""

    room_id: str
    events: list[RawEvent]
    mode: str  # "full" (whole history) or "incremental" (forward from a token)
    from_token: str | None  # the token this fetch started from (None: from the newest event)
    next_token: str | None  # where the next export continues
    reached_start: bool  # full history: reached the room's creation
    pages: int = 0
    tokens: list[str] = field(default_factory=list)  # every pagination token used
    gaps: list[str] = field(default_factory=list)


@dataclass
class Attachment:
    data: bytes | None
    content_type: str | None
    error: str | None = None
    # Instead of ``data``: a finished file on this machine that is not changed again (an
    # export's staged member), linked into the package rather than read and written again;
    # its sha256 when known already.
    path: Path | None = None
    sha256: str | None = None


PageCallback = Callable[[str, int], None]  # (room_id, events fetched so far in this room)


class ChatConnector(abc.ABC):
    """One messenger account. Use as ``async with connector: ...``."""

    kind: str = "abstract"

    async def __aenter__(self) -> ChatConnector:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and authenticate; raise ChatAuthError / ChatConnectionError."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def rooms(self, wanted: list[str] | None) -> list[RoomInfo]:
        """The rooms to export: ``wanted`` (checked to exist), or every joined room if None."""

    @abc.abstractmethod
    async def fetch(self, room_id: str, token: str | None,
                    on_page: PageCallback | None = None) -> RoomFetch:
        """Everything after ``token`` (None: the whole history), oldest first."""

    @abc.abstractmethod
    async def room_state(self, room_id: str) -> bytes:
        """The room's current state as the messenger sent it."""

    @abc.abstractmethod
    async def attachment(self, ref: str) -> Attachment:
        """Download an attachment reference found in an event (e.g. an mxc:// URI)."""
