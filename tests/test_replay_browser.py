"""Browser QA: live page and replay side by side in Debian's headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.browser import chromium_path
from tests.conftest import Bewaar
from tests.sites.normal import NormalSite
from tests.wayback import crawl, quiet_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (/usr/bin/chromium)"),
]


class ScriptedSite(NormalSite):
    """The generated site, whose script loads one more image that no HTML or CSS names."""

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        if path == "/static/app.js":
            return 200, "application/javascript", b"new Image().src = '/img/js-only.png';\n"
        return super().render(path, host)


def test_browser_qa_compares_live_and_replay_and_finds_script_requisites(
    bewaar: Bewaar, home: Path
) -> None:
    bewaar.env.update(quiet_env())
    with ScriptedSite(pages=2) as site:
        crawl(bewaar, site.url)
        from archive.settings import load_settings
        from replay import check_run

        static = check_run(load_settings(), 1)
        assert static.ok  # HTML and CSS alone cannot see the script's image

        res = bewaar("replay", "check", "1", "--json", "--browser",
                      "--browser-pages", "2", check=False, timeout=600)
        assert res.returncode == 1, res.stderr
        qa = res.json()
    js_only = f"{site.url}img/js-only.png"
    home_page = next(p for p in qa["pages"] if p["url"] == site.url)
    assert js_only in home_page["missing"] and home_page["ok"] is False
    assert home_page["similarity"] is not None and home_page["similarity"] > 0.9
    shots = sorted((home / "runs" / "1" / "qa-shots").glob("*.png"))
    assert len(shots) == 4 and all(s.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for s in shots)
    report = (home / "runs" / "1" / "qa-report.html").read_text()
    assert "qa-shots/" in report and "js-only.png" in report
