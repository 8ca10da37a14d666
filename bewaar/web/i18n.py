"""The web app's languages: Dutch first, English by choice of each user.

One message catalogue: the templates and the Python code of the web app write their texts in
English (``{% trans %}…{% endtrans %}``, ``_("…")`` in templates; :func:`translate` in routes) and
``locale/nl/LC_MESSAGES/messages.po`` gives them in Dutch. English needs no catalogue: it is the
text as written. The ``.po`` file is read and compiled in memory the first time a page is shown in
Dutch, so there is no build step and no compiled ``.mo`` file to keep in step with it.

The errors of the layer under the web app (bewaar/services, woo, and the seed, schedule and
query checks of archive/urls.py, scheduler/cron.py and schedules.py, search/query.py) are in the same catalogue: each is raised with an English
template and its parameters (``InputError("site %(name)r is retired", name=name)``, see
archive.errors.BewaarError) and :func:`error_message` shows it in the viewer's language, the
words it embeds (states, steps: ``Word("proposed")``) translated too; ``WORDS`` lists those that
come from data, for the extractor. The CLI, the API's ``detail`` and the audit log keep the
English text (``str(exc)``): one stable text for scripts and for searching the log. The chat
import's errors are there too; one about an export file gives the file first and its template
second (``NotAnExportError(label, "is binary data, …")``, hence the ``:2`` keywords below), and
its message is the file, ``": "`` and the template's text (``template_prefix``).

After changing a text, update the catalogue and translate what is new or marked fuzzy::

    .venv/bin/pybabel extract -F bewaar/web/locale/babel.cfg -k translate:2 -k tr:2 \\
        -k InputError -k NotFoundError -k BewaarError -k AccountError -k ValidationError \\
        -k GroundError -k RedactionError -k UploadError -k BadInput -k ScheduleError \\
        -k SeedError -k QueryError -k ExportError -k AccessRuleError -k SelectielijstError \\
        -k ChatError -k UnknownRoomError -k SecretError -k ExportFileError:2 \\
        -k NotAnExportError:2 -k UnsafeArchiveError:2 -k ExportEncodingError:2 \\
        -k UnknownLocaleError:2 -k HTTPException:2 -k Word \\
        -o /tmp/messages.pot --no-location \\
        --sort-output \\
        bewaar/web bewaar/services woo scheduler/cron.py scheduler/schedules.py \\
        archive/urls.py search/query.py replay/access.py archive/package/selectielijst.py \\
        chat_archiver/exports chat_archiver/imports.py chat_archiver/export.py
    .venv/bin/pybabel update -i /tmp/messages.pot -d bewaar/web/locale \\
        --no-fuzzy-matching --ignore-obsolete

(tests/test_web_pages.py fails while a text has no Dutch translation.)

The language shown is the user's (``users.locale``), else the one chosen on the login page (a
cookie), else Dutch. ``POST /language`` (with the session's CSRF token) switches it.
"""

from __future__ import annotations

import gettext as gettext_module
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from archive.errors import BewaarError, Word
from archive.timefmt import human
from bewaar.web.auth import COOKIE as SESSION_COOKIE
from bewaar.web.auth import check_csrf

LOCALES = {"nl": "Nederlands", "en": "English"}
DEFAULT = "nl"
COOKIE = "bewaar_lang"
LOCALE_DIR = Path(__file__).parent / "locale"

# The words the service layer's messages embed that come from data or from its callers (states,
# steps, what a reason is for): listed so that `pybabel extract` puts them in the catalogue
# (tests/test_web_pages.py checks that every state and step is here).
WORDS = (
    # destruction lists, suggestions, packages
    Word("proposed"), Word("reviewed"), Word("rejected"), Word("approved"), Word("cancelled"),
    Word("executing"), Word("executed"), Word("accepted"), Word("destroyed"),
    Word("transferred"),
    # what a hold is on
    Word("site"), Word("source"), Word("package"),
    # the steps a user is named for (bewaar.services.destruction.acting_user)
    Word("propose a destruction list"), Word("review a destruction list"),
    Word("approve a destruction list"), Word("cancel a destruction list"),
    Word("execute a destruction list"), Word("confirm a transfer"),
    Word("start a Woo request"), Word("change a Woo request"),
    Word("decide on a Woo request"), Word("redact a Woo request"),
    Word("export a Woo request"),
    # what a reason is given for
    Word("for rejecting the list"), Word("for cancelling the list"),
)

