"""The server loads flows once: broken ones are refused with their problems, valid ones served."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from robocall.config import reset_settings
from robocall.web.app import create_app

ROOT = Path(__file__).parents[2]


async def _get_all(app, *paths: str) -> list[tuple[int, dict]]:  # type: ignore[no-untyped-def]
    async with TestClient(TestServer(app)) as client:
        results = []
        for path in paths:
            response = await client.get(path)
            results.append((response.status, await response.json()))
        return results


def test_broken_flow_is_refused_and_the_valid_ones_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(ROOT / "ivr_flows" / "hotline.yaml", tmp_path)
    shutil.copy(ROOT / "tests" / "flows" / "broken" / "unreachable.yaml", tmp_path)
    monkeypatch.setenv("FLOWS_DIR", str(tmp_path))
    reset_settings()
    with caplog.at_level("ERROR"):
        app = create_app()
    message = "nút 'bi_bo_quen' không bao giờ tới được từ 'a' / node 'bi_bo_quen' can never be reached from 'a'"
    problem = f"{tmp_path / 'unreachable.yaml'}:10: {message}"
    assert problem in caplog.text
    (status, body), (_, health) = asyncio.run(_get_all(app, "/flows", "/health"))
    assert status == 200
    assert [f["name"] for f in body["flows"]] == ["hotline"]
    # The log keeps the full path for the operator; the public answer only the file within the flows folder.
    assert body["problems"] == [f"unreachable.yaml:10: {message}"]
    assert str(tmp_path) not in str(body) and body["flows"][0]["file"] == "hotline.yaml"
    assert health == {"status": "ok", "flows": ["hotline"]}


def test_the_server_header_does_not_name_aiohttp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWS_DIR", str(ROOT / "ivr_flows"))
    reset_settings()

    async def headers() -> list[str]:
        async with TestClient(TestServer(create_app())) as client:
            return [(await client.get(path)).headers.get("Server", "") for path in ("/health", "/nowhere", "/login")]

    assert asyncio.run(headers()) == ["robocall", "robocall", "robocall"]
