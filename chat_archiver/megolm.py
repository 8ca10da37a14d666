"""Decrypting Matrix end-to-end encrypted room messages with keys from a key export file.

Implements, from the published specifications, what is needed to read ``m.megolm.v1.aes-sha2``
room events: the key export file format (Matrix spec, "Key exports": PBKDF2-SHA-512,
AES-256-CTR, HMAC-SHA-256), the Megolm ratchet and message format (libolm's megolm.md:
HMAC-SHA-256 ratchet, HKDF-SHA-256 "MEGOLM_KEYS", AES-256-CBC, truncated MAC, Ed25519
signature). Only reading: nothing here can send or share keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chat_archiver.connector import ChatError

ALGORITHM = "m.megolm.v1.aes-sha2"
HEADER = "-----BEGIN MEGOLM SESSION DATA-----"
FOOTER = "-----END MEGOLM SESSION DATA-----"


class KeyFileError(ChatError):
    """A key export file cannot be read (wrong passphrase, damaged, not a key export)."""


class DecryptError(Exception):
    """One event cannot be decrypted; the message says why."""


def b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


# --- key export files -----------------------------------------------------------------------

def _export_keys(passphrase: str, salt: bytes, rounds: int) -> tuple[bytes, bytes]:
    key = hashlib.pbkdf2_hmac("sha512", passphrase.encode("utf-8"), salt, rounds, 64)
    return key[:32], key[32:]


def read_key_export(path: Path, passphrase: str) -> list[dict[str, Any]]:
    """The sessions in a key export file."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != HEADER or lines[-1] != FOOTER:
        raise KeyFileError(f"{path} is not a Matrix key export file (no {HEADER} lines)")
    try:
        blob = base64.b64decode("".join(lines[1:-1]))
    except ValueError:
        raise KeyFileError(f"{path}: the key export is not valid base64") from None
    if len(blob) < 1 + 16 + 16 + 4 + 32 or blob[0] != 1:
        raise KeyFileError(f"{path}: unknown key export version or too short")
    salt, iv = blob[1:17], blob[17:33]
    rounds = int.from_bytes(blob[33:37], "big")
    aes_key, mac_key = _export_keys(passphrase, salt, rounds)
    if not hmac.compare_digest(hmac.new(mac_key, blob[:-32], hashlib.sha256).digest(), blob[-32:]):
        raise KeyFileError(f"{path}: wrong passphrase or damaged key export")
    dec = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    plain = dec.update(blob[37:-32]) + dec.finalize()
    try:
        sessions = json.loads(plain)
    except ValueError:
        raise KeyFileError(f"{path}: the decrypted key export is not JSON") from None
    if not isinstance(sessions, list):
        raise KeyFileError(f"{path}: the key export holds no session list")
    return [s for s in sessions if isinstance(s, dict)]


def write_key_export(sessions: list[dict[str, Any]], passphrase: str, *, rounds: int = 10000,
                     salt: bytes, iv: bytes) -> str:
    """A key export file's text (the inverse of ``read_key_export``; used to test it)."""
    iv = iv[:8] + (int.from_bytes(iv[8:], "big") & ~(1 << 63)).to_bytes(8, "big")
    aes_key, mac_key = _export_keys(passphrase, salt, rounds)
    enc = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    body = enc.update(json.dumps(sessions).encode()) + enc.finalize()
    blob = b"\x01" + salt + iv + rounds.to_bytes(4, "big") + body
    blob += hmac.new(mac_key, blob, hashlib.sha256).digest()
    b64 = base64.b64encode(blob).decode()
    return "\n".join([HEADER, *[b64[i:i + 96] for i in range(0, len(b64), 96)], FOOTER]) + "\n"


# --- the Megolm ratchet ---------------------------------------------------------------------

@dataclass
class Ratchet:
    index: int
    parts: list[bytes]  # R0..R3, 32 bytes each

    @classmethod
    def from_bytes(cls, index: int, data: bytes) -> Ratchet:
        return cls(index, [data[i * 32:(i + 1) * 32] for i in range(4)])

    def copy(self) -> Ratchet:
        return Ratchet(self.index, list(self.parts))

    def advance(self) -> None:
        self.index += 1
        mask, h = 0x00FFFFFF, 0
        while h < 4 and self.index & mask:
            h += 1
            mask >>= 8
        for i in range(3, h - 1, -1):
            self.parts[i] = hmac.new(self.parts[h], bytes([i]), hashlib.sha256).digest()

    def advance_to(self, index: int) -> None:
        while self.index < index:
            self.advance()

    def message_keys(self) -> tuple[bytes, bytes, bytes]:
        okm = HKDF(algorithm=hashes.SHA256(), length=80, salt=None,
                   info=b"MEGOLM_KEYS").derive(b"".join(self.parts))
        return okm[:32], okm[32:64], okm[64:80]


