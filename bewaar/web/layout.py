"""Every page's frame: the language, the header with the menu and the language switch, the style
sheets, then the page's own template (see templates/base.html)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from bewaar.web import assets, i18n
from bewaar.web.auth import COOKIE, csrf_token
from bewaar.web.navigation import menu_for

templates = i18n.environment()


def render_page(request: Request, template: str, status: int = 200,
                **context: Any) -> HTMLResponse:
    """Template ``template`` in the viewer's language, in the frame every page shares."""
    locale = i18n.locale_of(request)
    who = context.pop("who", None) or getattr(request.state, "principal", None) \
        or i18n.viewer(request)
    if "csrf" not in context:
        secret = request.cookies.get(COOKIE)
        context["csrf"] = csrf_token(secret) if secret else ""
    with i18n.using(locale):
        html = templates.get_template(template).render(
            request=request, who=who, lang=locale, locales=i18n.LOCALES,
            menu=menu_for(who.role if who is not None else None),
            style_sheets=assets.style_sheets(), status=status, **context)
    return HTMLResponse(html, status_code=status)