_current: ContextVar[gettext_module.NullTranslations] = ContextVar("bewaar_translations")


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The texts in ``locale``: English as written, Dutch from the catalogue (compiled once)."""
    path = catalogue_path(locale)
    if locale not in LOCALES or not path.exists():
        return gettext_module.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def _active() -> gettext_module.NullTranslations:
    try:
        return _current.get()
    except LookupError:
        return translations(DEFAULT)


def gettext(message: str) -> str:
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)


@contextmanager
def using(locale: str) -> Any:
    """Show texts in ``locale`` inside the block (templates and :func:`gettext`)."""
    token = _current.set(translations(locale if locale in LOCALES else DEFAULT))
    try:
        yield
    finally:
        _current.reset(token)


def translate(locale: str, message: str, **values: Any) -> str:
    """``message`` in ``locale``, with ``%(name)s`` placeholders filled from ``values``."""
    with using(locale):
        text = gettext(message)
    return text % values if values else text


def error_message(locale: str, exc: BaseException) -> str:
    """An error's message in ``locale``. The service layer raises with a template and its
    parameters (archive.errors.BewaarError): the template goes through the catalogue, each
    parameter that is a ``Word`` (a state, a step) too, the rest is filled in as given. A
    message without a translation, or another exception, is shown as ``str(exc)`` (English).
    The CLI and the audit log keep ``str(exc)``: one stable English text to search for."""
    from archive.errors import BewaarError, ValidationError, Word

    if not isinstance(exc, BewaarError) or locale == "en":
        return str(exc)
    # a text the template starts with that is not the catalogue's: "%(file)s: " before what is
    # wrong with an export file (chat_archiver.exports.base.ExportFileError)
    prefix = getattr(exc, "template_prefix", "")
    if not isinstance(prefix, str) or not exc.template.startswith(prefix):
        prefix = ""
    with using(locale):
        text = prefix + gettext(exc.template[len(prefix):])
        params = {k: Word(gettext(v)) if isinstance(v, Word) else v
                  for k, v in exc.params.items()}
    try:
        out = text % params if params else text
    except (KeyError, ValueError, TypeError):  # a translation that does not fit its template
        return str(exc)
    if isinstance(exc, ValidationError) and exc.findings:
        out += "\n" + "\n".join(f"  - {f}" for f in exc.findings)
    return out


# Dates and times -------------------------------------------------------------------------------
def when(value: datetime | str | None, locale: str = DEFAULT) -> str:
    """A moment as people read it, in either language: Dutch local time labelled with its zone
    (``01-12-2026 09:38:44 CET``, archive.timefmt). Stored times without a zone are UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    return human(value)


def number(value: int | float | None, locale: str = DEFAULT) -> str:
    """``12345`` as ``12.345`` in Dutch, ``12,345`` in English."""
    if value is None:
        return ""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=locale))


# Templates -------------------------------------------------------------------------------------
def environment() -> Environment:
    """The web app's Jinja2 templates: autoescaped HTML, ``{% trans %}`` and ``_()`` through the
    active catalogue (:func:`using`)."""
    env = Environment(loader=PackageLoader("bewaar.web", "templates"),
                      autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = pass_context(lambda ctx, v: when(v, ctx.get("lang", DEFAULT)))
    env.filters["number"] = pass_context(lambda ctx, v: number(v, ctx.get("lang", DEFAULT)))
    return env


# The language of a request ---------------------------------------------------------------------
def locale_of(request: Request) -> str:
    """The language to show: the one the user chose, else the cookie's (chosen before logging
    in, or in this browser), else Dutch. Looked up once per request."""
    cached = getattr(request.state, "locale", None)
    if cached:
        return str(cached)
    user = viewer(request)
    chosen = user.locale if user is not None else None
    locale = chosen or request.cookies.get(COOKIE, DEFAULT)
    if locale not in LOCALES:
        locale = DEFAULT
    request.state.locale = locale
    return locale


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: for the header (name, role) and the language."""

    name: str
    role: str
    locale: str | None  # None: not chosen


def viewer(request: Request) -> Viewer | None:
    """The logged-in user of this request, also on pages that refused them (403), where the
    role check ran before the page; ``None`` when nobody is logged in."""
    if hasattr(request.state, "viewer"):
        cached: Viewer | None = request.state.viewer
        return cached
    found: Viewer | None = None
    who = getattr(request.state, "principal", None)
    secret = request.cookies.get(SESSION_COOKIE)
    if who is not None or secret:
        from archive.db import open_db
        from archive.models import User
        from bewaar.services.accounts import user_for_token

        with open_db(request.app.state.settings)() as db:
            user = (db.get(User, who.id) if who is not None
                    else user_for_token(db, secret or "", kind="session"))
            if user is not None:
                found = Viewer(user.name, user.role, user.locale)
            db.rollback()  # a look, not a use: leave last_used_at to the role check
    request.state.viewer = found
    return found


router = APIRouter(include_in_schema=False)


@router.post("/language", dependencies=[Depends(check_csrf)])
async def switch_language(request: Request) -> Response:
    """Show the web app in another language: stored on the user when logged in, and in a cookie
    (so the login page keeps it too); back to the page it was chosen on."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    locale = (fields.get("locale") or [""])[-1]
    target = (fields.get("next") or ["/"])[-1]
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    if locale not in LOCALES:
        raise HTTPException(400, BewaarError("unknown language %(locale)r; known: %(known)s",
                                             locale=locale, known=", ".join(LOCALES)))
    user = viewer(request)
    if user is not None and user.locale != locale:
        from bewaar.services.preferences import set_locale

        set_locale(request.app.state.settings, user.name, user.name, locale)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax",
                        secure=request.url.scheme == "https")
    return response
