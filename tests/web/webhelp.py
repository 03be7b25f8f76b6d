"""Helpers for dashboard tests: log in through the real form, run a scenario against a test client.

(Kept out of conftest.py: several conftest modules exist, and `import conftest` would pick any one.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from webseed import PASSWORD, USERS

ROOT = Path(__file__).parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client: TestClient, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF.search(await response.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: TestClient, role: str | None, password: str = PASSWORD) -> Any:
    """Log in as the seeded user of `role` (None: stay anonymous)."""
    if role is None:
        return None
    token = await csrf_of(client)
    return await client.post("/login", data={"username": USERS[role], "password": password, "csrf_token": token,
                                             "next": "/escalations"}, allow_redirects=False)


def run_client(app: web.Application, scenario: Callable[[TestClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)
    return asyncio.run(main())


def logged_in_session(url: str, role: str) -> tuple[requests.Session, str]:
    """A requests session logged in as the seeded user of `role` on a live server, and its CSRF token."""
    session = requests.Session()
    page = session.get(f"{url}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = session.post(f"{url}/login", data={"username": USERS[role], "password": PASSWORD, "csrf_token": token},
                        allow_redirects=False)
    assert done.status_code == 302, done.text
    return session, session.get(f"{url}/api/v1/session").json()["csrf_token"]


def pages_in_both_languages(app: web.Application, role: str, paths: list[str]) -> dict[tuple[str, str], str]:
    """Each page's HTML as `role` reads it in Vietnamese and in English, keyed (lang, path); each must be a 200."""
    async def scenario(client: TestClient) -> dict[tuple[str, str], str]:
        await login(client, role)
        pages = {}
        for lang in ("vi", "en"):
            for path in paths:
                joiner = "&" if "?" in path else "?"
                response = await client.get(f"{path}{joiner}lang={lang}")
                assert response.status == 200, path
                pages[(lang, path)] = await response.text()
        return pages
    return run_client(app, scenario)  # type: ignore[no-any-return]
