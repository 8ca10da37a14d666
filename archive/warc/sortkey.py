"""SURT, the sort key of CDXJ index lines (``nl,example)/path``), as pywb computes it.

The surt package imports tldextract, and with it requests and urllib3 (80 ms of start-up), for
two methods that building a SURT never calls. Until one of its names is used, tldextract is
a stand-in module here, so a crawl worker starts without it. (The standard library's
``LazyLoader`` does not help: the import statement itself reads the module's ``__spec__``,
which loads it.)
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _OnFirstUse(types.ModuleType):
    """Stands in for a module until one of its names is used, then imports it."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


if "tldextract" not in sys.modules:
    sys.modules["tldextract"] = _OnFirstUse("tldextract")

from surt import surt  # noqa: E402 - after the stand-in


def surt_key(url: str) -> str:
    """The URL's SURT; an URL surt cannot parse is its own key."""
    try:
        return str(surt(url))
    except Exception:  # noqa: BLE001 - any URL at all must get a key
        return url
