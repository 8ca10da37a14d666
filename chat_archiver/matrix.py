"""The Matrix connector: matrix-nio's AsyncClient for login and transport, raw pages for events.

Login uses nio (password or access token). Events are fetched with ``/messages`` through the
client's HTTP session and kept byte-exact (see ``rawjson``): backwards to the room's creation on
the first export, forwards from the stored token afterwards. Media come from the authenticated
media API (``/_matrix/client/v1/media/download``). A homeserver that goes away in the middle is
waited for (bounded), and the export carries on from the last page it got.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import aiohttp
from nio import AsyncClient, AsyncClientConfig, LoginError, WhoamiError

from chat_archiver.connector import (
    DEFAULT_PAGE_SIZE,
    Attachment,
    ChatAuthError,
    ChatConnectionError,
    ChatConnector,
    ChatProtocolError,
    PageCallback,
    RawEvent,
    RoomFetch,
    RoomInfo,
    UnknownRoomError,
)
from chat_archiver.credentials import Secret
from chat_archiver.rawjson import NotJsonError, split_answer

log = logging.getLogger(__name__)

CLIENT = "/_matrix/client/v3"
DEFAULT_RETRY_SECONDS = 90.0


class MatrixConnector(ChatConnector):
    kind = "matrix"

    def __init__(self, homeserver: str, user_id: str, secret: Secret, *,
                 page_size: int = DEFAULT_PAGE_SIZE, retry_seconds: float = DEFAULT_RETRY_SECONDS,
                 device_name: str = "Bewaarplaats archive export") -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self._secret = secret
        self.page_size = page_size
        self.retry_seconds = retry_seconds
        self.device_name = device_name
        self._client: AsyncClient | None = None
        self._logged_in_here = False
        self._joined: list[str] | None = None

    # --- session --------------------------------------------------------------------------
    async def open(self) -> None:
        config = AsyncClientConfig(max_timeouts=1, backoff_factor=0.1,
                                   max_timeout_retry_wait_time=1, request_timeout=60,
                                   encryption_enabled=False, store_sync_tokens=False)
        self._client = AsyncClient(self.homeserver, self.user_id, config=config)
        try:
            await self._authenticate(self._client)
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self.close()
            raise ChatConnectionError(
                f"cannot reach the homeserver {self.homeserver}: {_describe(exc)}") from None
        except BaseException:
            await self.close()
            raise

    async def _authenticate(self, client: AsyncClient) -> None:
        if self._secret.kind == "password":
            resp = await client.login(self._secret.value, device_name=self.device_name)
            if isinstance(resp, LoginError):
                raise self._refused("login", resp.status_code, resp.message)
            self._logged_in_here = True
        else:
            client.access_token = self._secret.value
            client.user_id = self.user_id
        who = await client.whoami()
        if isinstance(who, WhoamiError):
            raise self._refused("access token", who.status_code, who.message)
        if who.user_id != self.user_id:
            raise ChatAuthError(f"the access token belongs to {who.user_id}, not {self.user_id}")

    def _refused(self, what: str, code: str | None, message: str | None) -> Exception:
        if code in ("M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED",
                    "M_INVALID_USERNAME"):
            return ChatAuthError(
                f"the homeserver {self.homeserver} refused the {what} of {self.user_id}: "
                f"{code} {message or ''}".strip())
        return ChatProtocolError(
            f"the homeserver {self.homeserver} gave no valid answer to the {what} of "
            f"{self.user_id} ({code or 'not a Matrix answer'}: {message or 'no message'})")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self._logged_in_here:  # leave no device behind for each export
                await asyncio.wait_for(client.logout(), timeout=10)
        except Exception:  # noqa: BLE001 - logging out is a courtesy
            log.debug("logout failed", exc_info=True)
        finally:
            await client.close()

    # --- raw requests ---------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any] | None = None, *,
                   room_id: str | None = None) -> tuple[bytes, str | None]:
        """GET with the access token in a header; retry while the server is away (bounded)."""
        assert self._client is not None and self._client.access_token
        url = path + ("?" + urlencode(params) if params else "")
        headers = {"Authorization": f"Bearer {self._client.access_token}"}
        deadline = time.monotonic() + self.retry_seconds
        wait = 0.2
        while True:
            problem: str
            try:
                resp = await self._client.send("GET", url, headers=headers)
                body = await resp.read()
                status, ctype = resp.status, resp.content_type
                resp.release()
                if status == 200:
                    return body, ctype
                if status == 429 or status >= 500:
                    problem = f"HTTP {status}"
                    retry_ms = _json_field(body, "retry_after_ms")
                    if isinstance(retry_ms, int):
                        wait = max(wait, retry_ms / 1000)
                else:
                    raise self._http_error(status, body, path, room_id)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                    TimeoutError) as exc:
                problem = _describe(exc)
            if time.monotonic() + wait > deadline:
                raise ChatConnectionError(
                    f"the homeserver {self.homeserver} stayed unreachable for "
                    f"{self.retry_seconds:.0f}s ({problem})")
            log.warning("homeserver %s: %s; retrying in %.1fs", self.homeserver, problem, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 5.0)

    def _http_error(self, status: int, body: bytes, path: str,
                    room_id: str | None) -> Exception:
        code = _json_field(body, "errcode")
        message = _json_field(body, "error")
        if code is None:
            return ChatProtocolError(
                f"the homeserver {self.homeserver} answered HTTP {status} without a Matrix "
                f"error to {path.split('?')[0]}")
        if status == 401 or code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            return ChatAuthError(f"the homeserver no longer accepts the session: {code} {message}")
        if room_id is not None and status in (403, 404):
            return UnknownRoomError(
                f"room {room_id} is unknown or {self.user_id} cannot read it: {code} {message}")
        return ChatProtocolError(f"the homeserver refused {path.split('?')[0]}: "
                                 f"HTTP {status} {code} {message}")

    # --- the connector interface ---------------------------------------------------------
    async def rooms(self, wanted: list[str] | None) -> list[RoomInfo]:
        body, _ = await self._get(f"{CLIENT}/joined_rooms")
        joined = _json_field(body, "joined_rooms")
        if not isinstance(joined, list) or not all(isinstance(r, str) for r in joined):
            raise ChatProtocolError("the homeserver's joined_rooms answer has no room list")
        if wanted is None:
            return [RoomInfo(r) for r in sorted(joined)]
        for room in wanted:
            if room not in joined:  # a room left earlier can still be readable: ask the server
                await self._get(f"{CLIENT}/rooms/{quote(room, safe='')}/state/m.room.create/",
                                room_id=room)
        return [RoomInfo(r) for r in wanted]

    async def fetch(self, room_id: str, token: str | None,
                    on_page: PageCallback | None = None) -> RoomFetch:
        path = f"{CLIENT}/rooms/{quote(room_id, safe='')}/messages"
        backwards = token is None
        params: dict[str, Any] = {"dir": "b" if backwards else "f", "limit": self.page_size}
        if token is not None:
            params["from"] = token
        result = RoomFetch(room_id, [], "full" if backwards else "incremental", token,
                           token, reached_start=False)
        collected: list[RawEvent] = []
        while True:
            body, _ = await self._get(path, params, room_id=room_id)
            try:
                page, elements = split_answer(body)
            except NotJsonError as exc:
                raise ChatProtocolError(
                    f"the homeserver answered garbage to /messages for {room_id}: {exc}") from None
            if not isinstance(page.get("chunk"), list):
                raise ChatProtocolError(f"the /messages answer for {room_id} has no 'chunk' list")
            start, end = page.get("start"), page.get("end")
            if not isinstance(start, str) or (end is not None and not isinstance(end, str)):
                raise ChatProtocolError(f"the /messages answer for {room_id} has bad tokens")
            result.pages += 1
            result.tokens.append(start)
            if backwards and result.pages == 1:
                result.next_token = start  # newer events come after this, next time
            collected.extend(RawEvent.from_element(e.raw, e.value) for e in elements)
            if on_page is not None:
                on_page(room_id, len(collected))
            if not backwards and end is not None and elements:
                result.next_token = end
            if end is None or not elements:
                break
            result.tokens.append(end)
            params["from"] = end
        if backwards:
            collected.reverse()
            result.reached_start = any(e.type == "m.room.create" for e in collected)
            if not result.reached_start:
                oldest = collected[0].key if collected else "(none)"
                result.gaps.append(f"history before {oldest} is not visible to {self.user_id}")
        result.events = collected
        return result

    async def room_state(self, room_id: str) -> bytes:
        body, _ = await self._get(f"{CLIENT}/rooms/{quote(room_id, safe='')}/state",
                                  room_id=room_id)
        try:
            if not isinstance(json.loads(body), list):
                raise ValueError("not a list")
        except ValueError as exc:
            raise ChatProtocolError(f"the state of {room_id} is not a JSON list: {exc}") from None
        return body

    async def attachment(self, ref: str) -> Attachment:
        parts = urlparse(ref)
        media_id = parts.path.lstrip("/")
        if parts.scheme != "mxc" or not parts.netloc or not media_id or "/" in media_id:
            return Attachment(None, None, f"not an mxc:// URI: {ref[:200]}")
        path = (f"/_matrix/client/v1/media/download/{quote(parts.netloc, safe='')}/"
                f"{quote(media_id, safe='')}")
        try:
            body, ctype = await self._get(path)
        except (ChatProtocolError, UnknownRoomError) as exc:
            return Attachment(None, None, str(exc))
        return Attachment(body, ctype)


def _json_field(body: bytes, key: str) -> Any:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value.get(key) if isinstance(value, dict) else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
