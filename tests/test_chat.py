"""A records manager archives Matrix chats: complete, incremental, sealed and verifiable.

Everything runs against a real Synapse on 127.0.0.1 (tests/synapse.py) seeded with two users,
several rooms and more than 500 events of every kind. The oracle is a plain httpx client that
paginates every room independently; packages are checked with `bewaar verify` and bagit.py.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Bewaar
from tests.synapse import (
    MatrixUser,
    SynapseServer,
    all_server_events,
    seed_world,
    synapse_server,  # noqa: F401 - the session fixture
)

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE_PW = "alice-Geheim-7f3c9e"
BOB_PW = "bob-Geheim-81aa2d"
SELECTIELIJST = """name = "Selectielijst test"
[[categorie]]
code = "1.1"
naam = "Chatberichten van bewindspersonen"
waardering = "B"
trigger = "einde ambtsperiode"
"""


@dataclass
class World:
    server: SynapseServer
    alice_token: str
    bob_token: str
    rooms: dict[str, str]

    def oracle(self, room: str) -> list[dict[str, Any]]:
        return all_server_events(self.server.url, self.alice_token, room)

    async def say(self, room: str, n: int, tag: str) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.server.url, timeout=60) as c:
            alice = MatrixUser(c, self.alice_token, "@alice:localhost")
            for i in range(n):
                await alice.text(room, f"{tag} {i}")


@pytest.fixture(scope="module")
def world(synapse_server: SynapseServer) -> World:  # noqa: F811
    alice = synapse_server.register("alice", ALICE_PW, admin=True)
    bob = synapse_server.register("bob", BOB_PW)
    rooms = asyncio.run(seed_world(synapse_server.url, alice, bob))
    return World(synapse_server, alice, bob, rooms)


def setup_home(bewaar: Bewaar, tmp_path: Path) -> None:
    sl = tmp_path / "selectielijst.toml"
    sl.write_text(SELECTIELIJST)
    bewaar("selectielijst", "load", str(sl))


def add_source(bewaar: Bewaar, world: World, name: str, *extra: str) -> None:
    bewaar("chat", "add", "matrix", name, "--homeserver", world.server.url,
           "--user", "@alice:localhost", "--category", "1.1", *extra)


def package_events(package: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted((package / "bag" / "data" / "rooms").glob("*/events.jsonl")):
        out.extend(json.loads(line) for line in f.read_bytes().splitlines())
    return out


def stable(value: Any) -> Any:
    """An event without the fields that depend on who asks and when (age, transaction_id)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in ("age", "transaction_id")}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def check_package(bewaar: Bewaar, package: Path) -> None:
    assert bewaar("verify", str(package), check=False).returncode == 0
    bag = subprocess.run([str(Path(sys.executable).with_name("bagit.py")), "--validate",
                          str(package / "bag")], capture_output=True, text=True, timeout=120)
    assert bag.returncode == 0, bag.stderr


def assert_exactly_once(world: World, rooms: list[str], packages: list[Path]) -> None:
    archived = Counter(e["event_id"] for p in packages for e in package_events(p))
    assert all(n == 1 for n in archived.values()), [k for k, n in archived.items() if n > 1]
    expected = {e["event_id"] for r in rooms for e in world.oracle(r)}
    assert set(archived) == expected


