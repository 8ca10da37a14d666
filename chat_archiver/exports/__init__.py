"""Readers of the chat exports officials make: one module per app (whatsapp, signal, teams,
telegram), each an ``ExportReader``. ``reader_for(kind)`` loads only the one asked for."""

from __future__ import annotations

import importlib

from chat_archiver.exports.base import ExportReader

READERS = {
    "whatsapp": ("chat_archiver.exports.whatsapp", "WhatsAppReader"),
    "signal": ("chat_archiver.exports.signal", "SignalReader"),
    "teams": ("chat_archiver.exports.teams", "TeamsReader"),
    "telegram": ("chat_archiver.exports.telegram", "TelegramReader"),
}
EXPORT_KINDS = tuple(READERS)


def reader_for(kind: str) -> ExportReader:
    from chat_archiver.connector import ChatError

    if kind not in READERS:
        raise ChatError("no export reader for chat sources of kind %(kind)r", kind=kind)
    module, name = READERS[kind]
    cls = getattr(importlib.import_module(module), name)
    reader: ExportReader = cls()
    return reader