@dataclass
class InboundSession:
    session_id: str
    room_id: str | None
    ratchet: Ratchet
    signing_key: bytes

    @classmethod
    def from_export(cls, entry: dict[str, Any]) -> InboundSession:
        data = b64decode(str(entry.get("session_key", "")))
        if len(data) != 1 + 4 + 128 + 32 or data[0] != 1:
            raise ValueError("not an exported Megolm session key")
        return cls(str(entry.get("session_id")), entry.get("room_id"),
                   Ratchet.from_bytes(int.from_bytes(data[1:5], "big"), data[5:133]),
                   data[133:165])

    def decrypt(self, ciphertext_b64: str) -> tuple[int, bytes]:
        """(message index, plaintext) of a Megolm message."""
        try:
            msg = b64decode(ciphertext_b64)
        except ValueError:
            raise DecryptError("ciphertext is not base64") from None
        if len(msg) < 1 + 8 + 64 or msg[0] != 3:
            raise DecryptError("not a Megolm v3 message")
        body, mac, sig = msg[:-72], msg[-72:-64], msg[-64:]
        try:
            Ed25519PublicKey.from_public_bytes(self.signing_key).verify(sig, msg[:-64])
        except (InvalidSignature, ValueError):
            raise DecryptError("the message signature does not match the session") from None
        index, ciphertext = _parse_fields(body[1:])
        if index < self.ratchet.index:
            raise DecryptError(f"message index {index} is older than the imported key "
                               f"(index {self.ratchet.index})")
        ratchet = self.ratchet.copy()
        ratchet.advance_to(index)
        aes_key, mac_key, iv = ratchet.message_keys()
        if not hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest()[:8], mac):
            raise DecryptError("bad message MAC")
        dec = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        padded = dec.update(ciphertext) + dec.finalize()
        unpad = padding.PKCS7(128).unpadder()
        try:
            return index, unpad.update(padded) + unpad.finalize()
        except ValueError:
            raise DecryptError("bad padding after decryption") from None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while i < len(data):
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    raise DecryptError("truncated Megolm message")


def _parse_fields(data: bytes) -> tuple[int, bytes]:
    index: int | None = None
    ciphertext: bytes | None = None
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        if tag == 0x08:
            index, i = _varint(data, i)
        elif tag == 0x12:
            length, i = _varint(data, i)
            ciphertext, i = data[i:i + length], i + length
        else:
            raise DecryptError(f"unknown field {tag:#x} in Megolm message")
    if index is None or ciphertext is None:
        raise DecryptError("Megolm message without index or ciphertext")
    return index, ciphertext


class KeyRing:
    """Sessions from key export files, by session id."""

    def __init__(self, sessions: list[dict[str, Any]] | None = None) -> None:
        self.sessions: dict[str, InboundSession] = {}
        for entry in sessions or []:
            if entry.get("algorithm") != ALGORITHM:
                continue
            try:
                s = InboundSession.from_export(entry)
            except ValueError:
                continue
            known = self.sessions.get(s.session_id)
            if known is None or s.ratchet.index < known.ratchet.index:
                self.sessions[s.session_id] = s

    def decrypt_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The decrypted payload ({type, content, room_id}) or DecryptError with the reason."""
        content = event.get("content") or {}
        if content.get("algorithm") != ALGORITHM:
            raise DecryptError(f"unsupported algorithm {content.get('algorithm')!r}")
        session = self.sessions.get(str(content.get("session_id")))
        if session is None:
            raise DecryptError(f"no key for session {content.get('session_id')}")
        if session.room_id and session.room_id != event.get("room_id"):
            raise DecryptError("the key belongs to another room")
        index, plain = session.decrypt(str(content.get("ciphertext", "")))
        try:
            payload = json.loads(plain)
        except ValueError:
            raise DecryptError("decrypted payload is not JSON") from None
        if not isinstance(payload, dict) or payload.get("room_id") != event.get("room_id"):
            raise DecryptError("decrypted payload names another room (replayed message)")
        return {"message_index": index, **payload}
