"""`robocall asterisk serve` as its own process and `robocall asterisk check`, against the real Asterisk."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from robocall.campaigns.jobs import context, place_call_job
from robocall.commands.asterisk import asterisk as asterisk_cli
from robocall.flows.catalog import forget_loaded_flows
from robocall.models import CallState
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.wiring import wire
from tests.asterisk.calls import FLOW_FILE, add_attempts, check_flow, outcomes
from tests.asterisk.conftest import AMI_SECRET
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
        assert "ok: dialplan context robocall-outbound" in checked.output

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
    assert "cannot use AMI" in result.output and "FastAGI server does not answer" in result.output
