"""Encrypted Matrix attachments: AES-256-CTR under a JSON Web Key, the sha256 of the ciphertext
in the event (client-server API, "Sending encrypted attachments").

In an end-to-end encrypted room, an attachment's ``file`` object (``url``, ``key``, ``iv``,
``hashes``) travels inside the encrypted event; the media repository holds only ciphertext.
With the room key from the key export file the export reads the ``file`` object, checks the
downloaded ciphertext against its sha256 and keeps the decrypted file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from chat_archiver.megolm import DecryptError, b64decode


def _urlsafe(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decrypt_file(ciphertext: bytes, file: dict[str, Any]) -> bytes:
    """The plaintext of an encrypted attachment, or ``DecryptError`` saying why not."""
    key = file.get("key")
    if not isinstance(key, dict) or key.get("alg") != "A256CTR" or key.get("kty") != "oct":
        raise DecryptError("unsupported attachment key (expected an A256CTR JSON Web Key)")
    hashes = file.get("hashes")
    expected = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(expected, str):
        raise DecryptError("the event gives no sha256 of the encrypted file")
    try:
        k = _urlsafe(str(key.get("k", "")))
        iv = b64decode(str(file.get("iv", "")))
        want = b64decode(expected)
    except (ValueError, binascii.Error):
        raise DecryptError("the attachment key, iv or hash is not base64") from None
    if len(k) != 32 or len(iv) != 16:
        raise DecryptError("the attachment key must be 32 bytes and its iv 16")
    if hashlib.sha256(ciphertext).digest() != want:
        raise DecryptError("the downloaded file's sha256 differs from the event's "
                           "(a different or altered file)")
    dec = Cipher(algorithms.AES(k), modes.CTR(iv)).decryptor()
    return dec.update(ciphertext) + dec.finalize()