def test_first_export_complete_then_incremental(bewaar: Bewaar, world: World,
                                                tmp_path: Path) -> None:
    setup_home(bewaar, tmp_path)
    env = {"ARCHIEF_PW": ALICE_PW}
    add_source(bewaar, world, "kabinet", "--password-env", "ARCHIEF_PW", "--all-joined")
    first = bewaar("chat", "export", "kabinet", "--json", env=env).json()
    all_rooms = list(world.rooms.values())
    oracle = {r: world.oracle(r) for r in all_rooms}
    assert sum(len(v) for v in oracle.values()) >= 500
    assert first["rooms"] == len(all_rooms)
    assert first["events"] == sum(len(v) for v in oracle.values())
    pkg = Path(first["package"])
    check_package(bewaar, pkg)
    data = pkg / "bag" / "data"

    # Raw events exactly as the server sent them, `unsigned` included, each exactly once.
    by_id = {e["event_id"]: e for v in oracle.values() for e in v}
    archived = package_events(pkg)
    assert sorted(e["event_id"] for e in archived) == sorted(by_id)
    for e in archived:  # byte-exact lines; only age moves on
        assert stable(e) == stable(by_id[e["event_id"]])
    assert any("redacted_because" in e.get("unsigned", {}) for e in archived)
    room = world.rooms["Overleg 0"]
    lines = next(p for p in (data / "rooms").iterdir() if room.lstrip("!") in p.name)
    in_file = [json.loads(x)["event_id"] for x in (lines / "events.jsonl").read_bytes().splitlines()]
    assert in_file == [e["event_id"] for e in reversed(oracle[room])]  # room order, oldest first
    assert by_id[in_file[0]]["type"] == "m.room.create"

    # Completeness evidence matches an independent count.
    evidence = json.loads((data / "evidence.json").read_text())
    for r in evidence["rooms"]:
        assert r["events_by_type"] == dict(Counter(e["type"] for e in oracle[r["room_id"]]))
        assert r["reached_room_creation"] and r["pagination_tokens"] and r["next_token"]
        assert r["first_event"]["event_id"] == oracle[r["room_id"]][-1]["event_id"]
        assert r["last_event"]["event_id"] == oracle[r["room_id"]][0]["event_id"]
    encrypted = [e["event_id"] for e in oracle[world.rooms["Versleuteld"]]
                 if e["type"] == "m.room.encrypted"]
    listed = [u["event_id"] for r in evidence["rooms"] for u in r["undecryptable"]]
    assert sorted(listed) == sorted(encrypted) and len(encrypted) == 6

    # Attachments downloaded through authenticated media and hashed.
    attachments = [a for r in evidence["rooms"] for a in r["attachments"]]
    media_events = [e for e in archived if e.get("content", {}).get("msgtype") == "m.file"]
    assert attachments and len(attachments) == len(media_events)
    for a in attachments:
        blob = (data / a["path"]).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == a["sha256"] and b"bijlage" in blob

    # The message table and the transcript tell what happened.
    rows = list(csv.DictReader((data / "messages.csv").open(encoding="utf-8")))
    assert len(rows) == len(archived)
    assert {"redacted", "edit", "undecryptable"} <= {r["status"] for r in rows}
    html = (lines / "transcript.html").read_text()
    for marker in ("edited by", "original:", "redacted by @", "reason: verkeerde ruimte",
                   "👍 ×1", "reply to", "in thread", "thread with", "📎", "joined", "left",
                   "set the topic", "&lt;b&gt;"):
        assert marker in html, marker
    assert "<b>3</b>" not in html  # message text is escaped, never markup

    # The secret is nowhere: not in the package, not in the database.
    for f in [*pkg.rglob("*"), *bewaar.home.glob("bewaar.sqlite3*")]:
        if f.is_file():
            assert ALICE_PW.encode() not in f.read_bytes(), f

    # Nothing new: no package, no duplicates.
    again = bewaar("chat", "export", "kabinet", "--json", env=env).json()
    assert again == {"package": None, "events": 0, "rooms": len(all_rooms)}

    # New messages: only those, in a new package that links to the first.
    asyncio.run(world.say(room, 7, "nieuw"))
    third = bewaar("chat", "export", "kabinet", "--json", env=env).json()
    assert third["events"] == 7
    check_package(bewaar, Path(third["package"]))
    new = package_events(Path(third["package"]))
    assert [e["content"]["body"] for e in new] == [f"nieuw {i}" for i in range(7)]
    assert_exactly_once(world, all_rooms, [pkg, Path(third["package"])])
    listing = bewaar("chat", "list", "--json").json()
    assert listing[0]["events_archived"] == first["events"] + 7
    assert "ARCHIEF" in listing[0]["secret"] or listing[0]["secret"] == "password-env"


