"""Browser QA: the live page and its replay side by side in headless Chromium.

Debian's chromium (``/usr/bin/chromium``), driven by playwright with that executable; nothing is
downloaded. Per page: a screenshot and the visible text of the live page and of its replay
(pywb's ``mp_`` mode, as a visitor sees it), the similarity of the two texts, and every
requisite the browser asked the replay for that the archive does not hold, JavaScript-loaded
ones included. The replay is sealed off: requests that would leave the replay server are
refused, so nothing live can hide a gap.

On the live page it also notes what the browser saw that the crawl did not capture (nor skip on
purpose): the requests the page made (scripts' images, fetches) and the links in its DOM once
scripts have run (on the site's own hosts). Those go into the page's ``missing`` list, so the
page fails the check and a patch crawl fetches them.
"""

from __future__ import annotations

import difflib
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from archive.errors import BewaarError

if TYPE_CHECKING:
    from replay.qa import PageResult

log = logging.getLogger(__name__)
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
        "--no-first-run", "--disable-sync"]
MAX_PAGES = 50
TIMEOUT_MS = 30_000
MAX_LIVE_GAPS = 200  # per page: a page that makes endless unique requests is not a list
DOM_LINKS = "Array.from(document.querySelectorAll('a[href], area[href]'), a => a.href)"


class BrowserQAError(BewaarError):
    """Browser QA cannot run (no chromium, playwright missing)."""


def chromium_path() -> Path | None:
    found = shutil.which("chromium")
    if CHROMIUM.exists():
        return CHROMIUM
    return Path(found) if found else None


def text_similarity(a: str, b: str) -> float:
    wa, wb = a.split(), b.split()
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def same_url(url: str) -> str:
    """A URL as compared with the crawl's: no fragment, case-folded host, %-escapes undone."""
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), unquote(p.path) or "/",
                       unquote(p.query), ""))


def live_gaps(page_url: str, requests: list[str], links: list[str], known: set[str],
              hosts: set[str]) -> tuple[list[str], list[str]]:
    """What the live page requested and linked to (on ``hosts``) that ``known`` lacks."""
    have = {same_url(u) for u in known} | {same_url(page_url)}
    out: tuple[list[str], list[str]] = ([], [])
    seen: set[str] = set()
    for urls, target, only_hosts in ((requests, out[0], False), (links, out[1], True)):
        for url in urls:
            p = urlsplit(url)
            if p.scheme not in ("http", "https"):
                continue
            if only_hosts and (p.hostname or "") not in hosts:
                continue
            key = same_url(url)
            if key in have or key in seen or len(target) >= MAX_LIVE_GAPS:
                continue
            seen.add(key)
            target.append(urlunsplit(p._replace(fragment="")))
    return out


def browser_check(results: list[PageResult], *, replay: tuple[str, int], coll: str,
                  shots_dir: Path, max_pages: int = MAX_PAGES,
                  known: set[str] | None = None) -> None:
    """Fill ``similarity`` and ``browser`` of up to ``max_pages`` results (in place).

    ``known``: the URLs the crawl captured or skipped on purpose; what the live page requested
    or linked to beyond them is added to the page's ``missing``.
    """
    exe = chromium_path()
    if exe is None:
        raise BrowserQAError("browser QA needs chromium (apt install chromium)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserQAError("browser QA needs the playwright package") from None
    host, port = replay
    base = f"http://{host}:{port}"
    archived = re.compile(rf"^{re.escape(base)}/{re.escape(coll)}/\d+[a-z]{{0,2}}_?/(.+)$")
    shots_dir.mkdir(parents=True, exist_ok=True)
    hosts = {urlsplit(r.url).hostname or "" for r in results}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(exe), args=ARGS, headless=True)
        try:
            for n, result in enumerate(r for r in results if r.status == 200):
                if n >= max_pages:
                    break
                info: dict[str, Any] = {"missing": []}
                ts = result.replay_url.split(f"/{coll}/", 1)[1].split("/", 1)[0]
                for side, url in (("live", result.url), ("replay", f"{base}/{coll}/{ts}mp_/"
                                                                   f"{result.url}")):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 900},
                                              service_workers="block")
                    page = ctx.new_page()
                    gaps: list[str] = []
                    asked: list[str] = []
                    links: list[str] = []
                    if side == "live":
                        def ask(req: Any, asked: list[str] = asked) -> None:
                            asked.append(req.url)

                        page.on("request", ask)
                    else:
                        ctx.route(re.compile(r".*"), lambda route: route.continue_()
                                  if route.request.url.startswith(base) else route.abort())

                        def seen(resp: Any, gaps: list[str] = gaps) -> None:
                            m = archived.match(resp.url)
                            if m and resp.status == 404 and "memento-datetime" not in \
                                    {k.lower() for k in resp.headers}:
                                gaps.append(m.group(1))

                        page.on("response", seen)
                    try:
                        page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
                        page.wait_for_timeout(200)
                        if side == "live":
                            links = list(page.evaluate(DOM_LINKS))
                        shot = shots_dir / f"{n:04d}-{side}.png"
                        page.screenshot(path=str(shot), full_page=False)
                        info[f"{side}_screenshot"] = f"{shots_dir.name}/{shot.name}"
                        # pywb shows the capture in a frame under its banner: read that frame.
                        content: Any = page
                        for frame in page.frames:
                            if f"{ts}mp_/" in frame.url:
                                content = frame
                        info[f"{side}_text"] = content.inner_text("body", timeout=TIMEOUT_MS)
                    except PlaywrightError as exc:
                        info[f"{side}_error"] = str(exc).splitlines()[0]
                        info.setdefault(f"{side}_text", "")
                    finally:
                        ctx.close()
                    info["missing"] += [g for g in gaps if g not in info["missing"]]
                    if side == "live" and known is not None:
                        info["live_requests"], info["live_links"] = live_gaps(
                            result.url, asked, links, known, hosts)
                        info["missing"] += [u for u in info["live_requests"] + info["live_links"]
                                            if u not in info["missing"]]
                live_text, replay_text = info.pop("live_text", ""), info.pop("replay_text", "")
                result.similarity = round(text_similarity(live_text, replay_text), 4)
                info["text_similarity"] = result.similarity
                for url in info["missing"]:
                    if url not in result.missing and url != result.url:
                        result.missing.append(url)
                result.browser = info
        finally:
            browser.close()
