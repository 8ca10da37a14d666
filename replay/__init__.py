"""Replay: pywb collections, the wayback launcher, replay QA, access rules, fixity, WACZ.

pywb itself is never imported here: ``wayback`` and ``cdxj-indexer`` run as subprocesses.
"""

from replay.collections import CollectionError, add_run_to_collection
from replay.qa import PageResult, QAResult, check_run, missing_urls

__all__ = [
    "CollectionError",
    "PageResult",
    "QAResult",
    "add_run_to_collection",
    "check_run",
    "missing_urls",
]
