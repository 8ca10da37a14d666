"""A records manager registers a WhatsApp source and imports the exports an official made, from
the command line: a sealed package the first time, nothing new the second time, a refused file
named, and every step in the audit log."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "chat_exports"
ROOT = Path(__file__).resolve().parents[1]
BAGIT = str(Path(sys.executable).with_name("bagit.py"))


def test_import_whatsapp_exports_from_the_command_line(bewaar: Any, tmp_path: Path) -> None:
    missing = bewaar("chat", "add", "whatsapp", "minister", "--category", "CHAT-1",
                     check=False)
    assert missing.returncode == 2 and "selectielijst load" in missing.stderr
    bewaar("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
    bewaar("keys", "init")
    badzone = bewaar("chat", "add", "whatsapp", "minister", "--category", "CHAT-1",
                     "--timezone", "Europe/Amsterdma", check=False)
    assert badzone.returncode == 2 and "time zone" in badzone.stderr
    source = bewaar("chat", "add", "whatsapp", "minister", "--category", "CHAT-1",
                    "--locale", "nl", "--owner", "minister", "--json").json()
    assert source["kind"] == "whatsapp" and source["timezone"] == "Europe/Amsterdam"

    first = FIXTURES / "whatsapp_android_nl.txt"
    out = bewaar("chat", "import", "minister", str(first), "--json").json()
    assert out["package"] and out["messages"] > 0 and out["duplicates"] == 0
    package = Path(out["package"])
    check = subprocess.run([sys.executable, BAGIT, "--validate", str(package / "bag")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    data = package / "bag" / "data"
    originals = [p for p in (data / "original").rglob("*") if p.is_file()
                 and not p.name.endswith(".mdto.xml")]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in originals] == [
        hashlib.sha256(first.read_bytes()).hexdigest()]
    with (data / "messages.csv").open(newline="", encoding="utf-8") as fh:
        assert len([r for r in csv.DictReader(fh) if r["type"] != "system"]) >= 1

    again = bewaar("chat", "import", "minister", str(first), "--json").json()
    assert again["package"] is None and again["messages"] == 0 and again["duplicates"] > 0

    junk = tmp_path / "export.zip"
    junk.write_bytes(b"PK\x03\x04 this is no zip at all")
    refused = bewaar("chat", "import", "minister", str(junk), check=False)
    assert refused.returncode == 2 and "export.zip" in refused.stderr
    assert "is not a complete zip file" in " ".join(refused.stderr.split())  # English

    log = bewaar("audit", "--json", "--action", "chat.").json()
    seen = [(r["action"], r["outcome"]) for r in log]
    assert ("chat.add", "ok") in seen and ("chat.add", "failed") in seen
    assert seen.count(("chat.import", "ok")) == 2 and ("chat.import", "failed") in seen
    assert bewaar("chat", "list", "--json").json()[0]["name"] == "minister"
