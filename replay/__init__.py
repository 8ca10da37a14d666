"""Replay: pywb collections, the wayback launcher, replay QA, access rules, fixity, WACZ.

pywb itself is never imported here: ``wayback`` and ``cdxj-indexer`` run as subprocesses. The
names below are loaded on first use, so adding a run to its collection after a crawl does not
import the replay check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replay.collections import CollectionError, add_run_to_collection
    from replay.qa import PageResult, QAResult, check_run, missing_urls

_HOMES = {
    "CollectionError": "replay.collections",
    "add_run_to_collection": "replay.collections",
    "PageResult": "replay.qa",
    "QAResult": "replay.qa",
    "check_run": "replay.qa",
    "missing_urls": "replay.qa",
}
__all__ = [
    "CollectionError",
    "PageResult",
    "QAResult",
    "add_run_to_collection",
    "check_run",
    "missing_urls",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'replay' has no attribute {name!r}")
