"""Every setting is real, listed and checked: `bewaar settings`, bad settings stop every command
in one line (exit 2), and the settings that did nothing now do what they say."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

# Commands of every kind: some open the database, `verify` of a single folder never loads the
# settings by itself, `settings` only lists them.
COMMANDS = [("site", "list"), ("runs",), ("settings", "--json"), ("verify", "{tmp}")]


def _args(cmd: tuple[str, ...], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in cmd]


def assert_one_line_error(res, *names: str) -> None:  # type: ignore[no-untyped-def]
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for name in names:
        assert name in lines[0], res.stderr


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c[0])
def test_misspelt_variable_stops_every_command(bewaar, tmp_path: Path, cmd) -> None:  # type: ignore[no-untyped-def]
    res = bewaar(*_args(cmd, tmp_path), check=False, env={"BEWAAR_CONCURENCY": "4"})
    assert_one_line_error(res, "BEWAAR_CONCURENCY", "BEWAAR_CONCURRENCY")  # and the near match


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c[0])
def test_toml_syntax_error_names_file_and_line(bewaar, tmp_path: Path, cmd) -> None:  # type: ignore[no-untyped-def]
    bewaar.home.mkdir(parents=True)
    toml = bewaar.home / "bewaar.toml"
    toml.write_text('operator = "Team Web"\nconcurrency = \n')
    res = bewaar(*_args(cmd, tmp_path), check=False)
    assert_one_line_error(res, str(toml), "line 2")


def test_bad_file_key_and_value_name_the_file(bewaar) -> None:  # type: ignore[no-untyped-def]
    bewaar.home.mkdir(parents=True)
    toml = bewaar.home / "bewaar.toml"
    toml.write_text("concurency = 4\n")
    assert_one_line_error(bewaar("runs", check=False), str(toml), "'concurency'", "concurrency")
    toml.write_text('concurrency = "veel"\n')
    assert_one_line_error(bewaar("runs", check=False), str(toml), "concurrency")
    toml.write_text("concurrency = 4\n")
    res = bewaar("runs", check=False, env={"BEWAAR_CONCURRENCY": "0"})
    assert_one_line_error(res, "BEWAAR_CONCURRENCY", "environment")


@pytest.mark.parametrize("where", ["/proc/self", "a file", "below a file"])
def test_unusable_home_is_a_clear_error(bewaar, tmp_path: Path, where: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "f").write_text("x")
    home = {"/proc/self": "/proc/self", "a file": str(tmp_path / "f"),
            "below a file": str(tmp_path / "f" / "home")}[where]
    for cmd in (("runs",), ("site", "list")):
        res = bewaar(*cmd, check=False, env={"BEWAAR_HOME": home})
        assert_one_line_error(res, home)


def test_settings_lists_every_setting_with_its_source(bewaar) -> None:  # type: ignore[no-untyped-def]
    from archive.settings import Settings

    bewaar.home.mkdir(parents=True)
    (bewaar.home / "bewaar.toml").write_text('operator = "Team Web"\nconcurrency = 4\n')
    env = {"BEWAAR_CONCURRENCY": "6", "BEWAAR_DATABASE_URL": "postgresql://arch:Geheim99@db/b",
           "BEWAAR_SEAL_KEY_PASSWORD_ENV": "BEWAAR_SEAL_PW", "BEWAAR_SEAL_PW": "Zegel-Geheim"}
    res = bewaar("settings", "--json", env=env)
    assert "Geheim99" not in res.stdout and "Zegel-Geheim" not in res.stdout  # no secret shown
    out = res.json()
    assert out["file"] == str(bewaar.home / "bewaar.toml") and out["file_exists"] is True
    rows = {r["name"]: r for r in out["settings"]}
    assert set(rows) == set(Settings.model_fields)
    for r in rows.values():
        assert r["env"] == "BEWAAR_" + r["name"].upper() and r["description"], r
    assert rows["concurrency"] | {"description": ""} == {
        "name": "concurrency", "env": "BEWAAR_CONCURRENCY", "value": 6, "default": 16,
        "source": "environment", "description": ""}
    assert (rows["operator"]["value"], rows["operator"]["source"]) == ("Team Web", "bewaar.toml")
    assert (rows["warc_max_size"]["value"], rows["warc_max_size"]["source"]) == (
        rows["warc_max_size"]["default"], "default")
    assert rows["database_url"]["value"] == "postgresql://arch:***@db/b"
    assert rows["seal_key_password_env"]["value"] == "BEWAAR_SEAL_PW"  # a name, never the value
    # no real organisation by default: packages must not name a ministry nobody configured
    bewaar.env.pop("BEWAAR_ORGANISATION", None)
    bewaar.env.pop("BEWAAR_ORGANISATION_ID", None)
    rows = {r["name"]: r for r in bewaar("settings", "--json").json()["settings"]}
    assert rows["organisation"]["value"] is None and rows["organisation_id"]["value"] is None
    text = bewaar("settings").stdout
    for name in Settings.model_fields:
        assert f"{name} = " in text and f"BEWAAR_{name.upper()}" in text


def test_storage_url_schemes(bewaar) -> None:  # type: ignore[no-untyped-def]
    """s3://BUCKET/PREFIX is taken (the bucket itself is checked by the commands that store,
    tests/test_s3_archive.py); a malformed bucket or an unknown scheme is refused."""
    rows = {r["name"]: r for r in bewaar("settings", "--json", env={
        "BEWAAR_STORAGE_URL": "s3://archief/warcs"}).json()["settings"]}
    assert rows["storage_url"]["value"] == "s3://archief/warcs"
    res = bewaar("runs", check=False, env={"BEWAAR_STORAGE_URL": "s3://Archief_X/warcs"})
    assert_one_line_error(res, "BEWAAR_STORAGE_URL", "names a bucket")
    res = bewaar("runs", check=False, env={"BEWAAR_STORAGE_URL": "ftp://host/warcs"})
    assert_one_line_error(res, "BEWAAR_STORAGE_URL", "unknown storage URL scheme")


class _Site(BaseHTTPRequestHandler):
    """A home page that links to /bezet, which always answers 503."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/":
            body, status = b'<html><body><a href="/bezet">bezet</a></body></html>', 200
        elif self.path == "/bezet":
            body, status = b"even geduld", 503
        else:
            body, status = b"nope", 404
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def busy_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_crawl_settings_take_effect(bewaar, busy_site: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """storage_url places the WARCs and packages, retry_times counts the retries, log_level
    reaches the crawl worker's log."""
    store = tmp_path / "opslag"
    env = {"BEWAAR_STORAGE_URL": store.as_uri(), "BEWAAR_RETRY_TIMES": "1",
           "BEWAAR_LOG_LEVEL": "DEBUG", "BEWAAR_QA_AFTER_CRAWL": "false",
           "BEWAAR_SEAL_AFTER_CRAWL": "false"}
    out = bewaar("crawl", busy_site, "--json", env=env, check=False)
    assert out.returncode in (0, 1), out.stderr
    run = out.json()
    warcs = [Path(w) for w in run["warc_files"]]
    assert warcs and all(store / "warcs" in w.parents for w in warcs)
    assert not (bewaar.home / "warcs").exists() or not list((bewaar.home / "warcs").rglob("*.warc.gz"))
    statuses = []
    for w in warcs:
        with open(w, "rb") as fh:
            statuses += [r.http_headers.get_statuscode() for r in ArchiveIterator(fh)
                         if r.rec_type in ("response", "revisit")  # a retry's same body: revisit
                         and r.rec_headers.get_header("WARC-Target-URI") == busy_site + "bezet"]
    assert statuses == ["503", "503"]  # the first answer and exactly one retry (default: two)
    scrapy_log = bewaar.home / "runs" / str(run["run_id"]) / "scrapy.log"
    assert " DEBUG: " in scrapy_log.read_text()
    # the sealed package goes to the storage folder too, and bagit agrees it is whole
    sealed = bewaar("seal", str(run["run_id"]), "--json", env=env).json()
    package = Path(sealed["package"])
    assert store / "packages" in package.parents
    bagit = Path(sys.executable).with_name("bagit.py")
    res = subprocess.run([sys.executable, str(bagit), "--validate", str(package / "bag")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_log_level_reaches_the_command_line(bewaar) -> None:  # type: ignore[no-untyped-def]
    quiet = bewaar("site", "list")
    assert "INFO" not in quiet.stderr
    for f in bewaar.home.glob("bewaar.sqlite3*"):  # a fresh database: its migrations run
        f.unlink()
    loud = bewaar("site", "list", env={"BEWAAR_LOG_LEVEL": "INFO"})
    assert "INFO alembic" in loud.stderr  # the schema migrations, logged at INFO


def test_demo_names_a_fictitious_organisation(bewaar) -> None:  # type: ignore[no-untyped-def]
    bewaar.env.pop("BEWAAR_ORGANISATION", None)
    bewaar.env.pop("BEWAAR_ORGANISATION_ID", None)
    out = bewaar("demo", "--json").json()
    package = Path(out["after"]["seal"]["path"])
    info = (package / "bag" / "bag-info.txt").read_text(encoding="utf-8")
    org = next(ln.partition(":")[2].strip() for ln in info.splitlines()
               if ln.startswith("Source-Organization:"))
    assert "fictief" in org
    assert "Justitie" not in info
    for w in out["crawl"]["warc_files"]:
        with open(w, "rb") as fh:
            warcinfo = next(r for r in ArchiveIterator(fh) if r.rec_type == "warcinfo")
            assert "fictief" in warcinfo.content_stream().read().decode()
    # only the demo: the home itself still has no organisation
    rows = {r["name"]: r for r in bewaar("settings", "--json").json()["settings"]}
    assert rows["organisation"]["value"] is None
    assert json.loads(bewaar("settings", "--json").stdout)["file_exists"] is False
