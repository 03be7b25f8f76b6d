"""The whole web app as `robocall serve` runs it (every middleware), served on a loop of its own, for
tests that post to it from plain functions (hypothesis' @given cannot be async)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from robocall.config import get_settings, reset_settings
from robocall.web.app import create_app
from simulator.carriers import LoopThread

Post = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


@contextmanager
def posting_to_the_app() -> Iterator[Post]:
    """A `post(path, body, headers) -> (status, text)` to the app made from the settings now in force."""
    reset_settings()
    loop = LoopThread()

    async def up() -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(get_settings())))
        await client.start_server()
        return client

    client = loop.call(up(), timeout=60)

    def send(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async def go() -> tuple[int, str]:
            response = await client.post(path, data=body, headers=headers)
            return response.status, await response.text()
        return loop.call(go(), timeout=30)  # type: ignore[no-any-return]

    try:
        yield send
    finally:
        loop.call(client.close(), timeout=30)
        loop.stop()
