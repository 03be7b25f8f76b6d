"""Dashboard fixtures: a migrated, seeded database, the app on it, and logged-in test clients."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from sqlalchemy.engine import Engine
from webhelp import ROOT
from webseed import seed

from robocall.config import reset_settings
from robocall.migrate import upgrade
from robocall.web.app import create_app
from robocall.web.keys import SSE_POLL_SECONDS


@pytest.fixture
def seeded(db_engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, dict[str, int]]:
    monkeypatch.setenv("FLOWS_DIR", str(ROOT / "ivr_flows"))
    monkeypatch.setenv("AUDIO_DIR", str(ROOT / "audio"))
    monkeypatch.setenv("SECRET_KEY", "test secret")
    reset_settings()
    upgrade(db_engine)
    return db_engine, seed(db_engine)


@pytest.fixture
def make_app(seeded: tuple[Engine, dict[str, int]]) -> Iterator[Callable[[], web.Application]]:
    def make() -> web.Application:
        app = create_app()
        app[SSE_POLL_SECONDS] = 0.05  # the live queue reacts within the tests' patience
        return app

    yield make


@pytest.fixture
def live_url(make_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served on a real port from a thread of its own (for clients that speak plain HTTP)."""
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
