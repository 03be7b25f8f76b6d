"""Login, logout, lockout, CSRF, sessions."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import csrf_of, login, run_client
from webseed import PASSWORD, USERS

from robocall.accounts import User, verify_password
from robocall.models import AuditLog


def test_passwords_are_stored_as_argon2_hashes(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        user = db.exec(select(User).where(User.username == USERS["viewer"])).one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert verify_password(user.password_hash, PASSWORD) and not verify_password(user.password_hash, "wrong")


def test_login_then_logout(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> None:
        response = await login(client, "cdc_staff")
        assert response.status == 302 and response.headers["Location"] == "/escalations"
        assert (await client.get("/escalations", allow_redirects=False)).status == 200
        token = await csrf_of(client, "/escalations")
        assert (await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)).status == 302
        assert (await client.get("/escalations", allow_redirects=False)).status == 302

    run_client(make_app(), scenario)
    with DbSession(seeded[0]) as db:
        actions = [a.action for a in db.exec(select(AuditLog).where(AuditLog.actor == USERS["cdc_staff"])).all()]
    assert "login" in actions and "logout" in actions


def test_wrong_password_is_refused_and_the_name_locks_after_repeated_failures(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    from robocall.config import reset_settings
    reset_settings()

    async def scenario(client: TestClient) -> list[int]:
        statuses = [(await login(client, "viewer", password="sai mat khau")).status for _ in range(3)]
        # Locked now: even the right password is refused, with the time it unlocks.
        right = await login(client, "viewer")
        text = await right.text()
        assert "tạm khoá" in text
        statuses.append(right.status)
        assert (await client.get("/escalations", allow_redirects=False)).status == 302
        return statuses

    assert run_client(make_app(), scenario) == [401, 401, 429, 429]


def test_a_post_without_the_csrf_token_is_refused(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded

    async def scenario(client: TestClient) -> None:
        await login(client, "cdc_staff")
        url = f"/escalations/{ids['urgent_old']}/acknowledge"
        assert (await client.post(url, data={}, allow_redirects=False)).status == 403
        assert (await client.post(url, data={"csrf_token": "forged"}, allow_redirects=False)).status == 403
        token = await csrf_of(client, "/escalations")
        assert (await client.post(url, data={"csrf_token": token}, allow_redirects=False)).status == 303
        # Login itself is protected too (login CSRF).
        assert (await client.post("/login", data={"username": "x", "password": "y"})).status == 403

    run_client(make_app(), scenario)


def test_login_never_redirects_off_site(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> str:
        token = await csrf_of(client)
        response = await client.post("/login", data={"username": USERS["viewer"], "password": PASSWORD,
                                                     "csrf_token": token, "next": "//evil.example/"},
                                     allow_redirects=False)
        return response.headers["Location"]

    assert run_client(make_app(), scenario) == "/escalations"


def test_disabling_or_demoting_a_user_takes_effect_on_their_next_request(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    app = make_app()

    async def scenario(client: TestClient) -> list[int]:
        from aiohttp.test_utils import TestClient as Client
        from aiohttp.test_utils import TestServer as Server
        await login(client, "cdc_staff")
        statuses = [(await client.get("/escalations", allow_redirects=False)).status]
        async with Client(Server(app)) as admin:
            await login(admin, "admin")
            token = await csrf_of(admin, "/users")
            change = await admin.post(f"/users/{ids['user_cdc_staff']}", data={"csrf_token": token, "role": "viewer",
                                                                              "active": "1"}, allow_redirects=False)
            statuses.append(change.status)
            token = await csrf_of(client, "/escalations")
            # Now a viewer: acting is refused although the session was made for cdc_staff.
            statuses.append((await client.post(f"/escalations/{ids['urgent_old']}/acknowledge",
                                               data={"csrf_token": token}, allow_redirects=False)).status)
            disable = await admin.post(f"/users/{ids['user_cdc_staff']}", allow_redirects=False,
                                       data={"csrf_token": await csrf_of(admin, "/users"), "active": "0"})
            assert disable.status == 303
            statuses.append((await client.get("/escalations", allow_redirects=False)).status)  # logged out
            # An admin cannot lock themselves out.
            statuses.append((await admin.post(f"/users/{ids['user_admin']}", data={"csrf_token": await csrf_of(
                admin, "/users"), "role": "viewer"})).status)
        return statuses

    assert run_client(app, scenario) == [200, 303, 403, 302, 400]
