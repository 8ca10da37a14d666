"""A real Synapse homeserver for the chat tests, started from its own virtual environment.

``synapse_server`` is session-scoped: one homeserver on 127.0.0.1 (port chosen by the OS),
SQLite, no federation, no key servers, no presence, every ``rc_*`` rate limit lifted. Users are
created through the shared-secret admin registration API. Without ``.venv-synapse`` the tests
that need it skip with a reason, unless ``BEWAAR_REQUIRE_SYNAPSE=1`` (CI) makes them fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SYNAPSE_PYTHON = ROOT / ".venv-synapse" / "bin" / "python"
START_TIMEOUT = 60.0

_UNLIMITED = {"per_second": 100000, "burst_count": 100000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_federation": {"window_size": 1000, "sleep_limit": 100000, "reject_limit": 100000,
                      "concurrent": 100000},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SynapseServer:
    """One Synapse process; ``restart()`` keeps the port, database and media."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_name = "localhost"
        self.shared_secret = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        # The database on tmpfs when there is one: fsync-free, several times faster to seed.
        shm = Path("/dev/shm")
        db_dir = Path(tempfile.mkdtemp(prefix="bewaar-synapse-", dir=shm if shm.is_dir() else directory))
        self.db_path = db_dir / "homeserver.db"
        self._write_config()

    def _write_config(self) -> None:
        d = self.dir
        (d / "media").mkdir(parents=True, exist_ok=True)
        seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
        (d / "signing.key").write_text(f"ed25519 a_test {seed}\n")
        (d / "log.yaml").write_text(
            "version: 1\n"
            "formatters: {precise: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}\n"
            f"handlers: {{file: {{class: logging.FileHandler, formatter: precise, "
            f"filename: {json.dumps(str(d / 'homeserver.log'))}}}}}\n"
            "root: {level: WARNING, handlers: [file]}\n"
            "disable_existing_loggers: false\n"
        )
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.url + "/",
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [{
                "port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                "tls": False, "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }],
            "database": {"name": "sqlite3", "args": {"database": str(self.db_path)}},
            "log_config": str(d / "log.yaml"),
            "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "enable_registration": False,
            "report_stats": False,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "enable_metrics": False,
            "max_upload_size": "50M",
            "enable_authenticated_media": True,
            "bcrypt_rounds": 4,  # password logins in tests need no hardening
            **RATE_LIMITS,
        }
        # JSON is valid YAML: no extra dependency needed to write the config.
        (d / "homeserver.yaml").write_text(json.dumps(config, indent=1))

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        out = open(self.dir / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c",
             str(self.dir / "homeserver.yaml")],
            cwd=self.dir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("Synapse exited at start:\n" + self.log_tail())
            try:
                r = httpx.get(self.url + "/_matrix/client/versions", timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse not ready within {START_TIMEOUT}s:\n" + self.log_tail())

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.db_path.parent, ignore_errors=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 4000) -> str:
        text = ""
        for name in ("stdout.log", "homeserver.log"):
            p = self.dir / name
            if p.exists():
                text += p.read_text(errors="replace")[-n:]
        return text

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create a user with the shared-secret admin API; return its access token."""
        url = self.url + "/_synapse/admin/v1/register"
        nonce = httpx.get(url, timeout=10).json()["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        r = httpx.post(url, timeout=30, json={
            "nonce": nonce, "username": localpart, "password": password,
            "admin": admin, "mac": mac.hexdigest(),
        })
        r.raise_for_status()
        return str(r.json()["access_token"])


def synapse_available() -> str | None:
    """None when Synapse can run here, else the reason it cannot."""
    if not SYNAPSE_PYTHON.exists():
        return f"no Synapse virtual environment at {SYNAPSE_PYTHON}"
    return None


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    reason = synapse_available()
    if reason is not None:
        if os.environ.get("BEWAAR_REQUIRE_SYNAPSE") == "1":
            pytest.fail(f"BEWAAR_REQUIRE_SYNAPSE=1 but {reason}")
        pytest.skip(reason)
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.remove()


# --- seeding a test world through the client-server API ------------------------------------

class MatrixUser:
    """A thin client-server API caller for seeding (httpx, no Matrix library)."""

    def __init__(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        self.client = client
        self.token = token
        self.user_id = user_id
        self._txn = 0

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = await self.client.request(method, path, json=body, headers=self._auth, **kw)
        if r.status_code != 200:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    async def create_room(self, name: str, **extra: Any) -> str:
        body = {"name": name, "preset": "private_chat", **extra}
        return str((await self.call("POST", "/_matrix/client/v3/createRoom", body))["room_id"])

    async def send(self, room: str, content: dict[str, Any], etype: str = "m.room.message") -> str:
        self._txn += 1
        txn = f"{secrets.token_hex(4)}-{self._txn}"
        path = f"/_matrix/client/v3/rooms/{room}/send/{etype}/{txn}"
        return str((await self.call("PUT", path, content))["event_id"])

    async def text(self, room: str, body: str, **relates: Any) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if relates:
            content["m.relates_to"] = relates
        return await self.send(room, content)

    async def state(self, room: str, etype: str, content: dict[str, Any], key: str = "") -> str:
        path = f"/_matrix/client/v3/rooms/{room}/state/{etype}/{key}"
        return str((await self.call("PUT", path, content))["event_id"])

    async def redact(self, room: str, event_id: str, reason: str | None = None) -> str:
        self._txn += 1
        path = f"/_matrix/client/v3/rooms/{room}/redact/{event_id}/r{secrets.token_hex(4)}"
        return str((await self.call("PUT", path, {"reason": reason} if reason else {}))["event_id"])

    async def invite(self, room: str, user_id: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/rooms/{room}/invite", {"user_id": user_id})

    async def join(self, room: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/join/{room}", {})

    async def leave(self, room: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/rooms/{room}/leave", {})

    async def upload(self, data: bytes, filename: str, mime: str) -> str:
        r = await self.client.post(
            "/_matrix/media/v3/upload", content=data, params={"filename": filename},
            headers={**self._auth, "Content-Type": mime},
        )
        r.raise_for_status()
        return str(r.json()["content_uri"])


async def fill_room(alice: MatrixUser, bob: MatrixUser, room: str, n: int, tag: str) -> None:
    """``n`` messages with edits, reactions, replies, threads, media, redactions (~2n events).

    Sent in concurrent batches: Synapse persists a room's events in batches, so this is fast.
    """
    import asyncio

    async def batched(calls: list[Any], size: int = 16) -> list[Any]:
        out: list[Any] = []
        for i in range(0, len(calls), size):
            out.extend(await asyncio.gather(*(c() for c in calls[i:i + size])))
        return out

    def who(i: int) -> MatrixUser:
        return alice if i % 2 == 0 else bob

    ids = await batched([
        (lambda i=i: who(i).text(room, f"{tag} bericht {i}: stand van zaken <b>{i}</b> & meer"))
        for i in range(n)])
    follow: list[Any] = []
    for i, eid in enumerate(ids):
        k, me, other = i % 10, who(i), who(i + 1)
        if k == 1:  # an edit, kept with its original
            follow.append(lambda me=me, i=i, eid=eid: me.send(room, {
                "msgtype": "m.text", "body": f"* {tag} bericht {i} (gecorrigeerd)",
                "m.new_content": {"msgtype": "m.text", "body": f"{tag} bericht {i} (gecorrigeerd)"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": eid}}))
        elif k == 2:  # a reaction by the other user
            follow.append(lambda other=other, eid=eid: other.send(room, {"m.relates_to": {
                "rel_type": "m.annotation", "event_id": eid, "key": "👍"}}, "m.reaction"))
        elif k == 3:  # a reply
            follow.append(lambda me=me, i=i, eid=eid: me.text(
                room, f"antwoord op {i}", **{"m.in_reply_to": {"event_id": eid}}))
        elif k == 4:  # a thread
            follow.append(lambda me=me, i=i, eid=eid: me.text(
                room, f"draad {i}", rel_type="m.thread", event_id=eid))
        elif k == 5:  # a redaction with a reason
            async def oops(me: MatrixUser = me, i: int = i) -> None:
                doomed = await me.text(room, f"per ongeluk gedeeld {i}")
                await me.redact(room, doomed, reason="verkeerde ruimte")
            follow.append(oops)
        elif k == 6:  # an attachment
            async def attach(me: MatrixUser = me, i: int = i) -> None:
                data = f"{tag} bijlage {i}\n".encode() * 50
                uri = await me.upload(data, f"notitie-{i}.txt", "text/plain")
                await me.send(room, {"msgtype": "m.file", "body": f"notitie-{i}.txt", "url": uri,
                                     "info": {"mimetype": "text/plain", "size": len(data)}})
            follow.append(attach)
    await batched(follow)
    for i in range(0, n, 30):  # room state over time, membership changes
        await alice.state(room, "m.room.topic", {"topic": f"{tag} onderwerp versie {i}"})
        await bob.leave(room)
        await alice.invite(room, bob.user_id)
        await bob.join(room)


async def seed_world(url: str, alice_token: str, bob_token: str, *, per_room: int = 90,
                     rooms: int = 3) -> dict[str, str]:
    """Two users, ``rooms`` shared rooms plus an 'encrypted' one; return name -> room id."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        alice = MatrixUser(client, alice_token, "@alice:localhost")
        bob = MatrixUser(client, bob_token, "@bob:localhost")
        made: dict[str, str] = {}
        import asyncio

        async def one(i: int) -> None:
            name = f"Overleg {i}"
            room = await alice.create_room(name, topic=f"Onderwerp {i}")
            await alice.invite(room, bob.user_id)
            await bob.join(room)
            await fill_room(alice, bob, room, per_room, f"r{i}")
            made[name] = room

        async def encrypted() -> None:
            room = await alice.create_room("Versleuteld", initial_state=[{
                "type": "m.room.encryption", "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            await alice.invite(room, bob.user_id)
            await bob.join(room)
            for i in range(6):
                await (alice if i % 2 else bob).send(room, {
                    "algorithm": "m.megolm.v1.aes-sha2", "sender_key": "x" * 43,
                    "session_id": "s" * 43, "device_id": "DEV",
                    "ciphertext": base64.b64encode(os.urandom(64)).decode()},
                    "m.room.encrypted")
            made["Versleuteld"] = room

        await asyncio.gather(*(one(i) for i in range(rooms)), encrypted())
        return made


def all_server_events(url: str, token: str, room: str) -> list[dict[str, Any]]:
    """The oracle: every event the server returns for ``room``, paginated with plain httpx."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"dir": "b", "limit": 1000}
    with httpx.Client(base_url=url, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            r = client.get(f"/_matrix/client/v3/rooms/{room}/messages", params=params)
            r.raise_for_status()
            page = r.json()
            events.extend(page.get("chunk", []))
            if not page.get("end") or not page.get("chunk"):
                return events
            params["from"] = page["end"]
