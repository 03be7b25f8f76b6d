"""Dashboard fixtures: a migrated, seeded database, the app on it, and logged-in test clients."""

from __future__ import annotations

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
