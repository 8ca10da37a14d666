"""The replay QA report: one HTML file a records manager opens in a browser.

Rendered from ``replay/templates/qa-report.html.j2`` with Jinja2 autoescaping: every URL,
status and message from a crawled site is escaped, whatever it holds.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from archive.files import write_atomic

if TYPE_CHECKING:
    from jinja2 import Template

    from replay.qa import QAResult

TEMPLATE = "qa-report.html.j2"


@cache
def _template() -> Template:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("replay", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE)


def render_report(qa: QAResult, started: datetime) -> str:
    from replay.qa import plural

    failed_first = sorted(qa.pages, key=lambda p: (p.ok, p.url))
    return _template().render(qa=qa, pages=failed_first, started=started, plural=plural)


def write_report(qa: QAResult, started: datetime) -> None:
    write_atomic(qa.report_path, render_report(qa, started).encode("utf-8"))
