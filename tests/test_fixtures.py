"""The shared fixtures in conftest.py do what the other tests rely on."""

from __future__ import annotations

import os

import pytest
import redis

from robocall.config import get_settings


def test_redis_url_fixture_gives_empty_dedicated_db(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.connection_pool.connection_kwargs["db"] == int(os.environ.get("ROBOCALL_TEST_REDIS_DB", "15"))
        assert client.dbsize() == 0  # flushed before the test
        client.set("robocall:test:key", "value")
        assert client.get("robocall:test:key") == b"value"
    finally:
        client.close()


def test_redis_url_fixture_is_what_the_app_sees(redis_url: str) -> None:
    assert os.environ["REDIS_URL"] == redis_url
    assert get_settings().redis_url == redis_url


def test_db_url_fixture_marks_test_and_sets_database_url(
    db_url: str, db_backend: str, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("db") is not None
    assert get_settings().database_url == db_url
    assert db_url.startswith("sqlite:///" if db_backend == "sqlite" else "postgresql+psycopg://")