def test_homeserver_restart_within_export(bewaar: Bewaar, world: World, home: Path,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Synapse goes down after the first page and comes back: the export carries on."""
    import threading

    from archive.settings import load_settings
    from chat_archiver import ExportProgress, export_source

    setup_home(bewaar, tmp_path)
    room = world.rooms["Overleg 1"]
    add_source(bewaar, world, "herstart", "--token-env", "ARCHIEF_TOKEN", "--room", room)
    monkeypatch.setenv("ARCHIEF_TOKEN", world.alice_token)
    restarted = threading.Event()
    starter: list[threading.Thread] = []

    def progress(p: ExportProgress) -> None:
        if p.phase == "fetch" and not restarted.is_set():
            restarted.set()
            world.server.stop()  # down in the middle of the pagination …
            t = threading.Thread(target=world.server.start)  # … and back a little later
            t.start()
            starter.append(t)

    result = export_source(load_settings(), "herstart", progress, page_size=40)
    starter[0].join(timeout=120)
    assert restarted.is_set() and result.package is not None
    assert result.events == len(world.oracle(room))
    assert_exactly_once(world, [room], [result.package])
    check_package(bewaar, result.package)
    # Between exports too: restart, add messages, export again: only the new ones.
    world.server.restart()
    asyncio.run(world.say(room, 3, "na herstart"))
    again = export_source(load_settings(), "herstart", page_size=40)
    assert again.events == 3 and again.package is not None
    assert_exactly_once(world, [room], [result.package, again.package])


def test_crash_mid_export_is_redone_without_duplicates(bewaar: Bewaar, world: World,
                                                       tmp_path: Path) -> None:
    """`bewaar chat export` killed while it runs: the rerun seals everything exactly once."""
    import os
    import signal

    from tests.conftest import BEWAAR

    setup_home(bewaar, tmp_path)
    room = world.rooms["Overleg 2"]
    secret = tmp_path / "archief.secret"
    secret.write_text(f"password={ALICE_PW}\n")
    secret.chmod(0o600)
    proxy = _Answers("proxy", world.server.url)
    proxy.hold_from_page = 2  # the export gets two pages of five events, then waits
    try:
        bewaar("chat", "add", "matrix", "crash", "--homeserver", proxy.url, "--user",
               "@alice:localhost", "--category", "1.1", "--secret-file", str(secret),
               "--room", room)
        proc = subprocess.Popen([*BEWAAR, "chat", "export", "crash", "--page-size", "5"],
                                env=bewaar.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        staging = bewaar.home / "chat" / "crash"
        assert proxy.holding.wait(60), "the export never reached its third page"
        os.kill(proc.pid, signal.SIGKILL)  # mid-pagination, for certain
        proc.wait(timeout=30)
        assert list(staging.glob("staging-*"))
        assert_nothing_sealed(bewaar.home)
        proxy.release.set()
        proxy.hold_from_page = None
        redo = bewaar("chat", "export", "crash", "--json").json()
        assert redo["events"] == len(world.oracle(room))
        assert_exactly_once(world, [room], [Path(redo["package"])])
        assert not list(staging.glob("staging-*"))
        assert bewaar("chat", "export", "crash", "--json").json()["package"] is None
    finally:
        proxy.close()


def test_crash_after_sealing_is_finished_by_the_next_run(
        bewaar: Bewaar, world: World, home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the package was sealed but before the tokens were stored: no second copy."""
    from archive.settings import load_settings
    from chat_archiver import export as export_module

    setup_home(bewaar, tmp_path)
    room = world.rooms["Versleuteld"]
    add_source(bewaar, world, "naseal", "--token-env", "ARCHIEF_TOKEN", "--room", room)
    monkeypatch.setenv("ARCHIEF_TOKEN", world.alice_token)

    def power_cut(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies between sealing and committing

    real_commit = export_module._commit
    monkeypatch.setattr(export_module, "_commit", power_cut)
    with pytest.raises(KeyboardInterrupt):
        export_module.export_source(load_settings(), "naseal")
    sealed = [p.parent for p in (home / "packages").glob("*/bag")]
    assert len(sealed) == 1
    monkeypatch.setattr(export_module, "_commit", real_commit)
    rerun = export_module.export_source(load_settings(), "naseal")
    assert rerun.package is None and rerun.events == 0  # recovered, nothing new
    assert_exactly_once(world, [room], sealed)
    assert len(list((home / "packages").glob("*/bag"))) == 1


class _Answers:
    """A loopback HTTP server: 'garbage' answers HTML to everything; 'proxy' forwards to
    Synapse but breaks one event in /messages answers (a malformed event). With
    ``hold_from_page`` set, the proxy holds that /messages page and the ones after it until
    ``release`` is set, and sets ``holding`` (so a test knows an export is mid-pagination)."""

    def __init__(self, mode: str, upstream: str = "") -> None:
        import http.server
        import threading

        import httpx

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body_in = self.rfile.read(length) if length else None
                if mode == "garbage":
                    status, ctype, body = 200, "text/html", b"<html><body>Proxy error</body></html>"
                else:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() in ("authorization", "content-type")}
                    r = httpx.request(self.command, upstream + self.path, content=body_in,
                                      headers=headers, timeout=60)
                    status, ctype, body = (r.status_code, r.headers.get("content-type", ""),
                                           r.content)
                    if "/messages" in self.path and status == 200:
                        page = json.loads(body)
                        for ev in page.get("chunk", []):
                            if ev.get("content", {}).get("body") == outer.break_body:
                                del ev["sender"]  # a malformed event
                        if outer.break_body and page.get("chunk") and "dir=b" in self.path \
                                and "from=" not in self.path:
                            page["chunk"].insert(0, 42)
                        body = json.dumps(page).encode()
                        outer.pages += 1
                        if outer.hold_from_page is not None and outer.pages > outer.hold_from_page:
                            outer.holding.set()
                            outer.release.wait(60)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

        self.break_body = ""
        self.pages = 0
        self.hold_from_page: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def assert_nothing_sealed(home: Path) -> None:
    packages = home / "packages"
    assert not packages.exists() or not [p for p in packages.iterdir()
                                         if not p.name.startswith(".")]


def test_bad_input_is_a_clear_error(bewaar: Bewaar, world: World, home: Path,
                                    tmp_path: Path) -> None:
    setup_home(bewaar, tmp_path)
    room = world.rooms["Overleg 0"]
    env = {"ARCHIEF_PW": "wrong-" + ALICE_PW}
    add_source(bewaar, world, "fout", "--password-env", "ARCHIEF_PW", "--room", room)
    res = bewaar("chat", "export", "fout", env=env, check=False)
    assert res.returncode == 2 and "refused the login" in res.stderr
    assert ALICE_PW not in res.stderr + res.stdout and "Traceback" not in res.stderr

    add_source(bewaar, world, "onbekend", "--token-env", "T", "--room", "!bestaatniet:localhost")
    res = bewaar("chat", "export", "onbekend", env={"T": world.alice_token}, check=False)
    assert res.returncode == 2 and "!bestaatniet:localhost is unknown" in res.stderr
    assert world.alice_token not in res.stderr

    # The same checks behind the command, in-process: a token the server does not know, none.
    from archive.settings import load_settings
    from chat_archiver import ChatAuthError, export_source
    from chat_archiver.credentials import SecretError

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("T", "syt_not_a_token")
        with pytest.raises(ChatAuthError, match="refused the access token"):
            export_source(load_settings(), "onbekend")
        mp.delenv("T")
        with pytest.raises(SecretError, match="T is not set"):
            export_source(load_settings(), "onbekend")

    from tests.synapse import free_port

    bewaar("chat", "add", "matrix", "weg", "--homeserver", f"http://127.0.0.1:{free_port()}",
           "--user", "@alice:localhost", "--category", "1.1", "--password-env", "ARCHIEF_PW",
           "--all-joined")
    res = bewaar("chat", "export", "weg", env={"ARCHIEF_PW": ALICE_PW}, check=False)
    assert res.returncode == 2 and "cannot reach the homeserver" in res.stderr

    garbage = _Answers("garbage")
    try:
        bewaar("chat", "add", "matrix", "rommel", "--homeserver", garbage.url,
               "--user", "@alice:localhost", "--category", "1.1", "--token-env", "T",
               "--all-joined")
        res = bewaar("chat", "export", "rommel", env={"T": world.alice_token}, check=False)
        assert res.returncode == 2 and "no valid answer" in res.stderr, res.stderr
    finally:
        garbage.close()
    assert_nothing_sealed(bewaar.home)

    loose = tmp_path / "open.secret"
    loose.write_text(ALICE_PW)
    loose.chmod(0o644)
    res = bewaar("chat", "add", "matrix", "los", "--homeserver", world.server.url, "--user",
                 "@alice:localhost", "--category", "1.1", "--secret-file", str(loose),
                 "--all-joined", check=False)
    assert res.returncode == 2 and "chmod 600" in res.stderr
    res = bewaar("chat", "export", "bestaatniet", check=False)
    assert res.returncode == 2 and "no chat source named" in res.stderr
    for f in bewaar.home.glob("bewaar.sqlite3*"):
        assert ALICE_PW.encode() not in f.read_bytes()


def test_malformed_event_is_kept_raw_and_listed(bewaar: Bewaar, world: World,
                                                tmp_path: Path) -> None:
    setup_home(bewaar, tmp_path)
    room = world.rooms["Overleg 2"]
    proxy = _Answers("proxy", world.server.url)
    proxy.break_body = "r2 bericht 7: stand van zaken <b>7</b> & meer"
    try:
        bewaar("chat", "add", "matrix", "kapot", "--homeserver", proxy.url, "--user",
               "@alice:localhost", "--category", "1.1", "--token-env", "T", "--room", room)
        first = bewaar("chat", "export", "kapot", "--json", env={"T": world.alice_token}).json()
        again = bewaar("chat", "export", "kapot", "--json", env={"T": world.alice_token}).json()
    finally:
        proxy.close()
    assert again["package"] is None
    pkg = Path(first["package"])
    check_package(bewaar, pkg)
    evidence = json.loads((pkg / "bag/data/evidence.json").read_text())
    bad = evidence["rooms"][0]["malformed"]
    assert sorted(b["problem"] for b in bad) == ["missing or mistyped sender",
                                                 "not a JSON object but int"]
    lines = next((pkg / "bag/data/rooms").glob("*/events.jsonl")).read_bytes().splitlines()
    assert b"42" in lines and first["events"] == len(world.oracle(room)) + 1
    assert any(proxy.break_body.encode() in ln and b'"sender"' not in ln for ln in lines)
