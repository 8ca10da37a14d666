"""End-to-end encrypted rooms: decrypted with a key export file, the rest kept and listed.

The Megolm vector below was made with vodozemac 0.10 (matrix.org's Rust implementation, used
by Element): a group session, its key exported at index 1, messages 0, 1, 2, 255, 256 and 259.
It checks the decryption against an independent implementation, the 2^8 ratchet step included.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chat_archiver.megolm import (
    ALGORITHM,
    DecryptError,
    KeyFileError,
    KeyRing,
    Ratchet,
    b64encode,
    read_key_export,
    write_key_export,
)
from tests.conftest import Bewaar
from tests.synapse import MatrixUser, SynapseServer, synapse_server  # noqa: F401
from tests.test_chat import check_package, setup_home

VECTOR_ROOM = "!vector:localhost"
VECTOR_SESSION = "USFHUIdgmfwU0liMuzKcda8Z4dzsX2TVwX02oaxbchA"
VECTOR_KEY_AT_1 = (
    "AQAAAAGUFMbk8GJFQDxhJP1Cv+RM9FJAr1BdEwu1efeo10/Gh99xrjBzen6c14JRdB4YawegZ47mFT9q5dXLOXzjL0Ics05mbogD8AkRwvNghlIeahT8+Yyya9C1KRXj4k5MY6G8KMXaXEDZmumnWrmBInurJ+NfhAUAeIDPlL+MTqw1z1EhR1CHYJn8FNJYjLsynHWvGeHc7F9k1cF9NqGsW3IQ"
)
VECTOR_MESSAGES = [
    (0, "AwgAEoABHOt3BlszWSvmhVlf9WvXBKe2PWnf8Nwnbx/nJ2mYPFeoIJ/Au9gaSsxQfQDfeYKJ5Msp0axeD0tO8W+9KM6UAB5ZZkIcVwyiP71tfYlilblevz4r+6OCc9/RHE6tFjnIGzx4QjATA/5Sr0/0FiefecvxNwTkwRh8S3x5hwWL9Hx8PwfxluPVB4W9Y51jkIWuCSV0OSyOT//bGF3EfNjNx7ma9SIHaqN6SWfW1nxSetKhPxKuXRemTvNPpAU0phiCWA7FbhHFkA0"),
    (1, "AwgBEoABuHgJ21xK9pBen69Kj8ZFS3f6BuO4nF/B7isOFcx8Mcui8Gqdy9QhKj6KTo/eeb9vqQWRUDHzvx7sbCXbsfQVoUBq5u3SLCrRA3BD6MtCE6VucWvHdIGHAHV9wGk/CTcMahb5PA+hdDSQoHMDG1dUJlXOq4FsN5JIEGnG+67P6IneFk0FI2gLoEkHeeUkBST7VKtNZSPkN/JBo+7293ERjHlBjsgpgcV4BK4onifhoUxZ1rBXqz7Mna/HxtAXA9RHjkdeuUBT3Q0"),
    (2, "AwgCEoAB/BpXscU3CCNbkYDxwVH03fgI/hD3kpKMy8RZDiYv4iXLBjwiCE2gTuKbIYY2sNohYsofXOb+6hpYsx5MRKsCRYqSblKQw+J26FxVQXgfWQF7QVfmPBLNZH4RGz0p6K5lAQbdM+KszFq8r6OwODigu/DPobzQA1+yhHCPeEHcmMySjNIVegPnpiErIXtIh8Kr+tYhJtSMYeZUHgsqQFGNu9VxLyClFp6yB3OJ1GNun4ri3VwBM8hNM5oNEskEvOy0hwjEAVSQ0AA"),
    (255, "Awj/ARKAAWFviODfU+4fY1C9dQ8VKGx7wZMiQSauYFU4TUnQnhiqTemn7nAdqIGERDSVZ/XqZX8Q3Z3r5E/nwTOUEs9/3exEkk90wNLUm5Sdd3MnWmRRO6omS1SHUUIcQ1GiK5dA6ngHZILo8vfU1++lprK6henCD9o75Dv8XGhsZNOt1MQ5mR8Aq/o7BpCFzieaFniZUNZQVk/sDwqFMLUXAjP8tOQJ/dL4CsHv8a4uH+WsbHyc3/VNaFTTT8tTq6jRTQVt8mcH+PkPCzMM"),
    (256, "AwiAAhKAATLefE1eM7/YHFbNrWVAgQgWpp9O0tEsVbq7+vQKnju4dzwuvpxTuVYAJrIIerMMCHnNxWAia8mhIfB2qXeCnOJyC3tCIjoC3Af0a1KoghFViX/JUirM1+nSngdcyjOu7cWYyjr4iMmDhm7xbCOfe9MCyey6PiUYWXy/UAFA1BQMCBKHg05jYfTeFbNRndbVKTEZvoggjZRZNrCLXmrKXOfXjWAU8tbdrIju/0zgd3HMue0ZYlW8DPFHkroFCqHqtj5odY41KEsJ"),
    (259, "AwiDAhKAASV/+PB3coLqBxRdm6BkT+91xbXQqab8W5GCcXk3grQrFfyXr0K+hz/J0AxAZddk8sGC/pMGepeTmTiaNqlt3uFH4f0rY817aMdPTR1/2OYnsZzAoNY0T+xMG7ytfb+sUrA/5yW6LHlgM1zQpOsrCaDbiG67wEItYuqKaqLY+1TM+Xf2dqchThCc68fcNlg8X1sqrQ3voPwvgKEb5Ri+5yux2jHbZT2Jq1n5gUt5+vtLc77ZlpXWq6uFaYY0ZFGQuO/22lBp5WwI"),
]


REPORT = b"Verslag van het overleg, vertrouwelijk.\n" * 500


def encrypted_event(room: str, session: str, ciphertext: str, n: int = 0) -> dict[str, Any]:
    return {"room_id": room, "event_id": f"$e{n}", "type": "m.room.encrypted",
            "content": {"algorithm": ALGORITHM, "session_id": session, "ciphertext": ciphertext}}


def test_megolm_decrypts_what_vodozemac_encrypted() -> None:
    ring = KeyRing([{"algorithm": ALGORITHM, "room_id": VECTOR_ROOM,
                     "session_id": VECTOR_SESSION, "session_key": VECTOR_KEY_AT_1}])
    for index, ciphertext in VECTOR_MESSAGES:
        event = encrypted_event(VECTOR_ROOM, VECTOR_SESSION, ciphertext, index)
        if index == 0:  # before the exported index: the key cannot reach back
            with pytest.raises(DecryptError, match="older than the imported key"):
                ring.decrypt_event(event)
            continue
        plain = ring.decrypt_event(event)
        assert plain["message_index"] == index
        assert plain["content"]["body"] == f"vertrouwelijk {index}"
    tampered = bytearray(base64.b64decode(VECTOR_MESSAGES[1][1] + "=="))
    tampered[12] ^= 1
    with pytest.raises(DecryptError, match="signature"):
        ring.decrypt_event(encrypted_event(VECTOR_ROOM, VECTOR_SESSION,
                                           b64encode(bytes(tampered))))
    with pytest.raises(DecryptError, match="another room"):
        ring.decrypt_event(encrypted_event("!other:localhost", VECTOR_SESSION,
                                           VECTOR_MESSAGES[1][1]))
    with pytest.raises(DecryptError, match="no key for session"):
        ring.decrypt_event(encrypted_event(VECTOR_ROOM, "unknown", VECTOR_MESSAGES[1][1]))


def test_key_export_file_needs_the_passphrase(tmp_path: Path) -> None:
    sessions = [{"algorithm": ALGORITHM, "room_id": VECTOR_ROOM, "session_id": VECTOR_SESSION,
                 "session_key": VECTOR_KEY_AT_1, "sender_key": "x",
                 "forwarding_curve25519_key_chain": [], "sender_claimed_keys": {}}]
    f = tmp_path / "keys.txt"
    f.write_text(write_key_export(sessions, "correct horse", salt=os.urandom(16),
                                  iv=os.urandom(16)))
    assert read_key_export(f, "correct horse") == sessions
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_key_export(f, "wrong horse")
    f.write_text("not a key file")
    with pytest.raises(KeyFileError, match="not a Matrix key export"):
        read_key_export(f, "correct horse")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class OutboundSession:
    """A Megolm sender for the test (the inverse of chat_archiver.megolm, after megolm.md)."""

    def __init__(self) -> None:
        self.ratchet = Ratchet.from_bytes(0, os.urandom(128))
        self.key = Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.session_id = b64encode(self.public)

    def export(self) -> str:
        r = self.ratchet
        return b64encode(b"\x01" + r.index.to_bytes(4, "big") + b"".join(r.parts) + self.public)

    def encrypt(self, room: str, body: str, content: dict[str, Any] | None = None) -> str:
        aes_key, mac_key, iv = self.ratchet.message_keys()
        padder = padding.PKCS7(128).padder()
        plain = json.dumps({"room_id": room, "type": "m.room.message",
                            "content": content or {"msgtype": "m.text", "body": body}}).encode()
        enc = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
        ct = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
        body_bytes = b"\x03\x08" + varint(self.ratchet.index) + b"\x12" + varint(len(ct)) + ct
        mac = hmac.new(mac_key, body_bytes, hashlib.sha256).digest()[:8]
        sig = self.key.sign(body_bytes + mac)
        self.ratchet.advance()
        return b64encode(body_bytes + mac + sig)


def encrypt_attachment(plain: bytes) -> tuple[bytes, dict[str, Any]]:
    """What a Matrix client uploads for an attachment in an encrypted room, and the ``file``
    object it puts in the (encrypted) event: AES-256-CTR, the key as a JSON Web Key."""
    key, iv = os.urandom(32), os.urandom(8) + bytes(8)
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ct = enc.update(plain) + enc.finalize()
    return ct, {"v": "v2", "iv": b64encode(iv),
                "hashes": {"sha256": b64encode(hashlib.sha256(ct).digest())},
                "key": {"kty": "oct", "alg": "A256CTR", "ext": True,
                        "key_ops": ["encrypt", "decrypt"],
                        "k": base64.urlsafe_b64encode(key).decode().rstrip("=")}}


def test_encrypted_room_exported_with_key_file(bewaar: Bewaar, synapse_server: SynapseServer,  # noqa: F811
                                               tmp_path: Path) -> None:
    token = synapse_server.register("carol", "carol-pw-93ad", admin=False)
    known, unknown = OutboundSession(), OutboundSession()
    uploaded: dict[str, bytes] = {}

    async def seed() -> str:
        async with httpx.AsyncClient(base_url=synapse_server.url, timeout=60) as c:
            carol = MatrixUser(c, token, "@carol:localhost")
            room = await carol.create_room("Vertrouwelijk overleg", initial_state=[{
                "type": "m.room.encryption", "state_key": "", "content": {"algorithm": ALGORITHM}}])
            for session, n in ((known, 3), (unknown, 2), (known, 1)):
                for i in range(n):
                    await carol.send(room, {
                        "algorithm": ALGORITHM, "sender_key": "k" * 43, "device_id": "TEST",
                        "session_id": session.session_id,
                        "ciphertext": session.encrypt(room, f"geheim {session.session_id[:4]} {i}")},
                        "m.room.encrypted")
            # Two attachments: the server holds only their ciphertext; the second event's hash
            # does not match what was uploaded.
            for name, plain, wrong_hash in (("rapport.txt", REPORT, False),
                                            ("vervalst.txt", b"ander bestand", True)):
                ct, file = encrypt_attachment(plain)
                file["url"] = await carol.upload(ct, "encrypted", "application/octet-stream")
                if wrong_hash:
                    file["hashes"]["sha256"] = b64encode(hashlib.sha256(b"x").digest())
                uploaded[name] = ct
                content = {"msgtype": "m.file", "body": name, "file": file,
                           "info": {"mimetype": "text/plain", "size": len(plain)}}
                await carol.send(room, {
                    "algorithm": ALGORITHM, "sender_key": "k" * 43, "device_id": "TEST",
                    "session_id": known.session_id,
                    "ciphertext": known.encrypt(room, name, content)}, "m.room.encrypted")
            return room

    export = {"algorithm": ALGORITHM, "session_id": known.session_id,
              "session_key": known.export()}  # exported before sending: index 0
    room = asyncio.run(seed())
    export["room_id"] = room
    keys = tmp_path / "element-keys.txt"
    keys.write_text(write_key_export([export], "wachtwoord van de sleutels",
                                     salt=os.urandom(16), iv=os.urandom(16)))
    setup_home(bewaar, tmp_path)
    bewaar("chat", "add", "matrix", "geheim", "--homeserver", synapse_server.url, "--user",
           "@carol:localhost", "--category", "1.1", "--token-env", "T", "--room", room,
           "--keys-file", str(keys), "--keys-passphrase-env", "KEYS_PW")
    wrong = bewaar("chat", "export", "geheim", env={"T": token, "KEYS_PW": "fout"}, check=False)
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    out = bewaar("chat", "export", "geheim", "--json",
                 env={"T": token, "KEYS_PW": "wachtwoord van de sleutels"}).json()
    pkg = Path(out["package"])
    check_package(bewaar, pkg)
    rdir = next((pkg / "bag/data/rooms").iterdir())
    decrypted = [json.loads(x) for x in (rdir / "decrypted.jsonl").read_text().splitlines()]
    tag = known.session_id[:4]
    assert sorted(d["content"]["body"] for d in decrypted) == sorted(
        [f"geheim {tag} 0", f"geheim {tag} 1", f"geheim {tag} 2", f"geheim {tag} 0",
         "rapport.txt", "vervalst.txt"])
    evidence = json.loads((pkg / "bag/data/evidence.json").read_text())
    listed = evidence["rooms"][0]["undecryptable"]
    assert len(listed) == 2 and all("no key for session" in u["reason"] for u in listed)
    assert evidence["totals"]["decrypted"] == 6
    # The attachment is kept decrypted, checked against the hash in its event; the one whose
    # hash does not match is kept as downloaded, with the reason.
    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    stored = {sha((pkg / "bag/data" / a["path"]).read_bytes()): a
              for a in evidence["rooms"][0]["attachments"]}
    good = stored[sha(REPORT)]
    assert good["decrypted"] is True and good["sha256"] == sha(REPORT)
    bad = stored[sha(uploaded["vervalst.txt"])]
    assert bad["decrypted"] is False and "sha256 differs" in bad["error"]
    raw = (rdir / "events.jsonl").read_text()
    assert "geheim" not in raw  # the raw events stay as sent: encrypted
    html = (rdir / "transcript.html").read_text()
    assert f"geheim {tag} 2" in html and html.count("could not be decrypted") == 2
    assert f"📎 <a href='../../{good['path']}'>rapport.txt</a>" in html
    for f in pkg.rglob("*"):
        if f.is_file():
            assert b"wachtwoord van de sleutels" not in f.read_bytes()
