"""The replay QA report: one HTML file a records manager opens in a browser."""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from archive.files import write_atomic

if TYPE_CHECKING:
    from replay.qa import PageResult, QAResult

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3em .5em;
vertical-align:top;text-align:left;font-size:.9em}th{background:#eee}
.ok{color:#176317}.bad{color:#a11}ul{margin:0;padding-left:1.2em}
.sum{font-size:1.1em;margin-bottom:1em}img.shot{width:160px;border:1px solid #ccc;margin:2px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _list(items: list[str]) -> str:
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _row(p: PageResult) -> str:
    cls = "ok" if p.ok else "bad"
    by_browser = set(p.browser.get("missing", [])) if p.browser else set()
    missing = [f'<a href="{_e(u)}">{_e(u)}</a>' + (" (browser)" if u in by_browser else "")
               for u in p.missing]
    errors = [f"{_e(e['url'])} ({_e(e['status'])})" for e in p.errors]
    diffs = [f"{_e(d['url'])}: crawl {_e(d['crawl'])}, replay {_e(d['replay'])}"
             for d in p.status_diffs]
    sim = "" if p.similarity is None else f"{p.similarity:.2f}"
    shots = ""
    if p.browser:
        for key in ("live_screenshot", "replay_screenshot"):
            if p.browser.get(key):
                shots += f'<img class="shot" alt="{key}" src="{_e(p.browser[key])}">'
    return (
        f'<tr class="{cls}"><td><a href="{_e(p.replay_url)}">{_e(p.url)}</a></td>'
        f"<td>{_e(p.crawl_status)}</td><td>{_e(p.status)}</td><td>{p.requisites}</td>"
        f"<td>{_list(missing)}</td><td>{_list(errors)}</td><td>{_list(diffs)}</td>"
        f"<td>{sim}<br>{shots}</td><td class='{cls}'>{'ok' if p.ok else 'FAILED'}</td></tr>"
    )


def render_report(qa: QAResult, started: datetime) -> str:
    failed_first = sorted(qa.pages, key=lambda p: (p.ok, p.url))
    verdict = "every page replays with all its requisites" if qa.ok else \
        f"{qa.failed} of {len(qa.pages)} pages do not replay completely"
    rows = "\n".join(_row(p) for p in failed_first)
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8">
<title>Replay check of run {qa.run_id} ({_e(qa.collection)})</title><style>{STYLE}</style></head>
<body>
<h1>Replay check of run {qa.run_id} — {_e(qa.collection)}</h1>
<p class="sum {'ok' if qa.ok else 'bad'}"><strong>{'PASSED' if qa.ok else 'FAILED'}</strong>:
{_e(verdict)}.</p>
<p>Checked {started:%Y-%m-%d %H:%M:%S} UTC; {len(qa.pages)} pages, {qa.requests} replay requests,
{qa.seconds:.1f} s. Check id {qa.check_id}. Page links open the replay
(start it with <code>bewaar replay serve</code>).</p>
<table><thead><tr><th>page</th><th>crawl status</th><th>replay status</th><th>requisites</th>
<th>missing from the archive</th><th>captured only as errors</th><th>status differences</th>
<th>browser similarity</th><th>result</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def write_report(qa: QAResult, started: datetime) -> None:
    path = qa.report_path
    write_atomic(path, render_report(qa, started).encode("utf-8"))
