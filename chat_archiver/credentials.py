"""Secrets for chat sources: from the environment or from a file only the owner can read.

The database stores where the secret is (``env:VAR`` or ``file:/path``), never the secret.
A secret file holds either one line (the password) or ``password=…`` / ``access_token=…`` lines.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from chat_archiver.connector import ChatError


class SecretError(ChatError):
    """The secret for a chat source is missing or unsafe."""


@dataclass(frozen=True)
class Secret:
    kind: str  # "password" or "access_token"
    value: str

    def __repr__(self) -> str:  # never print the value
        return f"Secret(kind={self.kind!r}, value='***')"


def check_file(path: Path) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretError(f"secret file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretError(f"secret file {path} is not a regular file")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise SecretError(
            f"secret file {path} has mode {stat.S_IMODE(st.st_mode):04o}; "
            f"it must be readable by its owner only (chmod 600 {path})"
        )


def load_secret(ref: str) -> Secret:
    """Resolve a stored reference: ``password-env:VAR``, ``token-env:VAR`` or ``file:/path``."""
    scheme, _, where = ref.partition(":")
    if scheme in ("password-env", "token-env"):
        value = os.environ.get(where)
        if not value:
            raise SecretError(f"environment variable {where} is not set (it holds the "
                              f"{'password' if scheme == 'password-env' else 'access token'})")
        return Secret("password" if scheme == "password-env" else "access_token", value)
    if scheme == "file":
        path = Path(where)
        check_file(path)
        text = path.read_text(encoding="utf-8")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        pairs = dict(ln.split("=", 1) for ln in lines if "=" in ln)
        for key in ("access_token", "password"):
            if pairs.get(key, "").strip():
                return Secret(key, pairs[key].strip())
        if len(lines) == 1 and "=" not in lines[0]:
            return Secret("password", lines[0])
        raise SecretError(f"secret file {path}: expected one line (the password) or "
                          "'password=…' / 'access_token=…'")
    raise SecretError(f"unknown secret reference kind {scheme!r}")
