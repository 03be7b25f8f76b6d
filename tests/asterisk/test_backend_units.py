"""The pure parts of the Asterisk backend: dial strings, action ids, settings, configuration rendering."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from robocall.config import Settings, SettingsError, load_settings
from robocall.models import CallState
from robocall.telephony.asterisk.backend import (
    REASON_STATES,
    action_id_for,
    dial_string,
    originate_fields,
    parse_action_id,
)
from robocall.telephony.asterisk.conf import AsteriskLayout, render, render_template
from robocall.telephony.asterisk.settings import servers
from robocall.telephony.base import CallRequest

TEMPLATES = {"Viettel": "SIP/{national}@viettel", "default": "PJSIP/{e164}@vnpt"}


def test_dial_string_per_carrier_with_a_default() -> None:
    assert dial_string(TEMPLATES, "+84961234567") == "SIP/0961234567@viettel"  # 096: Viettel
    assert dial_string(TEMPLATES, "+84912345678") == "PJSIP/+84912345678@vnpt"
    assert dial_string({"default": "Local/{digits}@t"}, "+84912345678") == "Local/84912345678@t"
    with pytest.raises(ValueError, match="no route for carrier"):
        dial_string({"Viettel": "SIP/{national}@viettel"}, "+84912345678")


def test_the_action_id_carries_the_attempt_and_the_dial_time() -> None:
    at = dt.datetime(2026, 12, 4, 9, 30, 1, 250000, tzinfo=dt.UTC)
    request = CallRequest(42, "+84912345678", "02343822000", at, "f1_f2_followup")
    assert parse_action_id(action_id_for(request)) == (42, at)
    assert parse_action_id("asterisk-7") is None and parse_action_id("robocall-x-1") is None
    fields = originate_fields(request, TEMPLATES, 25, amd=False)
    assert fields["channel"] == "PJSIP/+84912345678@vnpt" and fields["timeout_ms"] == 25000
    assert fields["variables"] == {"ROBOCALL_ATTEMPT": "42", "ROBOCALL_FLOW": "f1_f2_followup",
                                   "ROBOCALL_DIALLED": at.isoformat(), "ROBOCALL_AMD": "no",
                                   "GROUP(robocall)": "line"}  # counted by the hotline's channel check
    assert REASON_STATES["5"] == CallState.BUSY and "4" not in REASON_STATES


def test_settings_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTERISK_DIAL_TEMPLATES", "Viettel=SIP/{national}@viettel, default = Local/{national}@r,")
    monkeypatch.setenv("ASTERISK_AGI_LISTEN", ":4573")
    settings = load_settings()
    assert settings.asterisk_dial_templates == {"Viettel": "SIP/{national}@viettel", "default": "Local/{national}@r"}
    assert settings.asterisk_agi_listen == ("0.0.0.0", 4573)
    monkeypatch.setenv("ASTERISK_DIAL_TEMPLATES", "viettel")
    with pytest.raises(SettingsError, match="ASTERISK_DIAL_TEMPLATES 'viettel': 'viettel' should be NAME=VALUE"):
        load_settings()
    monkeypatch.delenv("ASTERISK_DIAL_TEMPLATES")
    monkeypatch.setenv("ASTERISK_AGI_LISTEN", "4573")
    with pytest.raises(SettingsError, match="ASTERISK_AGI_LISTEN '4573': should be host:port"):
        load_settings()


def test_rendering_refuses_a_missing_secret_a_long_run_folder_and_unknown_placeholders(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no value for placeholder.*@NOPE@"):
        render_template("x = @NOPE@", {}, "t.conf.in")
    layout = AsteriskLayout(prefix=tmp_path, etc=tmp_path / "etc", run=tmp_path / "run")
    with pytest.raises(ValueError, match="ASTERISK_AMI_SECRET"):
        render(layout)
    deep = tmp_path / ("d" * 120)
    with pytest.raises(ValueError, match="too long"):
        render(AsteriskLayout(prefix=tmp_path, etc=tmp_path / "etc", run=deep, ami_secret="s"))
    conf = render(AsteriskLayout(prefix=tmp_path, etc=tmp_path / "etc", run=tmp_path / "r", ami_secret="s3",
                                 agi_url="agi://10.0.0.5:4573"))
    manager = (conf.parent / "manager.conf").read_text()
    assert "secret = s3" in manager and "write = originate,call,reporting" in manager
    assert "ROBOCALL_AGI = agi://10.0.0.5:4573" in (conf.parent / "extensions.conf").read_text()
    assert not [p.name for p in conf.parent.glob("*.conf") if re.search(r"@[A-Z][A-Z0-9_]*@", p.read_text())]


def test_several_servers_from_settings_with_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMI_SECRET_HUE", "s-hue")
    found = servers(Settings(asterisk_ami_secret="s-main", asterisk_servers={
        "hanoi": {"host": "10.0.0.5", "channel_limit": 60},
        "hue": {"host": "10.0.1.5", "ami_port": 5039, "secret_env": "AMI_SECRET_HUE"}}))
    assert [(s.endpoint.name, s.endpoint.host, s.endpoint.port, s.endpoint.secret, s.channel_limit) for s in found] == [
        ("hanoi", "10.0.0.5", 5038, "s-main", 60), ("hue", "10.0.1.5", 5039, "s-hue", 30)]
    with pytest.raises(ValueError, match=r"ASTERISK_SERVERS\['x'\]: the AMI secret in NOPE is empty"):
        servers(Settings(asterisk_servers={"x": {"host": "h", "secret_env": "NOPE"}}))
    monkeypatch.setenv("ASTERISK_SERVERS", '{"x": {"hots": "h"}}')
    with pytest.raises(SettingsError, match=r"ASTERISK_SERVERS x.host: Field required\nASTERISK_SERVERS x.hots: Extra"):
        load_settings()
