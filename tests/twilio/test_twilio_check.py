"""`robocall twilio check` against the local peer and our webhooks."""

from __future__ import annotations

from click.testing import CliRunner
from voicehelp import VoiceWorld

from robocall.cli import cli
from robocall.telephony.twilio.check import run_checks


def test_a_ready_deployment_passes_but_plain_http_is_flagged(voice: VoiceWorld) -> None:
    checks = {c.name: c for c in run_checks(voice.settings)}
    assert checks["credentials"].ok and checks["caller id"].ok and checks["server"].ok
    assert checks["voice webhooks"].ok and "403" in checks["voice webhooks"].detail
    assert not checks["https"].ok  # the test server is http


def test_wrong_credentials_a_foreign_number_and_an_unreachable_base_url_fail(voice: VoiceWorld) -> None:
    wrong = voice.settings.model_copy(update={"twilio_auth_token": "wrong"})
    assert [c.ok for c in run_checks(wrong) if c.name == "credentials"] == [False]
    foreign = voice.settings.model_copy(update={"twilio_from_number": "+842400000000"})
    assert [c.ok for c in run_checks(foreign) if c.name == "caller id"] == [False]
    nowhere = voice.settings.model_copy(update={"public_base_url": "http://127.0.0.1:9"})
    assert [c.ok for c in run_checks(nowhere) if c.name == "server"] == [False]


def test_the_command_exits_non_zero_when_a_check_fails(voice: VoiceWorld) -> None:
    result = CliRunner().invoke(cli, ["twilio", "check"])
    assert result.exit_code == 1
    assert "OK  credentials" in result.output and "FAIL https" in result.output
