"""Prompt audio over HTTP: public files with caching headers and 304s, and players on the flow page.

(Here rather than in tests/audio/ to use the dashboard's seeded app and logged-in clients.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from webhelp import ROOT, login, run_client

from robocall.audio import Renderer, prompts_of
from robocall.audio.build import build
from robocall.config import reset_settings
from robocall.flows.loader import load_flows

TINY = """\
name: tiny
title: Tiny
languages: [vi]
start: tam_biet
nodes:
  tam_biet:
    say: {vi: "Cảm ơn quý vị. Tạm biệt."}
    hangup: true
"""


@pytest.fixture
def built(seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    flows_dir = tmp_path / "flows"
    shutil.copytree(ROOT / "ivr_flows", flows_dir)
    (flows_dir / "tiny.yaml").write_text(TINY, encoding="utf-8")
    monkeypatch.setenv("FLOWS_DIR", str(flows_dir))
    monkeypatch.setenv("AUDIO_DIR", str(tmp_path / "audio"))
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "espeak")
    reset_settings()
    flows, _ = load_flows([flows_dir])
    (result,) = build(Renderer(), prompts_of(flows["tiny"]), ["asterisk", "twilio"]).results
    return result[1].paths


def test_audio_is_served_publicly_with_caching_headers_and_304s(make_app, built) -> None:  # type: ignore[no-untyped-def]
    wav, mp3 = built["asterisk"], built["twilio"]

    async def scenario(client: TestClient) -> None:
        response = await client.get(f"/audio/{wav.name}")  # no login: Twilio fetches it
        assert response.status == 200
        assert response.content_type == "audio/wav"
        assert await response.read() == wav.read_bytes()
        etag = response.headers["ETag"]
        assert etag.startswith('"') and len(etag) == 34
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        assert response.headers["Last-Modified"].endswith("GMT")

        again = await client.get(f"/audio/{wav.name}", headers={"If-None-Match": etag})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag
        listed = await client.get(f"/audio/{wav.name}", headers={"If-None-Match": f'"other", W/{etag}'})
        assert listed.status == 304
        changed = await client.get(f"/audio/{wav.name}", headers={"If-None-Match": '"something-else"'})
        assert changed.status == 200 and await changed.read() == wav.read_bytes()
        since = await client.get(f"/audio/{wav.name}",
                                 headers={"If-Modified-Since": response.headers["Last-Modified"]})
        assert since.status == 304

        compressed = await client.get(f"/audio/{mp3.name}")
        assert compressed.status == 200 and compressed.content_type == "audio/mpeg"
        assert compressed.headers["ETag"] != etag
        head = await client.head(f"/audio/{mp3.name}")
        assert head.status == 200

    run_client(make_app(), scenario)


@pytest.mark.parametrize("path", [
    "/audio/" + "0" * 32 + ".wav",  # well-formed, never rendered
    "/audio/" + "0" * 32 + ".txt",  # not an audio format
    "/audio/..%2F.secret",
    "/audio/../cache/.secret",
    "/audio/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/audio/.secret",
])
def test_unknown_or_crafted_audio_paths_are_404(make_app, built, path: str) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> int:
        return (await client.get(path)).status

    assert run_client(make_app(), scenario) == 404


def test_the_flow_page_has_a_player_for_each_rendered_prompt(make_app, built) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> tuple[str, str]:
        await login(client, "viewer")
        tiny = await (await client.get("/diagrams/tiny")).text()
        hotline = await (await client.get("/diagrams/hotline")).text()
        return tiny, hotline

    tiny, hotline = run_client(make_app(), scenario)
    assert f'<audio controls preload="none" src="/audio/{built["twilio"].name}"></audio>' in tiny
    assert "Cảm ơn quý vị. Tạm biệt." in tiny
    assert "<audio" not in hotline and "chưa có âm thanh" in hotline  # never built
