"""What the web app serves itself under /static: its own style sheet, and the NL Design System
style sheets, the font and Swagger UI that ``scripts/assets`` installs from the npm registry into
``static/vendor/``. Nothing is loaded from another host, so the pages and /docs work offline.

A plain clone has no ``vendor/`` yet: the app still starts, its pages unstyled, and says how to
install them."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
# what the pages link to, in this order (tokens before the components that use them)
STYLE_SHEETS = ("fira-sans/400.css", "fira-sans/700.css", "rhc/tokens.css", "rhc/components.css")
SWAGGER = ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css")

log = logging.getLogger("bewaar.web")


def installed() -> bool:
    """Whether ``scripts/assets`` has put the vendor files in place."""
    return all((VENDOR / name).is_file() for name in (*STYLE_SHEETS, *SWAGGER))


def style_sheets() -> list[str]:
    """The URLs of the style sheets every page links to (only the vendor ones installed)."""
    vendor = [f"/static/vendor/{name}" for name in STYLE_SHEETS if (VENDOR / name).is_file()]
    return [*vendor, "/static/app.css"]


def mount(app: FastAPI) -> None:
    """Serve /static and the API docs at /docs from this machine (``docs_url=None`` on the app)."""
    if not installed():
        log.warning("web assets missing in %s: pages are shown unstyled and /docs does not work; "
                    "install them with scripts/assets (needs npm) or scripts/setup", VENDOR)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
            # no validator badge: it would ask validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )
