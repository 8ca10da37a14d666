"""Tables for the command line whose ids and paths are printed whole.

rich fits a table to the console, 80 columns when the output is piped, by wrapping and then
cutting every column. An id or a path cut in two cannot be copied into the next command, so
``table(..., whole=("id", "path"))`` marks those columns: they never wrap and each is as wide as
its longest value. The other columns fold first, down to ``FOLDED_WIDTH`` cells (or their widest
value, if less); when even that does not fit, the table is drawn wider than the console (the
consoles do not crop: ``bewaar.cli.common``).

Example::

    t = table("id", "source", "files", whole=("id",))
    t.add_row(package.id, package.source, str(package.files))
    console.print(t)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.errors import MarkupError
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

FOLDED_WIDTH = 10
_UNBOUNDED = 10_000


class WholeColumnsTable(Table):
    """A ``rich.table.Table`` whose no-wrap columns are as wide as their longest value; the
    others fold, down to ``FOLDED_WIDTH``."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        super().add_row(*renderables, **kwargs)
        for column, cell in zip(self.columns, renderables, strict=False):
            if not isinstance(cell, str | Text):
                continue
            width = _width(cell)
            if not column.no_wrap:
                width = min(max(width, _width(column.header)), FOLDED_WIDTH)
            column.min_width = max(column.min_width or 0, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # rich narrows every column to fit the console, a no-wrap one too and down to nothing;
        # so when the columns at their minimum widths do not fit, draw the table that wide.
        needed = Measurement.get(console, options.update_width(_UNBOUNDED), self)
        yield from super().__rich_console__(
            console, options.update_width(max(options.max_width, needed.minimum)))


def _width(cell: RenderableType) -> int:
    if not isinstance(cell, str | Text):
        return 0
    return max((cell_len(line) for line in _as_text(cell).plain.splitlines()), default=0)


def _as_text(cell: str | Text) -> Text:
    """The cell as rich shows it (a string cell is console markup)."""
    if isinstance(cell, Text):
        return cell
    try:
        return Text.from_markup(cell)
    except MarkupError:
        return Text(cell)


def table(*columns: str, whole: Iterable[str] = (), **kwargs: Any) -> Table:
    """A table with these column headers; the ``whole`` ones (ids, paths, names a user types
    into the next command) are never wrapped or cut. ``kwargs`` go to ``rich.table.Table``."""
    keep = set(whole)
    unknown = keep - set(columns)
    if unknown:
        raise ValueError(f"not a column of this table: {', '.join(sorted(unknown))}")
    t = WholeColumnsTable(**kwargs)
    for header in columns:
        t.add_column(header, no_wrap=header in keep, overflow="fold")
    return t
