"""Selectielijst basics: categories with waardering, bewaartermijn and trigger.

A selectielijst file is TOML or JSON::

    name = "Selectielijst Ministerie van Voorbeeldzaken 2024"
    [[categorie]]
    code = "1.1"
    naam = "Websites over beleid"
    waardering = "B"          # B (blijvend), V (vernietigen na termijn)
    bewaartermijn = "P10Y"    # ISO 8601 duration; optional for B
    trigger = "Vastlegging website"  # event that starts the term, as the list names it;
                                     # needed with a bewaartermijn

``bewaar selectielijst load FILE`` stores it in the database; ``settings.selectielijst`` may also
name a file that is read directly.
"""

from __future__ import annotations

import calendar
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError, SettingsError
from archive.models.package import SelectielijstCategory
from archive.settings import Settings

# MDTO begrippenlijst Waarderingen (closed): code -> label.
WAARDERING_LABELS = {
    "B": "Blijvend te bewaren",
    "V": "Tijdelijk te bewaren",
    "N": "Nader te bepalen",
}
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


class SelectielijstError(BewaarError):
    """A selectielijst file or category that cannot be used."""


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    waardering: str
    bewaartermijn: str | None
    trigger: str
    list_name: str

    @property
    def waardering_label(self) -> str:
        return WAARDERING_LABELS[self.waardering]


def parse_duration(text: str) -> tuple[int, int, int]:
    """ISO 8601 date duration -> (years, months, days)."""
    m = _DURATION.fullmatch(text)
    if not m or text == "P":
        raise SelectielijstError("bewaartermijn %(text)r is not an ISO 8601 duration like P10Y",
                                 text=text)
    y, mo, w, d = (int(g) if g else 0 for g in m.groups())
    return y, mo, d + 7 * w


def add_duration(start: date, duration: str) -> date:
    years, months, days = parse_duration(duration)
    total = start.year * 12 + (start.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    month += 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=days)


def parse_file(path: Path) -> list[Category]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SelectielijstError("cannot read %(path)s: %(reason)s", path=str(path),
                                 reason=exc.strerror) from None
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SelectielijstError("%(path)s is not a valid selectielijst file: %(reason)s",
                                 path=str(path), reason=str(exc)) from None
    if not isinstance(data, dict):
        raise SelectielijstError("%(path)s: expected a table with 'name' and 'categorie' entries",
                                 path=str(path))
    list_name = str(data.get("name") or data.get("naam") or path.stem)
    entries = data.get("categorie") or data.get("categories") or data.get("categorieen")
    if not isinstance(entries, list) or not entries:
        raise SelectielijstError("%(path)s: no categories (use [[categorie]] entries)",
                                 path=str(path))
    out: list[Category] = []
    seen: set[str] = set()
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise SelectielijstError("%(path)s: category %(i)s is not a table", path=str(path), i=i)
        code = str(e.get("code") or "").strip()
        name = str(e.get("naam") or e.get("name") or "").strip()
        waardering = str(e.get("waardering") or "").strip().upper()
        termijn = e.get("bewaartermijn")
        trigger = str(e.get("trigger") or "").strip()
        if not code or not name:
            raise SelectielijstError("%(path)s: category %(i)s needs a code and a naam",
                                     path=str(path), i=i)
        if code in seen:
            raise SelectielijstError("%(path)s: category code %(code)r appears twice",
                                     path=str(path), code=code)
        seen.add(code)
        if waardering not in ("B", "V"):
            raise SelectielijstError("%(path)s: category %(code)s: waardering must be B or V",
                                     path=str(path), code=code)
        if termijn is not None:
            termijn = str(termijn).strip()
            parse_duration(termijn)
            if not trigger:  # written as the selectielijst's own begrip: never made up here
                raise SelectielijstError("%(path)s: category %(code)s: a bewaartermijn needs a "
                                         "trigger (the event that starts it, as the list names "
                                         "it)", path=str(path), code=code)
        elif waardering == "V":
            raise SelectielijstError("%(path)s: category %(code)s: V needs a bewaartermijn",
                                     path=str(path), code=code)
        out.append(Category(code, name, waardering, termijn, trigger, list_name))
    return out


def load_into_db(settings: Settings, path: Path) -> list[Category]:
    """Replace the stored selectielijst with the categories in ``path``."""
    cats = parse_file(path)
    with session_scope(settings) as db:
        db.execute(delete(SelectielijstCategory))
        for c in cats:
            db.add(SelectielijstCategory(
                code=c.code, name=c.name, waardering=c.waardering,
                bewaartermijn=c.bewaartermijn, trigger=c.trigger, list_name=c.list_name,
            ))
    return cats


def all_categories(settings: Settings) -> list[Category]:
    with session_scope(settings) as db:
        rows = db.scalars(select(SelectielijstCategory).order_by(SelectielijstCategory.code)).all()
        cats = [Category(r.code, r.name, r.waardering, r.bewaartermijn, r.trigger, r.list_name)
                for r in rows]
    if not cats and settings.selectielijst is not None:
        try:
            cats = parse_file(settings.selectielijst)
        except SelectielijstError as exc:
            raise SettingsError("selectielijst setting: %(reason)s", reason=str(exc)) from None
    return cats


def find_category(settings: Settings, code: str) -> Category:
    for c in all_categories(settings):
        if c.code == code:
            return c
    raise NotFoundError("selectielijst category %(code)r is not known "
                        "(load one with `bewaar selectielijst load FILE`)", code=code)
