"""Local web sites for crawl tests and benchmarks, served on 127.0.0.1 with OS-assigned ports.

``NormalSite``: a generated multi-page site with every kind of page requisite, robots.txt,
sitemaps and a second host name (``localhost``) for off-site requisites.
``HostileSite``: a raw-socket server that misbehaves in the ways real servers do.
"""

from tests.sites.hostile import HostileSite
from tests.sites.normal import NormalSite

__all__ = ["HostileSite", "NormalSite"]
