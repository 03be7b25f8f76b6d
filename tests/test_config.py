"""Settings: defaults, environment and .env, validation, and the README table."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from robocall import config
from robocall.config import (
    Settings,
    get_settings,
    reset_settings,
    settings_table_markdown,
)

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No settings from the developer's environment or .env; cwd is an empty dir."""
    names = set(Settings.model_fields)
    for key in list(os.environ):
        if key.lower() in names:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/var/robocall.db"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.telephony_backend == "sim"
    assert settings.public_base_url == "http://127.0.0.1:8080"
    assert settings.flows_dir == Path("ivr_flows")
    assert settings.audio_dir == Path("audio")
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.tzinfo.key == "Asia/Ho_Chi_Minh"
    assert settings.log_level == "INFO"


def test_reading_settings_creates_no_directories(tmp_path: Path) -> None:
    Settings()
    assert list(tmp_path.iterdir()) == []  # var/ appears only when the database is used


def test_environment_variables_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEPHONY_BACKEND", "twilio")
    monkeypatch.setenv("redis_url", "redis://redis.internal:6380/2")
    monkeypatch.setenv("Flows_Dir", "/srv/flows")
    settings = Settings()
    assert settings.telephony_backend == "twilio"
    assert settings.redis_url == "redis://redis.internal:6380/2"
    assert settings.flows_dir == Path("/srv/flows")


def test_dotenv_in_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "TELEPHONY_BACKEND=asterisk\n"
        "LOG_LEVEL=debug\n"
        "SOMETHING_ELSE=ignored\n"
        "DATABASE_URL=postgresql://robocall@db/robocall\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LOG_LEVEL", "warning")  # the environment wins over .env
    settings = Settings()
    assert settings.telephony_backend == "asterisk"
    assert settings.log_level == "WARNING"
    assert settings.database_url == "postgresql://robocall@db/robocall"


def test_unknown_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOCALL_UNKNOWN", "x")
    monkeypatch.setenv("PATHX", "y")
    assert Settings().telephony_backend == "sim"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEPHONY_BACKEND", "skype"),
        ("TIMEZONE", "Mars/Olympus_Mons"),
        ("LOG_LEVEL", "chatty"),
        ("PUBLIC_BASE_URL", "ftp://example.org"),
        ("PUBLIC_BASE_URL", "127.0.0.1:8080"),
    ],
)
def test_invalid_values_are_rejected(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.lower()):
        Settings()


def test_public_base_url_without_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://robocall.example.org/")
    assert Settings().public_base_url == "https://robocall.example.org"


def test_get_settings_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("TELEPHONY_BACKEND", "asterisk")
    assert get_settings() is first
    assert get_settings().telephony_backend == "sim"
    reset_settings()
    assert get_settings().telephony_backend == "asterisk"


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 10, f"{name} has no docstring"


def test_settings_table_lists_every_setting() -> None:
    lines = settings_table_markdown().splitlines()
    assert lines[:2] == ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    rows = [line.split(" | ") for line in lines[2:]]
    assert [row[0] for row in rows] == [f"| `{name.upper()}`" for name in Settings.model_fields]
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    table = "\n".join(lines)
    assert "| `TIMEZONE` | `Asia/Ho_Chi_Minh` | IANA time zone" in table
    # The default database is shown generically, not with this machine's path.
    assert "`sqlite:///<cwd>/var/robocall.db`" in table
    assert str(Path.cwd()) not in table


def test_replace_settings_table() -> None:
    text = f"# Title\n\n{config.TABLE_START}\nold table\n{config.TABLE_END}\n\nMore.\n"
    updated = config.replace_settings_table(text)
    assert updated == (
        f"# Title\n\n{config.TABLE_START}\n{settings_table_markdown()}{config.TABLE_END}\n\nMore.\n"
    )
    assert config.replace_settings_table(updated) == updated
    with pytest.raises(ValueError):
        config.replace_settings_table("no markers here")


def test_readme_table_is_up_to_date() -> None:
    text = README.read_text(encoding="utf-8")
    assert config.TABLE_START in text, (
        f"README.md needs a configuration table between {config.TABLE_START} and {config.TABLE_END}"
    )
    assert config.replace_settings_table(text) == text, (
        "README.md configuration table is stale: run `python -m robocall.config --update README.md`"
    )


# --- typed settings: the environment's small languages, parsed once -------------------------------


def test_typed_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALL_WINDOW", "08:00-20:00")
    monkeypatch.setenv("RETRY_LADDER", "30s, 15m,2h")
    monkeypatch.setenv("MONITORING_DAYS", "F1=21")
    monkeypatch.setenv("CALLER_IDS", "Viettel=02343822001,default=02343822000")
    monkeypatch.setenv("SMS_QUIET_HOURS", "")
    monkeypatch.setenv("SMS_GATEWAYS", '{"vt": {"kind": "smpp", "host": "smsc", "port": 2775}, '
                                       '"tw": {"kind": "twilio", "from": "+15005550006"}}')
    monkeypatch.setenv("SMS_ROUTES", "Viettel=vt,default=tw")
    monkeypatch.setenv("SMS_DECLARATION_KEYS", "1, 2")
    monkeypatch.setenv("ESCALATION_SLA", "urgent=15,default=600")
    settings = Settings()
    assert settings.call_window == config.TimeWindow(dt.time(8), dt.time(20))
    assert settings.retry_ladder == (dt.timedelta(seconds=30), dt.timedelta(minutes=15), dt.timedelta(hours=2))
    assert settings.monitoring_days == {"F1": 21}
    assert settings.caller_ids == {"Viettel": "02343822001", "default": "02343822000"}
    assert settings.sms_quiet_hours is None
    smpp, twilio = settings.sms_gateways["vt"], settings.sms_gateways["tw"]
    assert isinstance(smpp, config.SmppGatewayConfig) and (smpp.port, smpp.window, smpp.rate) == (2775, 50, 100.0)
    assert isinstance(twilio, config.TwilioGatewayConfig) and twilio.from_ == "+15005550006"
    assert settings.sms_routes == {"viettel": "vt", "default": "tw"}
    assert settings.sms_declaration_keys == ("1", "2")
    assert (settings.sla_minutes("urgent"), settings.sla_minutes("watch")) == (15, 600)


