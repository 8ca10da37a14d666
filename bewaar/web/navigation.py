"""The main menu: the work, in the order the users name it, each item shown to the roles that
may use it (admin: all). Items whose pages are not built yet lead to a page that says so.

A new page takes over its item's path: add its route in ``pages`` (registered before this
router, so it wins) and drop the path from ``COMING``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from bewaar.web.auth import Principal, require


def _(message: str) -> str:
    """Mark a text for the catalogue; it is translated when the menu is shown."""
    return message


@dataclass(frozen=True)
class Item:
    label: str  # English; shown through the catalogue
    href: str
    roles: tuple[str, ...]  # who may use it besides admin
    also: tuple[str, ...] = ()  # other paths that belong to this item (marked current)

    def allows(self, role: str) -> bool:
        return role == "admin" or role in self.roles

    def current(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in (self.href, *self.also))


MENU = (
    Item(_("Websites"), "/sites", ("webteam", "records", "archivist", "auditor"),
         also=("/runs", "/collections", "/harvests", "/access")),
    Item(_("Chats"), "/chats", ("records", "auditor")),
    Item(_("Search"), "/search", ("records", "auditor")),
    Item(_("Woo requests"), "/woo", ("records",)),
    Item(_("Packages"), "/packages", ("records", "auditor"), also=("/fixity", "/suggestions")),
    Item(_("Retention"), "/retention", ("records", "archivist", "auditor")),
    Item(_("Audit"), "/audit", ("auditor",)),
    Item(_("Administration"), "/admin", ()),
)
BY_HREF = {item.href: item for item in MENU}

# Items whose pages are still to come: what each will hold.
COMING: dict[str, str] = {}


def menu_for(role: str | None) -> list[Item]:
    """The items ``role`` may use, in menu order."""
    return [item for item in MENU if role is not None and item.allows(role)]


router = APIRouter(include_in_schema=False)


def _coming_page(href: str) -> None:
    item = BY_HREF[href]

    @router.get(href, name=f"coming:{href}")
    def coming(request: Request,
               _who: Principal = Depends(require(*item.roles))) -> HTMLResponse:
        from bewaar.web.pages import render

        return render(request, "coming.html", item=item, purpose=COMING[href])


for _href in COMING:
    _coming_page(_href)
