"""`robocall asterisk serve` as its own process and `robocall asterisk check`, against the real Asterisk."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from robocall.audio.render import Renderer
from robocall.campaigns.jobs import context, place_call_job
from robocall.commands.asterisk import asterisk as asterisk_cli
from robocall.config import reset_settings
from robocall.conversations.calls import RecordedCalls
from robocall.flows.catalog import forget_loaded_flows
from robocall.models import CallState
from robocall.telephony.asterisk.instance import AsteriskProcess, free_port
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.wiring import wire
from simulator.carriers import LoopThread
from tests.asterisk.calls import FLOW_FILE, add_attempts, check_flow, outcomes
from tests.asterisk.conftest import AMI_SECRET, VN_TZ, audio_settings
from tests.asterisk.residents import BUSY, residents_conf

ROOT = Path(__file__).parents[2]


def asterisk_env(asterisk: AsteriskProcess, agi_port: int, db_url: str, audio_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url, "FLOWS_DIR": str(FLOW_FILE.parent), "TELEPHONY_BACKEND": "asterisk",
        "ASTERISK_HOST": "127.0.0.1", "ASTERISK_AMI_PORT": str(asterisk.layout.ami_port),
        "ASTERISK_AMI_USER": asterisk.layout.ami_user, "ASTERISK_AMI_SECRET": AMI_SECRET,
        "ASTERISK_AGI_LISTEN": f"127.0.0.1:{agi_port}", "AUDIO_DIR": str(audio_dir),
        "AUDIO_ENGINE_ORDER": "espeak", "ESPEAK_SPEED": "190",
        "ASTERISK_DIAL_TEMPLATES": "default=Local/{national}@residents", "ASTERISK_AMD": "false",
        "ASTERISK_RING_TIMEOUT": "5",
    }


def test_serve_process_records_calls_placed_by_the_dialer_job_and_check_passes(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, db_url: str, agi_port: int,
        audio_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        "0912000002": ["Answer()", "Wait(1.6)", "SendDTMF(2)", "Wait(10)"], "0912000007": BUSY})})
    env = asterisk_env(asterisk, agi_port, db_url, audio_dir)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    serve = subprocess.Popen([sys.executable, "-m", "robocall.cli", "asterisk", "serve"], cwd=ROOT,
                             env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        checked = None
        for _ in range(50):
            checked = CliRunner().invoke(asterisk_cli, ["check", "--timeout", "5"])
            if checked.exit_code == 0:
                break
            time.sleep(0.2)
        assert checked is not None and checked.exit_code == 0, checked.output
        assert "ok [asterisk]: có ngữ cảnh [robocall-outbound] / dialplan context robocall-outbound" in checked.output
        assert "this Asterisk reaches the FastAGI server" in checked.output

        flow = check_flow()
        ids = add_attempts(migrated, ["+84912000002", "+84912000007"], flow.name, dt.date.today())
        # The dialer's own job, with the backend the registry builds for TELEPHONY_BACKEND=asterisk.
        wire()
        context.cache_clear()
        forget_loaded_flows()
        try:
            for attempt_id in ids.values():
                assert place_call_job(attempt_id, dt.datetime.now(dt.UTC).isoformat()) == CallState.DIALLING
            assert place_call_job(ids["+84912000002"], dt.datetime.now(dt.UTC).isoformat()) == CallState.DIALLING
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                found = outcomes(migrated, ids)
                if all(o["state"] not in (CallState.DIALLING,) for o in found.values()):
                    break
                time.sleep(0.3)
        finally:
            context().backend.ami.close()  # type: ignore[attr-defined]
            context.cache_clear()
        assert found["+84912000002"]["state"] == CallState.COMPLETED
        assert found["+84912000002"]["answers"] == {"fever": False}
        assert found["+84912000007"]["state"] == CallState.BUSY
    finally:
        serve.terminate()
        out, _ = serve.communicate(timeout=10)
    assert b"Traceback" not in out, out.decode()


def test_check_says_what_is_wrong(asterisk: AsteriskProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTERISK_AMI_PORT", str(asterisk.layout.ami_port))
    monkeypatch.setenv("ASTERISK_AMI_SECRET", "not-the-secret")
    monkeypatch.setenv("ASTERISK_AGI_LISTEN", "127.0.0.1:1")
    result = CliRunner().invoke(asterisk_cli, ["check", "--timeout", "2"])
    assert result.exit_code == 1
    assert "refused the login of robocall" in result.output and "FastAGI server does not answer" in result.output
    assert "từ chối đăng nhập" in result.output  # Vietnamese first


def test_check_checks_every_server_and_names_what_is_wrong_with_each(
        asterisk: AsteriskProcess, agi_port: int, audio_dir: Path, migrated: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ami_port = asterisk.layout.ami_port
    servers = {"hanoi": {"host": "127.0.0.1", "ami_port": ami_port},
               "hue": {"host": "127.0.0.1", "ami_port": ami_port, "secret_env": "AMI_SECRET_HUE"},  # wrong secret
               "hcm": {"host": "127.0.0.1", "ami_port": free_port()}}  # nothing listens there
    monkeypatch.setenv("ASTERISK_SERVERS", json.dumps(servers))
    monkeypatch.setenv("ASTERISK_AMI_SECRET", AMI_SECRET)
    monkeypatch.setenv("AMI_SECRET_HUE", "not-the-secret")
    monkeypatch.setenv("ASTERISK_AGI_LISTEN", f"127.0.0.1:{agi_port}")
    flow = check_flow()
    prompts = RenderedPrompts(Renderer(audio_settings(audio_dir)), {flow.name: flow})
    config = ServiceConfig("127.0.0.1", ami_port, "robocall", AMI_SECRET, "127.0.0.1", agi_port, "",
                           {"default": flow.name})
    loop = LoopThread()

    async def start() -> AsteriskService:  # built on the loop it runs on (its AMI tasks)
        started = AsteriskService(config, RecordedCalls(migrated, {flow.name: flow}, VN_TZ), prompts)
        await started.start()
        return started

    service = loop.call(start())
    try:
        result = CliRunner().invoke(asterisk_cli, ["check", "--timeout", "3"])
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert "ok: máy chủ FastAGI trả lời" in result.output
        assert any(line.startswith("ok [hanoi]:") and "this Asterisk reaches the FastAGI server" in line
                   for line in lines), result.output
        assert not any(line.startswith("LỖI / PROBLEM [hanoi]") for line in lines), result.output
        assert any(line.startswith("LỖI / PROBLEM [hue]:") and "refused the login" in line for line in lines)
        assert any(line.startswith("LỖI / PROBLEM [hcm]:") and "cannot connect to AMI" in line for line in lines)

        monkeypatch.setenv("ASTERISK_SERVERS", json.dumps({"hanoi": servers["hanoi"]}))
        reset_settings()
        good = CliRunner().invoke(asterisk_cli, ["check", "--timeout", "3"])
        assert good.exit_code == 0, good.output
    finally:
        loop.call(service.close())
        loop.stop()
    # The serve process is gone: the server itself says it cannot reach the FastAGI server.
    result = CliRunner().invoke(asterisk_cli, ["check", "--timeout", "3"])
    assert result.exit_code == 1
    assert "LỖI / PROBLEM [hanoi]: Asterisk này không tới được máy chủ FastAGI" in result.output
