"""The README's main job: `bewaar demo` archives the bundled site end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


def test_demo_archives_replays_and_seals(bewaar) -> None:  # type: ignore[no-untyped-def]
    out = bewaar("demo", "--json").json()
    crawl = out["crawl"]
    assert crawl["status"] == "finished" and crawl["errors"] == 0
    assert crawl["pages"] >= 30  # home, news, topics, contact … found by links and the sitemap
    urls = set()
    for warc in crawl["warc_files"]:
        with open(warc, "rb") as fh:
            urls |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                     if r.rec_type == "response"}
    assert any(u.endswith("/css/print.css") for u in urls)  # @import in the stylesheet
    assert any(u.endswith("/fonts/rosans.woff2") for u in urls)  # @font-face
    assert any(u.endswith("/img/logo@2x.png") for u in urls)  # srcset
    assert any(u.endswith(".pdf") for u in urls)
    assert out["after"]["qa"]["passed"] is True and out["after"]["qa"]["failed"] == 0
    package = Path(out["after"]["seal"]["path"])
    assert out["verify"]["valid"] is True
    # and an auditor's standard tool agrees
    bagit = Path(sys.executable).with_name("bagit.py")
    res = subprocess.run([sys.executable, str(bagit), "--validate", str(package / "bag")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
