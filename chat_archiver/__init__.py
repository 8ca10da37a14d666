"""Chat capture: connectors for messengers and the export of chats into sealed packages.

``export_source(settings, name)`` exports everything new of one registered Matrix source;
``import_files(settings, name, files)`` imports the export files of a WhatsApp, Signal, Teams or
Telegram source (readers in ``chat_archiver.exports``). Both take one export path. The export
machinery (matrix-nio and its HTTP stack) is imported on first use, so commands that do not
export start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chat_archiver.connector import (
    ChatAuthError,
    ChatConnectionError,
    ChatConnector,
    ChatError,
    ChatProtocolError,
    RawEvent,
    RoomFetch,
    RoomInfo,
    UnknownRoomError,
)

if TYPE_CHECKING:
    from chat_archiver.export import ExportProgress, ExportResult, export_source
    from chat_archiver.imports import ImportResult, import_files, new_export_source

__all__ = [
    "ChatAuthError",
    "ChatConnectionError",
    "ChatConnector",
    "ChatError",
    "ChatProtocolError",
    "ExportProgress",
    "ExportResult",
    "ImportResult",
    "RawEvent",
    "RoomFetch",
    "RoomInfo",
    "UnknownRoomError",
    "export_source",
    "import_files",
    "new_export_source",
]


def __getattr__(name: str) -> Any:
    if name in ("ExportProgress", "ExportResult", "export_source"):
        from chat_archiver import export

        return getattr(export, name)
    if name in ("ImportResult", "import_files", "new_export_source"):
        from chat_archiver import imports

        return getattr(imports, name)
    raise AttributeError(f"module 'chat_archiver' has no attribute {name!r}")
