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
from zxcvbn import zxcvbn

from robocall.models import stored_utc, utcnow
from robocall.text import search_fold


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
    # Comma-separated districts this user sees and acts on; empty: the whole province.
    districts: str = ""
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
    """A user cannot be created as asked (unknown role, taken name, weak password)."""


PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256  # argon2 hashes any length; a cap keeps a megabyte "password" from costing CPU
# zxcvbn's score (0-4): 3 is "safely unguessable: moderate protection from an offline attack".  Its
# dictionaries (common passwords from breaches, names, words, keyboard patterns) ship with the package.
PASSWORD_MIN_SCORE = 3
# Words anyone would try against this server.
_SITE_WORDS = ["robocall", "cdc", "hue", "covid", "matkhau", "admin", "quantri"]


def _name_key(username: str) -> str:
    """What two user names are told apart by, for a person reading them: letters and digits, folded; 0/o and 1/l alike."""
    return search_fold(username).replace(" ", "").translate(str.maketrans("01", "ol"))


def check_password(password: str, username: str) -> None:
    """Refuse a password a guesser would find: too short or too long, common or breached (zxcvbn),
    or made from the user name (``xem2021xem``, ``Xem@12345678``: folded, so accents and case do not hide it)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"mật khẩu cần ít nhất {PASSWORD_MIN_LENGTH} ký tự / "
                           f"the password must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"mật khẩu dài quá {PASSWORD_MAX_LENGTH} ký tự / "
                           f"the password must have at most {PASSWORD_MAX_LENGTH} characters")
    name = search_fold(username).replace(" ", "")
    if len(name) >= 3 and name in search_fold(password).replace(" ", ""):
        raise AccountError("mật khẩu không được chứa tên đăng nhập / the password must not contain the user name")
    result = zxcvbn(password[:100], user_inputs=[username, name, *_SITE_WORDS])  # zxcvbn is slow on long input
    if result["score"] < PASSWORD_MIN_SCORE:
        hint = result["feedback"].get("warning") or "too easy to guess"
        raise AccountError(f"mật khẩu quá dễ đoán (mật khẩu phổ biến, từ điển hoặc lặp lại): chọn câu dài hơn / "
                           f"the password is too easy to guess ({hint}): use a longer phrase")


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


def districts_text(districts: str) -> str:
    """A user's districts as stored: comma-separated, trimmed, each once, in the order given."""
    seen: list[str] = []
    for district in districts.split(","):
        if district.strip() and district.strip() not in seen:
            seen.append(district.strip())
    return ",".join(seen)


def add_user(engine: Engine, username: str, role: str, password: str, districts: str = "") -> User:
    username = username.strip()
    if not username:
        raise AccountError("the user name is empty")
    if role not in {r.value for r in Role}:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}")
    if len(username) > 100:
        raise AccountError("tên đăng nhập dài quá 100 ký tự / the user name must have at most 100 characters")
    check_password(password, username)
    with DbSession(engine) as db:
        if db.exec(select(User).where(User.username == username)).first():
            raise AccountError(f"user {username!r} already exists")
        # A name that reads like another (case, accents, dots, underscores: "Quản.Trị" beside "quan_tri")
        # would pass for that person in the audit log and in assignments.
        key = _name_key(username)
        twin = next((u.username for u in db.exec(select(User)).all() if _name_key(u.username) == key), None)
        if twin:
            raise AccountError(f"tên {username!r} dễ nhầm với {twin!r} / the name {username!r} looks like {twin!r}")
        user = User(username=username, role=role, password_hash=hash_password(password),
                    districts=districts_text(districts))
        db.add(user)
        db.commit()
        db.refresh(user)
        return user


def change_user(engine: Engine, username: str, *, password: str | None = None, active: bool | None = None,
                districts: str | None = None) -> User:
    """Set a new password (which also lifts a lockout), switch the account off/on (either ends the
    account's open sessions), or set the districts it covers ("" for the whole province)."""
    with DbSession(engine) as db:
        user = db.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise AccountError(f"no user {username!r}")
        if password is not None:
            check_password(password, username)
            user.password_hash = hash_password(password)
            # A success in the attempts breaks the run of failures: the lockout ends.
            db.add(LoginAttempt(username=username, success=True, remote="password reset"))
        if active is not None:
            user.active = active
        if districts is not None:
            user.districts = districts_text(districts)
        if password is not None or active is not None:
            user.session_version += 1
        db.add(user)
        db.commit()
        db.refresh(user)
        return user


def locked_until(db: DbSession, username: str, max_failures: int, lockout: dt.timedelta,
                 now: dt.datetime) -> dt.datetime | None:
    """When the name is locked, until when: `max_failures` wrong passwords within `lockout` of each other,
    none followed by a success, lock it until `lockout` after the first of them.  The window slides, so a
    wrong guess now and then never adds up to a lock, and a lock ends on time whatever is tried during it
    (tries refused during a lock are not attempts: `authenticate` does not record them)."""
    recent = db.exec(select(LoginAttempt).where(LoginAttempt.username == username,
                                                col(LoginAttempt.at) > now - lockout)
                     .order_by(col(LoginAttempt.at).desc(), col(LoginAttempt.id).desc()).limit(max_failures)).all()
    if len(recent) < max_failures or any(a.success for a in recent):
        return None
    until = stored_utc(recent[-1].at) + lockout
    return until if until > now else None


def unlock(engine: Engine, username: str, by: str) -> None:
    """Lift a lockout now (an admin's action): a success in the attempts breaks the run of failures."""
    with DbSession(engine) as db:
        if db.exec(select(User).where(User.username == username)).first() is None:
            raise AccountError(f"no user {username!r}")
        db.add(LoginAttempt(username=username, success=True, remote=f"unlocked by {by}"[:200]))
        db.commit()


def end_sessions(engine: Engine, user_id: int) -> None:
    """End every open session of the account (log-out everywhere): the next request of each is refused."""
    with DbSession(engine) as db:
        user = db.get(User, user_id)
        if user is not None:
            user.session_version += 1
            db.add(user)
            db.commit()


def authenticate(db: DbSession, username: str, password: str, *, max_failures: int, lockout: dt.timedelta,
                 remote: str = "", now: dt.datetime | None = None) -> tuple[User | None, dt.datetime | None]:
    """(user, None) on success; (None, locked_until) when locked; (None, None) on a wrong name or password.

    Every checked try is recorded; a locked name's tries are refused without checking the password (so
    guessing stays locked out even with the right password) and are not recorded as attempts, so they
    cannot stretch the lock (the web layer audits them).
    """
    now = now or utcnow()
    until = locked_until(db, username, max_failures, lockout, now)
    if until:
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
