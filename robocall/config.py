"""Runtime settings.

Read from environment variables and, optionally, a ``.env`` file in the current
directory (environment variables win). Variable names are case-insensitive;
unknown variables are ignored. Relative paths and the default database location
are relative to the current directory, which is taken to be the project root.

The configuration table in the README is generated from the field docstrings
below: edit them, then run ``python -m robocall.config --update README.md``.
The table sits between the markers ``TABLE_START`` and ``TABLE_END``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"

# How a computed default is shown in docs, instead of this machine's path.
_DOC_DEFAULT = "doc_default"


def default_database_url() -> str:
    """SQLite file ``var/robocall.db`` under the current directory."""
    return f"sqlite:///{Path.cwd() / 'var' / 'robocall.db'}"


class Settings(BaseSettings):
    """All settings; attribute ``foo_bar`` is read from variable ``FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        use_attribute_docstrings=True,  # the docstrings become field descriptions
    )

    database_url: str = Field(
        default_factory=default_database_url,
        json_schema_extra={_DOC_DEFAULT: "sqlite:///<cwd>/var/robocall.db"},
    )
    """SQLAlchemy database URL. SQLite (`sqlite:///path`; its directory is created on first use) or PostgreSQL (`postgresql://user:pass@host/db`, driven by psycopg 3)."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis URL for the job queues (RQ) and call state."""

    telephony_backend: Literal["sim", "asterisk", "twilio"] = "sim"
    """Where calls and SMS go: `sim` (built-in simulator, no real calls), `asterisk` or `twilio`."""

    public_base_url: str = "http://127.0.0.1:8080"
    """Base URL at which telephony providers and browsers reach this server (webhooks, audio)."""

    flows_dir: Path = Path("ivr_flows")
    """Directory of the IVR call flow definitions."""

    audio_dir: Path = Path("audio")
    """Directory of recorded and synthesized audio prompts."""

    audio_engine_order: str = "gtts,espeak"
    """Text-to-speech engines tried in order for a prompt with no recorded file (`audio/recorded/`, see audio/README.md): `gtts` (Google's Vietnamese voice, needs the network) and `espeak` (espeak-ng, offline). Empty: recordings only."""

    gtts_timeout: float = Field(default=3.0, gt=0, le=60)
    """Seconds gTTS may wait for Google's answer before the next engine is tried."""

    gtts_tld: str = "com"
    """Google domain gTTS asks (`com`, `com.vn`, ...)."""

    gtts_rest_seconds: float = Field(default=300.0, ge=0)
    """After gTTS fails, seconds during which it is not tried again by the same process (a build or a call without network does not wait on every prompt)."""

    espeak_voices: str = "vi=vi,en=en"
    """espeak-ng voice per flow language (`vi`, `vi-vn-x-central`, `vi-vn-x-south`, ...); a language not listed uses its own code."""

    espeak_speed: int = Field(default=150, ge=80, le=450)
    """espeak-ng speaking speed in words per minute (its default, 175, is fast on a phone line)."""

    timezone: str = "Asia/Ho_Chi_Minh"
    """IANA time zone used for calling hours and schedules."""

    log_level: str = "INFO"
    """Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    call_window: str = "07:30-20:30"
    """Daily window for outbound calls, local time (HH:MM-HH:MM); no call is ever started outside it."""

    retry_ladder: str = "15m,1h,3h"
    """Waits before the next try after busy, no answer or failure, in order (`m` minutes, `h` hours)."""

    daily_attempt_cap: int = 4
    """Most call attempts to one contact in one day."""

    monitoring_days: str = "F1=14,F2=7,returnee=14,other=14"
    """Days of follow-up after the exposure (F1, F2) or return (returnee) date, per category."""

    unreachable_days_to_escalate: int = 2
    """Whole days in a row without reaching a contact before a home visit is escalated."""

    max_channels: int = 30
    """Most simultaneous outbound calls (lines on the trunk)."""

    calls_per_second: float = 5.0
    """Most new outbound calls started per second."""

    caller_ids: str = ""
    """Caller id per carrier, e.g. `Viettel=02343822001,Vinaphone=02343822002,default=02343822000` (people answer numbers on their own network more often)."""

    queue_prefix: str = "robocall"
    """Prefix of the RQ queue names in Redis, so that several deployments can share one Redis."""

    sim_seed: int = 2021
    """Seed of the simulated phone network's residents (TELEPHONY_BACKEND=sim)."""

    sms_sender: str = "CDC"
    """Sender (source address) of outgoing SMS: a brand name registered with the carriers, or a number."""

    sms_quiet_hours: str = "21:00-07:00"
    """Local hours (HH:MM-HH:MM) during which no campaign SMS is sent; messages wait until they end. Replies to one person (SMS declarations) and health notices after a call are not held back. Empty: none."""

    sms_gateways: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"sim": {"kind": "sim", "rate": 2000}},
        json_schema_extra={_DOC_DEFAULT: '{"sim": {"kind": "sim", "rate": 2000}}'},
    )
    """SMS gateways as JSON: name -> {`kind`: `sim`, `smpp`, `http` or `twilio`, `rate` (msg/s, shared by all workers), and the kind's options: smpp `host`, `port`, `system_id`, `password`, `window`, `submit_timeout`, `enquire_link` (seconds, default 30); http `url`, `format` (`json`/`form`), `auth_header`, `auth_value`, `batch`, `timeout`; twilio `account_sid`, `auth_token`, `from` or `messaging_service_sid`, `status_callback`, `inbound_url`, `concurrency`, `timeout`, `api_base`}."""

    sms_routes: str = "default=sim"
    """Gateway per carrier, e.g. `Viettel=viettel_smpp,Vinaphone=vnpt_http,default=sim` (carrier from the number's prefix, or the ported-number table)."""

    sms_batch_size: int = 1000
    """Messages per RQ job when a campaign fans out."""

    sms_max_attempts: int = 3
    """Most tries of one message after transient failures (throttling, timeouts, carrier errors)."""

    sms_retry_seconds: int = 30
    """Wait before retrying a message after a transient failure (doubled at each try)."""

    sms_circuit_failures: int = 5
    """Failed submissions in a row after which a gateway is paused (circuit breaker); other gateways go on."""

    sms_circuit_seconds: int = 60
    """How long a paused gateway rests before it is tried again."""

    sms_submit_lease_seconds: int = 120
    """A message handed to a gateway with no answer after this long (its worker died) is sent again, with the same id."""

    sms_webhook_secret: str = ""
    """Shared secret of the HTTP carrier's delivery-receipt and inbound callbacks (HMAC-SHA256 of the body, hex, in header `X-Signature`). Empty: callbacks refused."""

    sms_api_token: str = ""
    """Bearer token of the SMS campaign HTTP API (`Authorization: Bearer ...`). Empty: the API is off."""

    sms_segment_cost: float = 300.0
    """Price of one SMS segment (VND), for the dry run's cost estimate."""

    sms_declaration_flow: str = "hotline"
    """Flow that an SMS starting with `KB` runs as a dialogue by SMS: the same questions as on the phone, answered by replying with the key (or `có`/`không`, `37.5`, `05/08`); answers and escalations are recorded as for a hotline call."""

    sms_declaration_keys: str = "1"
    """Keys fed to that flow before its first SMS question, to pass a voice menu (comma-separated; hotline: `1` = health declaration). Empty: the dialogue starts at the flow's start."""

    sms_declaration_timeout_minutes: int = Field(default=60, ge=1)
    """An SMS declaration with no reply for this long ends as if the caller had hung up: the answers given are recorded and the flow's rules checked (by `robocall sms run`, or at the person's next SMS)."""

    secret_key: str = ""
    """Secret that signs and encrypts dashboard session cookies (any long random string). Empty: a random key is made at start-up, so everyone is logged out when the server restarts."""

    escalation_sla: str = "urgent=30,test=240,callback=240,watch=720,home_visit=720,report=1440,default=1440"
    """Minutes within which an escalation of each level should be acknowledged; past it the dashboard shows it red (`default` for other levels)."""

    login_max_failures: int = 5
    """Failed logins in a row for one user name before logins for that name are refused for LOGIN_LOCKOUT_MINUTES."""

    login_lockout_minutes: int = 15
    """How long logins stay refused after LOGIN_MAX_FAILURES failures."""

    twilio_account_sid: str = ""
    """Twilio account SID (`AC...`) for phone calls (TELEPHONY_BACKEND=twilio) and the hotline number on Twilio (docs/twilio.md)."""

    twilio_auth_token: str = ""
    """Twilio auth token: signs the REST requests and checks `X-Twilio-Signature` on every voice webhook. Empty: the voice webhooks are not served."""

    twilio_from_number: str = ""
    """Twilio number (E.164) outbound calls come from when CALLER_IDS has none for the callee's carrier (a caller id must be a Twilio number or a verified one)."""

    twilio_calls_per_second: float = Field(default=1.0, gt=0)
    """The Twilio account's calls per second (CPS, 1 unless Twilio raised it), kept by all workers together."""

    twilio_machine_detection: Literal["", "Enable", "DetectMessageEnd"] = "Enable"
    """Answering-machine detection of outbound calls, asynchronous (the flow starts at once; a machine is hung up on and retried by the ladder): `Enable`, `DetectMessageEnd`, or empty for none."""

    twilio_hotline_flow: str = "hotline"
    """Flow that calls to the Twilio hotline number run (its voice URL is PUBLIC_BASE_URL/twilio/voice/inbound)."""

    twilio_api_base: str = "https://api.twilio.com"
    """Base URL of Twilio's REST API (a local peer in tests)."""

    twilio_timeout: float = Field(default=10.0, gt=0, le=60)
    """Seconds a request to Twilio's REST API may take."""

    @field_validator("public_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// followed by a host")
        return value.rstrip("/")  # callers join paths with "/..."

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("audio_engine_order")
    @classmethod
    def _check_audio_engines(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in {"gtts", "espeak"}]
        if unknown:
            raise ValueError(f"unknown text-to-speech engine {unknown[0]!r} (use gtts, espeak)")
        return ",".join(names)

    @property
    def audio_engines(self) -> list[str]:
        return [name for name in self.audio_engine_order.split(",") if name]

    @property
    def espeak_voice_map(self) -> dict[str, str]:
        pairs = (part.partition("=") for part in self.espeak_voices.split(","))
        return {language.strip(): voice.strip() for language, _, voice in pairs if voice.strip()}

    def sla_minutes(self, level: str) -> int:
        """Minutes to acknowledge an escalation of `level` (ESCALATION_SLA)."""
        table = {k.strip(): int(v) for k, _, v in (p.partition("=") for p in self.escalation_sla.split(",")) if v}
        return table.get(level, table.get("default", 1440))

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call :func:`reset_settings`."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings so the next :func:`get_settings` rereads them."""
    get_settings.cache_clear()


def _doc_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and _DOC_DEFAULT in extra:
        return str(extra[_DOC_DEFAULT])
    default: Any = field.get_default(call_default_factory=False)
    return str(default)


def _table_cell(text: str) -> str:
    # One line per row; a bare "|" would end the cell.
    return " ".join(text.split()).replace("|", "\\|")


def settings_table_markdown() -> str:
    """A Markdown table of all settings: variable, default and meaning."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        variable = f"`{name.upper()}`"
        default = f"`{_table_cell(_doc_default(field))}`"
        meaning = _table_cell(field.description or "")
        lines.append(f"| {variable} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def replace_settings_table(text: str) -> str:
    """``text`` with the part between the table markers replaced by a fresh table."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START} ... {TABLE_END} block found")
    head = text[: start + len(TABLE_START)]
    return f"{head}\n{settings_table_markdown()}{text[end:]}"


def _main(argv: list[str]) -> None:
    """Print the table, or with ``--update FILE`` rewrite it inside FILE."""
    if argv[:1] == ["--update"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(replace_settings_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_table_markdown(), end="")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
