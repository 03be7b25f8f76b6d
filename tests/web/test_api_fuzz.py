"""Schemathesis fuzzes /api/v1 from its own OpenAPI document, logged in as each role: no server error,
and every answer matches the schema the document declares (generated from robocall/web/api_models.py).

The app runs on a real port in a thread of its own (schemathesis speaks HTTP through requests); the
number of examples per operation is bounded so the whole run stays within about a minute.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from webseed import PASSWORD, USERS

pytestmark = pytest.mark.db
EXAMPLES = 12  # per operation and role: ~11 operations x 3 roles


@pytest.fixture
def live_url(make_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    app: web.Application = make_app()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30), "the app did not start"
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _logged_in(url: str, role: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(f"{url}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = session.post(f"{url}/login", data={"username": USERS[role], "password": PASSWORD, "csrf_token": token},
                        allow_redirects=False)
    assert done.status_code == 302, done.text
    return session, session.get(f"{url}/api/v1/session").json()["csrf_token"]


@pytest.mark.parametrize("role", ["viewer", "cdc_staff", "admin"])
def test_the_api_answers_every_generated_request_within_its_schema(live_url: str, role: str) -> None:
    document = requests.get(f"{live_url}/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.base_url = live_url  # type: ignore[attr-defined]
    session, csrf = _logged_in(live_url, role)
    cookie = {"robocall_session": session.cookies["robocall_session"]}
    failures: list[str] = []
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(hypothesis.HealthCheck),
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # The cookie given outright: the document declares it as the security scheme, and schemathesis
            # would otherwise send one of its own making.
            response = case.call(base_url=live_url, session=session, headers={"X-CSRF-Token": csrf}, cookies=cookie)
            seen.append(f"{case.method} {case.formatted_path} {response.status_code}")
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                                         content_type_conformance])
            except Exception as exc:  # collected, so every operation is tried before failing
                failures.append(f"{case.method} {case.formatted_path} {response.status_code}: {str(exc)[:400]}")

        check()
    assert failures == []
    # Logged in indeed: the role's own routes answered, not only 401s.
    assert any(entry.endswith(" 200") for entry in seen if "openapi" not in entry and "session" not in entry)
