"""Local users, roles, passwords (scrypt), API tokens and browser sessions, every change
audited.

Only hashes are stored: scrypt for passwords, SHA-256 for the random tokens (they carry 256 bits,
so a fast hash is enough). A token is shown once, when it is made. A disabled or removed user's
sessions and tokens stop working at the next request: every request looks the user up.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import BewaarError, NotFoundError
from archive.models import ApiToken, User, utcnow
from archive.models.service import ROLES
from archive.settings import Settings
from bewaar.services.audit import change, record
from scheduler.locks import as_utc

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_HOURS = 12
TOKEN_PREFIX = "bwp_"
MIN_PASSWORD = 8


class AccountError(BewaarError):
    """A user or token could not be made or changed: bad name, unknown role, weak password,
    unknown user or token."""


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


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("the password needs at least %(min)s characters", min=MIN_PASSWORD)


def get_user(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError("no user named %(name)r (see `bewaar user list`)", name=name)
    return user


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role, "disabled": user.disabled,
            "created_at": user.created_at}


def users(db: Session) -> list[dict[str, Any]]:
    return [user_dict(u) for u in db.scalars(select(User).order_by(User.name))]


def add_user(settings: Settings, actor: str, name: str, role: str,
             password: str) -> dict[str, Any]:
    with change(settings, actor, "user.add", name, role=role) as c:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}", name):
            raise AccountError("user name %(name)r: use letters, digits, '.', '_', '@' or '-'",
                               name=name)
        if role not in ROLES:
            raise AccountError("unknown role %(role)r; choose one of %(known)s", role=role,
                               known=", ".join(ROLES))
        _check_password(password)
        if c.db.scalar(select(User).where(User.name == name)) is not None:
            raise AccountError("a user named %(name)r exists already", name=name)
        user = User(name=name, role=role, password_hash=hash_password(password))
        c.db.add(user)
        c.db.flush()
        return user_dict(user)


def set_role(settings: Settings, actor: str, name: str, role: str) -> dict[str, Any]:
    with change(settings, actor, "user.role", name, role=role) as c:
        if role not in ROLES:
            raise AccountError("unknown role %(role)r; choose one of %(known)s", role=role,
                               known=", ".join(ROLES))
        user = get_user(c.db, name)
        c.note(previous=user.role)
        user.role = role
        return user_dict(user)


def set_disabled(settings: Settings, actor: str, name: str, disabled: bool) -> dict[str, Any]:
    """Disable (or enable) a user; a disabled user's sessions end at once (revoked), and its
    API tokens do not work while it is disabled."""
    with change(settings, actor, "user.disable" if disabled else "user.enable", name) as c:
        user = get_user(c.db, name)
        if user.disabled == disabled:
            if disabled:
                raise AccountError("user %(name)r is disabled already", name=name)
            raise AccountError("user %(name)r is enabled already", name=name)
        user.disabled = disabled
        if disabled:
            ended = _revoke_all(c.db, user, kind="session")
            c.note(sessions_ended=ended)
        return user_dict(user)


def remove_user(settings: Settings, actor: str, name: str) -> dict[str, Any]:
    """Remove a user and all its tokens and sessions; the audit log keeps its name."""
    with change(settings, actor, "user.remove", name) as c:
        user = get_user(c.db, name)
        tokens = len(user.tokens)
        for row in list(user.tokens):
            c.db.delete(row)
        c.db.flush()
        c.db.delete(user)
        c.note(tokens_removed=tokens)
        return {"name": name, "removed": True, "tokens_removed": tokens}


def set_password(settings: Settings, actor: str, name: str, password: str) -> dict[str, Any]:
    """Set a new password; the user's browser sessions end (API tokens stay)."""
    with change(settings, actor, "user.password", name) as c:
        _check_password(password)
        user = get_user(c.db, name)
        user.password_hash = hash_password(password)
        c.note(sessions_ended=_revoke_all(c.db, user, kind="session"))
        return user_dict(user)


def _revoke_all(db: Session, user: User, *, kind: str) -> int:
    rows = list(db.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.kind == kind, ApiToken.revoked.is_(False))))
    for row in rows:
        row.revoked = True
    return len(rows)


def authenticate(db: Session, name: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        verify_password(password, hash_password("not-a-user"))  # same work either way
        return None
    if user.disabled or not verify_password(password, user.password_hash):
        return None
    return user


def _new_token(db: Session, user: User, *, kind: str, label: str | None) -> tuple[str, ApiToken]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=SESSION_HOURS) if kind == "session" else None
    row = ApiToken(user_id=user.id, kind=kind, token_sha256=_sha256(secret), label=label,
                   expires_at=expires)
    db.add(row)
    db.flush()
    return secret, row


def login(settings: Settings, name: str, password: str) -> str | None:
    """A browser session's secret for a right name and password, else None (audited both
    ways; the password is never recorded)."""
    with change(settings, name or "?", "login", name or None) as c:
        user = authenticate(c.db, name, password)
        if user is None:
            c.outcome = "denied"
            return None
        secret, _ = _new_token(c.db, user, kind="session", label="browser")
        return secret


def logout(settings: Settings, session_secret: str) -> None:
    with change(settings, "?", "logout") as c:
        row = c.db.scalar(select(ApiToken).where(
            ApiToken.token_sha256 == _sha256(session_secret), ApiToken.kind == "session"))
        if row is None:
            c.outcome = "denied"
            return
        c.actor = c.target = row.user.name
        row.revoked = True


def create_token(settings: Settings, actor: str, user_name: str,
                 label: str | None = None) -> dict[str, Any]:
    """Make an API token; the result holds the secret, which is shown once and never kept."""
    with change(settings, actor, "token.create", user_name, label=label) as c:
        user = get_user(c.db, user_name)
        secret, row = _new_token(c.db, user, kind="api", label=label)
        c.note(token_id=row.id)
        return {"id": row.id, "user": user_name, "label": label, "token": secret}


def token_dict(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "user": row.user.name, "label": row.label,
            "created_at": row.created_at, "last_used_at": row.last_used_at,
            "revoked": row.revoked}


def tokens(db: Session, user_name: str | None = None) -> list[dict[str, Any]]:
    q = select(ApiToken).where(ApiToken.kind == "api").order_by(ApiToken.id)
    if user_name:
        q = q.where(ApiToken.user_id == get_user(db, user_name).id)
    return [token_dict(t) for t in db.scalars(q)]


def revoke_token(settings: Settings, actor: str, token_id: int) -> dict[str, Any]:
    with change(settings, actor, "token.revoke", str(token_id)) as c:
        row = c.db.get(ApiToken, token_id)
        if row is None or row.kind != "api":
            raise NotFoundError("no API token %(id)s (see `bewaar token list`)", id=token_id)
        if row.revoked:
            raise AccountError("API token %(id)s is revoked already", id=token_id)
        row.revoked = True
        c.note(user=row.user.name, label=row.label)
        return token_dict(row)


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


def denied(db: Session, actor: str, path: str, **detail: Any) -> None:
    """Record a refused request (the face has checked the role)."""
    record(db, actor, "access.denied", path, outcome="denied", **detail)
