"""What the commands print can be copied into the next command: ids and paths come out whole,
piped (rich then assumes 80 columns) and in a narrow terminal, and times are labelled local
time."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from bewaar.cli.tables import table
from tests.conftest import Bewaar
from tests.test_package import SELECTIELIJST
from tests.test_package_cli import make_run

NARROW = {"COLUMNS": "40"}


def _lines_with(text: str, out: str) -> list[str]:
    return [line for line in out.splitlines() if text in line]


@pytest.fixture
def sealed_twice(bewaar: Bewaar, home: Path) -> dict[str, object]:
    """Two finished runs of a site, each sealed; the second package points at the first."""
    first, second = make_run(home), make_run(home)
    (home / "sl.toml").write_text(SELECTIELIJST)
    bewaar("selectielijst", "load", str(home / "sl.toml"))
    bewaar("keys", "init")
    one = bewaar("seal", str(first), "--json").json()
    two = bewaar("seal", str(second), "--json").json()
    assert two["previous_id"] == one["id"]
    return {"runs": [first, second], "packages": [one, two]}


@pytest.mark.parametrize("env", [NARROW, {}], ids=["COLUMNS=40", "piped"])
def test_ids_and_paths_are_printed_whole(bewaar: Bewaar, sealed_twice: dict, env: dict) -> None:
    bewaar.env.pop("COLUMNS", None)  # piped: rich's 80 columns, unless the test sets a width
    one, two = sealed_twice["packages"]
    first, second = sealed_twice["runs"]

    listed = bewaar("package", "list", env=env).stdout
    assert len(_lines_with(one["id"], listed)) == 2  # its own row, and the next one's previous
    assert len(_lines_with(two["id"], listed)) == 1
    assert _lines_with("justid", listed)

    shown = bewaar("run", "show", str(second), env=env).stdout
    warcs = bewaar("run", "show", str(second), "--json").json()["warc_files"]
    assert len(warcs) == 2 and all(len(w["path"]) > 80 for w in warcs)
    for warc in warcs:
        assert _lines_with(warc["path"], shown), shown

    runs = bewaar("runs", env=env).stdout
    for run in (first, second):
        assert re.search(rf"[│|]\s+{run}\s+[│|]\s+justid\s+[│|]", runs), runs

    # a package sealed again (--again) prints its id and path on lines of their own
    again = bewaar("seal", str(second), "--again", env=env).stdout
    latest = bewaar("package", "list", "--json").json()[-1]
    assert _lines_with(latest["id"], again) and _lines_with(latest["path"], again), again


def test_times_are_local_and_labelled(bewaar: Bewaar, sealed_twice: dict) -> None:
    """The runs began 2025-05-01 09:00 UTC: 11:00 summer time in Amsterdam, no microseconds."""
    runs = bewaar("runs", env=NARROW).stdout
    assert len(_lines_with("01-05-2025 11:00:00 CEST", runs)) == 2, runs
    assert "09:00:00" not in runs and not re.search(r"\d\d:\d\d:\d\d\.\d", runs)


def test_table_folds_other_columns_first() -> None:
    """At 40 columns the id and the path stay on one line each; the long text column folds."""
    out = io.StringIO()
    console = Console(file=out, width=40, soft_wrap=True)
    pid, path = "pkg-20261201-0001-abcdef0123456789", "/srv/bewaar/packages/" + "x" * 60 + ".tar"
    t = table("id", "note", "path", whole=("id", "path"))
    t.add_row(pid, "een toelichting die lang genoeg is om te vouwen", path)
    console.print(t)
    text = out.getvalue()
    assert len(_lines_with(pid, text)) == 1 and len(_lines_with(path, text)) == 1
    assert "een" in text and "vouwen" in text and not _lines_with("een toelichting die lang", text)


def test_table_refuses_an_unknown_whole_column() -> None:
    with pytest.raises(ValueError, match="pad"):
        table("id", "path", whole=("pad",))
