"""Local users, roles, password hashes (scrypt), API tokens and browser sessions.

Only hashes are stored: scrypt for passwords, SHA-256 for the random tokens (they carry 256 bits,
so a fast hash is enough). A token is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from archive.models import ApiToken, User, utcnow
from archive.models.service import ROLES
from scheduler.audit import audit
from scheduler.locks import as_utc

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_HOURS = 12
TOKEN_PREFIX = "bwp_"


class AccountError(BewaarError):
    """A user or token could not be made: bad name, unknown role, weak password, unknown user."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, want = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), want)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(db: Session, name: str, role: str, password: str, *, actor: str) -> User:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}", name):
        raise AccountError(f"user name {name!r}: use letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AccountError("the password needs at least 8 characters")
    if db.scalar(select(User).where(User.name == name)) is not None:
        raise AccountError(f"a user named {name!r} exists already")
    user = User(name=name, role=role, password_hash=hash_password(password))
    db.add(user)
    db.flush()
    audit(db, actor, "user.add", name, role=role)
    return user


def authenticate(db: Session, name: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        verify_password(password, hash_password("not-a-user"))  # same work either way
        return None
    if user.disabled or not verify_password(password, user.password_hash):
        return None
    return user


def new_token(db: Session, user: User, *, kind: str = "api", label: str | None = None) -> str:
    """Make a token for ``user``; returns the secret (stored only as its hash)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=SESSION_HOURS) if kind == "session" else None
    db.add(ApiToken(user_id=user.id, kind=kind, token_sha256=_sha256(secret), label=label,
                    expires_at=expires))
    db.flush()
    return secret


def create_api_token(db: Session, user_name: str, *, label: str | None, actor: str) -> str:
    user = db.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise AccountError(f"no user named {user_name!r} (see `bewaar user list`)")
    secret = new_token(db, user, kind="api", label=label)
    audit(db, actor, "token.create", user_name, label=label)
    return secret


def user_for_token(db: Session, secret: str, *, kind: str) -> User | None:
    row = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(secret),
                                           ApiToken.kind == kind))
    if row is None or row.revoked:
        return None
    if row.expires_at is not None and as_utc(row.expires_at) < utcnow():
        return None
    if row.user.disabled:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke(db: Session, secret: str) -> None:
    row = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(secret)))
    if row is not None:
        row.revoked = True
