"""The base of Bewaarplaats: settings, database models, storage, WARC writing, packages.

Nothing in ``archive`` imports ``crawler``, ``replay``, ``chat_archiver``, ``scheduler`` or
``bewaar``; those capabilities write into it.
"""

__version__ = "0.1.0"
SOFTWARE = f"Bewaarplaats/{__version__}"