def test_typed_defaults() -> None:
    settings = Settings()
    assert settings.call_window == config.TimeWindow(dt.time(7, 30), dt.time(20, 30))
    assert settings.sms_quiet_hours == config.TimeWindow(dt.time(21), dt.time(7))
    assert settings.sms_routes == {"default": "sim"}
    assert settings.sms_gateways == {"sim": config.SimGatewayConfig(kind="sim", rate=2000)}
    assert settings.sla_minutes("urgent") == 30


def test_a_window_may_cross_midnight() -> None:
    window = config.TimeWindow.parse("21:00-07:00")
    assert window.contains(dt.time(23)) and window.contains(dt.time(6, 59)) and not window.contains(dt.time(7))
    assert str(window) == "21:00-07:00"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALL_WINDOW", "7h-20h", "CALL_WINDOW '7h-20h': should be HH:MM-HH:MM"),
        ("CALL_WINDOW", "20:00-08:00", "CALL_WINDOW '20:00-08:00': should end after it starts, within one day"),
        ("SMS_QUIET_HOURS", "21:00", "SMS_QUIET_HOURS '21:00': should be HH:MM-HH:MM"),
        ("RETRY_LADDER", "15m,1d", "RETRY_LADDER '15m,1d': '1d' should be a number followed by s, m or h"),
        ("RETRY_LADDER", " , ", "RETRY_LADDER ' , ': should list at least one wait"),
        ("MONITORING_DAYS", "F1=two", "MONITORING_DAYS 'F1=two': 'two' for F1 should be a whole number"),
        ("ESCALATION_SLA", "urgent", "ESCALATION_SLA 'urgent': 'urgent' should be NAME=VALUE"),
        ("CALLER_IDS", "Viettel", "CALLER_IDS 'Viettel': 'Viettel' should be NAME=VALUE"),
        ("SMS_ROUTES", "Viettel=nowhere,default=sim", "SMS_ROUTES names gateways not in SMS_GATEWAYS: nowhere"),
        ("SMS_GATEWAYS", "{not json", "SMS_GATEWAYS '{not json': should be JSON"),
        ("SMS_GATEWAYS", '{"vt": {"kind": "smpp", "host": "smsc"}}', "SMS_GATEWAYS vt.smpp.port: Field required"),
        ("SMS_GATEWAYS", '{"vt": {"kind": "fax"}}', "SMS_GATEWAYS vt: Input tag 'fax'"),
        ("SMS_GATEWAYS", '{"vt": {"kind": "sim", "rates": 5}}', "SMS_GATEWAYS vt.sim.rates: Extra inputs"),
    ],
)
def test_bad_values_fail_at_load_naming_the_variable(
    variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(config.SettingsError) as raised:
        config.load_settings()
    assert str(raised.value).startswith(message)


def test_several_routes_need_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_GATEWAYS", '{"a": {"kind": "sim"}, "b": {"kind": "sim"}}')
    monkeypatch.setenv("SMS_ROUTES", "Viettel=a")
    with pytest.raises(config.SettingsError, match="needs a default=... route"):
        config.load_settings()
    monkeypatch.setenv("SMS_GATEWAYS", '{"a": {"kind": "sim"}}')
    assert config.load_settings().sms_routes == {"viettel": "a", "default": "a"}


def test_the_cli_prints_bad_settings_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from robocall.cli import cli

    reset_settings()
    result = CliRunner().invoke(cli, ["report"], env={"CALL_WINDOW": "7h-20h", "RETRY_LADDER": "soon"})
    reset_settings()
    assert result.exit_code == 2
    assert "CALL_WINDOW '7h-20h': should be HH:MM-HH:MM" in result.output
    assert "RETRY_LADDER 'soon'" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, config.SettingsError)


@pytest.mark.parametrize("entry", ["worker", "serve"])  # `python -m robocall.worker_main`, `python server.py`
def test_entry_points_outside_the_group_also_exit_2(entry: str) -> None:
    from robocall.commands.serve import serve
    from robocall.worker_main import worker

    command = {"worker": worker, "serve": serve}[entry]
    result = CliRunner().invoke(command, [], env={"SMS_QUIET_HOURS": "late"})
    reset_settings()
    assert result.exit_code == 2
    assert "SMS_QUIET_HOURS 'late': should be HH:MM-HH:MM" in result.output


SECRET_NAME = re.compile("secret|token|password")


def test_secrets_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret has a value in the code (a default would be the same in every province's install);
    each is read from the environment.  SMS_GATEWAYS' passwords and tokens and the several Asterisk
    servers' secrets (ASTERISK_SERVERS' `secret_env`) are environment variables as well."""
    secrets = sorted(name for name in Settings.model_fields if SECRET_NAME.search(name))
    assert {"secret_key", "twilio_auth_token", "asterisk_ami_secret", "sms_webhook_secret", "sms_api_token",
            "metrics_token"} <= set(secrets)
    defaults = Settings()
    assert {name: getattr(defaults, name) for name in secrets} == {name: "" for name in secrets}
    for name in secrets:
        monkeypatch.setenv(name.upper(), f"from-the-environment-{name}")
    settings = Settings()
    assert all(getattr(settings, name) == f"from-the-environment-{name}" for name in secrets)
