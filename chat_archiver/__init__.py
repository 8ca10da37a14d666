"""Chat capture: connectors for messengers and the export of chats into sealed packages.

``export_source(settings, name)`` exports everything new of one registered chat source.
"""

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
from chat_archiver.export import ExportProgress, ExportResult, export_source

__all__ = [
    "ChatAuthError",
    "ChatConnectionError",
    "ChatConnector",
    "ChatError",
    "ChatProtocolError",
    "ExportProgress",
    "ExportResult",
    "RawEvent",
    "RoomFetch",
    "RoomInfo",
    "UnknownRoomError",
    "export_source",
]
