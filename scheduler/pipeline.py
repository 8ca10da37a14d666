"""What follows every crawl: add the run to its replay collection, replay QA, seal.

Each step is guarded: a failed step is recorded in the returned dict and logged, and never
undoes or fails the crawl itself. ``bewaar crawl`` and scheduled crawls both call this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from archive.settings import Settings

log = logging.getLogger(__name__)


def _step(name: str, steps: dict[str, dict[str, Any]], fn: Callable[[], dict[str, Any]]) -> bool:
    try:
        steps[name] = {"ok": True, **fn()}
    except Exception as exc:  # a failed step is recorded, not fatal to the crawl
        log.error("after crawl: %s failed: %s: %s", name, type(exc).__name__, exc)
        steps[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return False
    return True


def after_crawl(settings: Settings, run_id: int) -> dict[str, Any]:
    """Index the run into its collection, check its replay (``settings.qa_after_crawl``) and seal
    it (``settings.seal_after_crawl``). Returns ``{"run_id", "ok", "collection", "qa", "seal"}``;
    each step is ``{"ok": bool, …}`` or ``{"ok": True, "skipped": reason}``."""
    steps: dict[str, dict[str, Any]] = {}

    def collection() -> dict[str, Any]:
        from replay import add_run_to_collection

        return {"path": str(add_run_to_collection(settings, run_id))}

    def qa() -> dict[str, Any]:
        from replay import check_run

        result = check_run(settings, run_id)
        return {
            "passed": result.ok,
            "pages": len(result.pages),
            "failed": result.failed,
            "report": str(result.report_path),
        }

    def seal() -> dict[str, Any]:
        from archive.package import seal_run

        package = seal_run(settings, run_id)
        return {"package_id": package.id, "path": str(package.path),
                "timestamped": package.timestamped}

    indexed = _step("collection", steps, collection)
    if not settings.qa_after_crawl:
        steps["qa"] = {"ok": True, "skipped": "qa_after_crawl is off"}
    elif not indexed:
        steps["qa"] = {"ok": False, "skipped": "the run is not in a collection"}
    else:
        _step("qa", steps, qa)
    if settings.seal_after_crawl:
        _step("seal", steps, seal)
    else:
        steps["seal"] = {"ok": True, "skipped": "seal_after_crawl is off"}
    return {"run_id": run_id, "ok": all(s["ok"] for s in steps.values()), **steps}
