"""Dashboard accounts: users with argon2-hashed passwords, roles, and login lockout.

Roles are ordered: a `viewer` reads, `cdc_staff` also acts on escalations, an `admin` also manages
users and reads the audit log.  Failed logins are kept per user name so that a guessed password
locks the name (not the IP, which is shared by a whole CDC office behind one NAT).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel, col, select
from sqlmodel import Session as DbSession

from robocall.models import utcnow


class Role(StrEnum):
    VIEWER = "viewer"
    CDC_STAFF = "cdc_staff"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.CDC_STAFF: 1, Role.ADMIN: 2}

_hasher = PasswordHasher()


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    password_hash: str
    role: str = Field(default=Role.VIEWER)
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_login_at: dt.datetime | None = None
    # Raised to end every session of the account (log-out, new password, disabling): a session carries
    # the number it was opened with and is refused once it differs (robocall.web.security).
    session_version: int = 0


class LoginAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True)
    at: dt.datetime = Field(default_factory=utcnow, index=True)
    success: bool = False
    remote: str = ""


class AccountError(ValueError):
    """A user cannot be created as asked (unknown role, taken name, empty password)."""


def has_role(role: str, needed: Role) -> bool:
    """True when `role` is `needed` or above it."""
    try:
        return ROLE_RANK[Role(role)] >= ROLE_RANK[needed]
    except ValueError:
        return False


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(engine: Engine, username: str, role: str, password: str) -> User:
    username = username.strip()
    if not username:
        raise AccountError("the user name is empty")
    if role not in {r.value for r in Role}:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    with DbSession(engine) as db:
        if db.exec(select(User).where(User.username == username)).first():
            raise AccountError(f"user {username!r} already exists")
        user = User(username=username, role=role, password_hash=hash_password(password))
        db.add(user)
        db.commit()
        db.refresh(user)
        return user


def change_user(engine: Engine, username: str, *, password: str | None = None, active: bool | None = None) -> User:
    """Set a new password (which also lifts a lockout) or switch the account off/on."""
    with DbSession(engine) as db:
        user = db.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise AccountError(f"no user {username!r}")
        if password is not None:
            if len(password) < 8:
                raise AccountError("the password must have at least 8 characters")
            user.password_hash = hash_password(password)
            # A success in the attempts breaks the run of failures: the lockout ends.
            db.add(LoginAttempt(username=username, success=True, remote="password reset"))
        if active is not None:
            user.active = active
        db.add(user)
        db.commit()
        db.refresh(user)
        return user


def locked_until(db: DbSession, username: str, max_failures: int, lockout: dt.timedelta,
                 now: dt.datetime) -> dt.datetime | None:
    """When the name is locked (after `max_failures` failures in a row, the last within `lockout`), until when."""
    recent = db.exec(select(LoginAttempt).where(LoginAttempt.username == username)
                     .order_by(col(LoginAttempt.at).desc()).limit(max_failures)).all()
    if len(recent) < max_failures or any(a.success for a in recent):
        return None
    last = recent[0].at if recent[0].at.tzinfo else recent[0].at.replace(tzinfo=dt.UTC)
    until = last + lockout
    return until if until > now else None


def authenticate(db: DbSession, username: str, password: str, *, max_failures: int, lockout: dt.timedelta,
                 remote: str = "", now: dt.datetime | None = None) -> tuple[User | None, dt.datetime | None]:
    """(user, None) on success; (None, locked_until) when locked; (None, None) on a wrong name or password.

    Every try is recorded; a locked name's tries are refused without checking the password, so
    guessing stays locked out even with the right password.
    """
    now = now or utcnow()
    until = locked_until(db, username, max_failures, lockout, now)
    if until:
        db.add(LoginAttempt(username=username, at=now, success=False, remote=remote))
        db.commit()
        return None, until
    user = db.exec(select(User).where(User.username == username, User.active == True)).first()  # noqa: E712
    # Hash even for an unknown name, so response time does not tell which names exist.
    ok = verify_password(user.password_hash, password) if user else (verify_password(_DUMMY, password) and False)
    db.add(LoginAttempt(username=username, at=now, success=ok, remote=remote))
    if ok and user:
        user.last_login_at = now
        db.add(user)
    db.commit()
    if ok and user:
        db.refresh(user)
        return user, None
    return None, locked_until(db, username, max_failures, lockout, now)


_DUMMY = _hasher.hash("not a real password")
