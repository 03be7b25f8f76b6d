"""Guessing and stolen sessions: the lockout's counting, an admin's unlock, the per-address throttle,
the password policy, revocable sessions, and redirects after login."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import csrf_of, login, run_client
from webseed import PASSWORD, USERS

from robocall.accounts import AccountError, add_user, authenticate, check_password, locked_until
from robocall.config import reset_settings
from robocall.models import AuditLog

pytestmark = pytest.mark.db
LOCK = dt.timedelta(minutes=15)
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def test_tries_refused_during_a_lock_do_not_extend_it(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        for i in range(5):
            authenticate(db, USERS["viewer"], "sai", max_failures=5, lockout=LOCK, now=T0 + dt.timedelta(seconds=i))
        # One wrong guess every 14 minutes during the lock...
        for minutes in (14, 28):
            _, until = authenticate(db, USERS["viewer"], "sai", max_failures=5, lockout=LOCK,
                                    now=T0 + dt.timedelta(minutes=minutes, seconds=10))
            assert until is None or until <= T0 + LOCK + dt.timedelta(seconds=5)
        # ...and the lock ended 15 minutes after the failures that caused it.
        assert locked_until(db, USERS["viewer"], 5, LOCK, T0 + dt.timedelta(minutes=30)) is None
        user, _ = authenticate(db, USERS["viewer"], PASSWORD, max_failures=5, lockout=LOCK,
                               now=T0 + dt.timedelta(minutes=30))
    assert user is not None


def test_a_wrong_guess_now_and_then_never_locks(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        for i in range(12):
            _, until = authenticate(db, USERS["viewer"], "sai", max_failures=5, lockout=LOCK,
                                    now=T0 + dt.timedelta(minutes=14 * i))
            assert until is None


def test_locked_login_says_when_to_retry_and_an_admin_can_unlock(make_app, seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    reset_settings()
    engine, ids = seeded
    app = make_app()

    async def scenario(client: TestClient) -> None:
        for _ in range(3):
            await login(client, "viewer", password="sai mat khau")
        locked = await login(client, "viewer")
        assert locked.status == 429 and 800 < int(locked.headers["Retry-After"]) <= 900
        async with TestClient(TestServer(app)) as admin:
            await login(admin, "admin")
            page = await (await admin.get("/users")).text()
            assert f'action="/users/{ids["user_viewer"]}/unlock"' in page
            token = await csrf_of(admin, "/users")
            done = await admin.post(f"/users/{ids['user_viewer']}/unlock", data={"csrf_token": token},
                                    allow_redirects=False)
            assert done.status == 303
            assert (await login(client, "viewer")).status == 302

    run_client(app, scenario)
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "user_unlock")).one()
    assert entry.actor == USERS["admin"] and entry.detail["username"] == USERS["viewer"]


def test_password_spraying_from_one_address_is_throttled(make_app, seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOGIN_ADDRESS_FAILURES", "4")
    reset_settings()

    async def scenario(client: TestClient) -> list[tuple[int, str | None]]:
        out = []
        for n in range(6):  # a different name each time: no per-name lock applies
            token = await csrf_of(client)
            response = await client.post("/login", data={"username": f"nguoi_{n}", "password": "Mua he 2021!",
                                                         "csrf_token": token}, allow_redirects=False)
            out.append((response.status, response.headers.get("Retry-After")))
        # Even the right password waits: the address is refused before any password is checked.
        out.append(((await login(client, "viewer")).status, None))
        return out

    answers = run_client(make_app(), scenario)
    assert [s for s, _ in answers] == [401, 401, 401, 401, 429, 429, 429]
    assert 0 < int(answers[4][1] or 0) <= 15 * 60


@pytest.mark.parametrize(("password", "why"), [
    ("ngắn quá", "12"), ("password1234", "dễ đoán"), ("123456789012", "dễ đoán"), ("qwertyuiopas", "dễ đoán"),
    ("xem-xem-2021-xem", "tên đăng nhập"), ("a" * 300, "256"),
])
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(AccountError, match=why):
        check_password(password, "xem")


def test_a_user_name_that_reads_like_another_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded  # quan_tri exists
    for twin in ("Quản_Trị", "quan.tri", "QUAN TRI", "quan_trị"):
        with pytest.raises(AccountError, match="nhầm"):
            add_user(engine, twin, "admin", "cây bàng trước cổng trạm y tế")


def test_logout_ends_every_copy_of_the_session(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    app = make_app()

    async def scenario(client: TestClient) -> list[int]:
        await login(client, "cdc_staff")
        stolen = {c.key: c.value for c in client.session.cookie_jar}
        async with TestClient(TestServer(app)) as thief:
            thief.session.cookie_jar.update_cookies(stolen)
            before = (await thief.get("/api/v1/session")).status
            token = await csrf_of(client, "/escalations")
            await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
            return [before, (await thief.get("/api/v1/session")).status]

    assert run_client(app, scenario) == [200, 401]


def test_a_new_password_ends_open_sessions(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    from robocall.accounts import change_user
    engine, _ = seeded

    async def scenario(client: TestClient) -> list[int]:
        await login(client, "viewer")
        before = (await client.get("/api/v1/session")).status
        change_user(engine, USERS["viewer"], password="một mật khẩu mới rất dài")
        return [before, (await client.get("/api/v1/session")).status]

    assert run_client(make_app(), scenario) == [200, 401]


def test_the_live_stream_ends_with_the_session_and_then_gets_a_clean_401(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    from robocall.accounts import end_sessions
    engine, ids = seeded

    async def scenario(client: TestClient) -> tuple[str, int, str, int]:
        await login(client, "viewer")
        response = await client.get("/escalations/stream")
        lines: list[str] = []

        async def read_until(event: str) -> None:
            while f"event: {event}" not in lines:
                lines.append((await response.content.readline()).decode().strip())

        await asyncio.wait_for(read_until("hello"), 5)
        end_sessions(engine, ids["user_viewer"])
        await asyncio.wait_for(read_until("logout"), 5)
        response.close()
        rest = "\n".join(lines)
        again = await client.get("/escalations/stream", headers={"Accept": "text/event-stream"},
                                 allow_redirects=False)
        partial = await client.get("/escalations?partial=1", headers={"X-Requested-With": "fetch"},
                                   allow_redirects=False)
        return rest, again.status, await again.text(), partial.status

    rest, status, text, partial = run_client(make_app(), scenario)
    assert "event: logout" in rest and status == 401 and "<html" not in text and partial == 401


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/\\evil.example", "//evil.example",
                                    "/%2F/evil.example", "https://evil.example", "/\t/evil.example"])
def test_login_never_redirects_off_site(make_app, seeded, target: str) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> str:
        token = await csrf_of(client)
        response = await client.post("/login", data={"username": USERS["viewer"], "password": PASSWORD,
                                                     "csrf_token": token, "next": target}, allow_redirects=False)
        return response.headers["Location"]

    assert run_client(make_app(), scenario) == "/escalations"


def test_a_deep_link_keeps_its_query_through_login(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> tuple[str, str]:
        first = await client.get("/lists/monitoring?district=Huyện Phú Lộc&as_of=2021-08-13", allow_redirects=False)
        form = await (await client.get(first.headers["Location"])).text()
        token = await csrf_of(client)
        import re
        next_value = re.search(r'name="next" value="([^"]*)"', form).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        done = await client.post("/login", data={"username": USERS["viewer"], "password": PASSWORD,
                                                 "csrf_token": token, "next": next_value}, allow_redirects=False)
        return next_value, done.headers["Location"]

    next_value, location = run_client(make_app(), scenario)
    assert "district=" in location and "as_of=2021-08-13" in location

