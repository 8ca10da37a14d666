"""A user's own preferences (the language of the web app), every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archive.errors import BewaarError, NotFoundError
from archive.models import User
from archive.settings import Settings
from bewaar.services.audit import change

LOCALES = ("nl", "en")


def set_locale(settings: Settings, actor: str, name: str, locale: str) -> dict[str, Any]:
    """Show the web app to user ``name`` in ``locale`` ("nl" or "en") from now on."""
    if locale not in LOCALES:
        raise BewaarError("unknown language %(locale)r; known: %(known)s", locale=locale,
                          known=", ".join(LOCALES))
    with change(settings, actor, "user.locale", name, locale=locale) as c:
        user = c.db.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFoundError("no user named %(name)r", name=name)
        user.locale = locale
        return {"name": user.name, "locale": locale}
