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

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"

# How a computed default is shown in docs, instead of this machine's path.
_DOC_DEFAULT = "doc_default"


def default_database_url() -> str:
    """SQLite file ``var/robocall.db`` under the current directory."""
    return f"sqlite:///{Path.cwd() / 'var' / 'robocall.db'}"


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each variable and what it should be."""


# --- the small languages of the environment variables, parsed once at start-up ---------------------


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Local hours ``HH:MM-HH:MM``; the end is excluded, and a window may run past midnight (21:00-07:00)."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        start, sep, end = text.partition("-")
        try:
            if not sep:
                raise ValueError
            return cls(dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip()))
        except ValueError:
            raise ValueError("should be HH:MM-HH:MM") from None

    def contains(self, local: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_day_window(text: str) -> TimeWindow:
    """A window within one day: calls are placed between its start and its end on each local day."""
    window = TimeWindow.parse(text)
    if window.end <= window.start:
        raise ValueError("should end after it starts, within one day (HH:MM-HH:MM)")
    return window


def parse_optional_window(text: str) -> TimeWindow | None:
    """An empty text is no window at all."""
    return TimeWindow.parse(text) if text.strip() else None


def parse_pairs(text: str) -> dict[str, str]:
    """``a=1, b=2`` -> {"a": "1", "b": "2"}."""
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{item!r} should be NAME=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def parse_counts(text: str) -> dict[str, int]:
    """``F1=14,F2=7`` -> {"F1": 14, "F2": 7}."""
    counts = {}
    for key, value in parse_pairs(text).items():
        if not value.isdigit():
            raise ValueError(f"{value!r} for {key} should be a whole number")
        counts[key] = int(value)
    return counts


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}


def parse_duration(text: str) -> dt.timedelta:
    """``15m`` -> 15 minutes (``s``, ``m`` or ``h``)."""
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"{text!r} should be a number followed by s, m or h (e.g. 15m)")
    return dt.timedelta(**{_UNITS[text[-1]]: float(text[:-1])})


def parse_ladder(text: str) -> tuple[dt.timedelta, ...]:
    """``15m,1h,3h`` -> the waits in order; at least one."""
    steps = tuple(parse_duration(step) for step in text.split(",") if step.strip())
    if not steps:
        raise ValueError("should list at least one wait, e.g. 15m,1h,3h")
    return steps


def parse_list(text: str) -> tuple[str, ...]:
    """``1, 2`` -> ("1", "2"); empty items dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:4573`` -> ("127.0.0.1", 4573); ``:4573`` listens on every address."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("should be host:port")
    return host or "0.0.0.0", int(port)


TTS_ENGINES = ("gtts", "espeak")


def parse_engines(text: str) -> tuple[str, ...]:
    """``gtts, espeak`` -> ("gtts", "espeak"): text-to-speech engines in the order they are tried."""
    names = tuple(name.lower() for name in parse_list(text))
    unknown = [name for name in names if name not in TTS_ENGINES]
    if unknown:
        raise ValueError(f"unknown text-to-speech engine {unknown[0]!r} (use gtts, espeak)")
    return names


DEFAULT_ROUTE = "default"


def parse_routes(text: str) -> dict[str, str]:
    """``Viettel=a,default=b`` -> {"viettel": "a", "default": "b"} (carrier names case-insensitive)."""
    routes: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        carrier, sep, gateway = item.partition("=")
        if not sep or not gateway.strip():
            raise ValueError(f"{item!r} is not carrier=gateway")
        routes[carrier.strip().lower()] = gateway.strip()
    return routes


def resolve_routes(routes: dict[str, str], gateways: Iterable[str]) -> dict[str, str]:
    """`routes` checked against the configured gateways, with the one gateway as default when none is named."""
    known = set(gateways)
    unknown = sorted(set(routes.values()) - known)
    if unknown:
        raise ValueError(f"SMS_ROUTES names gateways not in SMS_GATEWAYS: {', '.join(unknown)}")
    if DEFAULT_ROUTE not in routes:
        if len(known) != 1:
            raise ValueError("SMS_ROUTES needs a default=... route when several gateways are configured")
        routes = {**routes, DEFAULT_ROUTE: next(iter(known))}
    return routes


# --- SMS gateways: one model per kind, told apart by `kind` ------------------------------------------

DEFAULT_RATE = 100.0


class _Gateway(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    rate: float = Field(default=DEFAULT_RATE, gt=0)  # msg/s, shared by all workers


class SimGatewayConfig(_Gateway):
    kind: Literal["sim"]


class SmppGatewayConfig(_Gateway):
    kind: Literal["smpp"]
    host: str
    port: int
    system_id: str = ""
    password: str = ""
    window: int = Field(default=50, ge=1)
    submit_timeout: float = Field(default=30.0, gt=0)
    enquire_link: float = Field(default=30.0, gt=0)


class HttpGatewayConfig(_Gateway):
    kind: Literal["http"]
    url: str
    format: Literal["json", "form"] = "json"
    auth_header: str = "Authorization"
    auth_value: str = ""
    batch: int = Field(default=100, ge=1)
    timeout: float = Field(default=10.0, gt=0)


TWILIO_API = "https://api.twilio.com"


class TwilioGatewayConfig(_Gateway):
    kind: Literal["twilio"]
    account_sid: str = ""
    auth_token: str = ""
    from_: str = Field(default="", alias="from")
    messaging_service_sid: str = ""
    status_callback: str = ""
    inbound_url: str = ""
    concurrency: int = Field(default=50, ge=1)
    timeout: float = Field(default=10.0, gt=0)
    api_base: str = TWILIO_API

    def webhook_url(self, gateway: str, hook: str, public_base_url: str) -> str:
        """The public URL Twilio posts `hook` ("status" or "inbound") to, and signs."""
        chosen = self.status_callback if hook == "status" else self.inbound_url
        return chosen or f"{public_base_url.rstrip('/')}/sms/twilio/{gateway}/{hook}"


class AsteriskServerConfig(BaseModel):
    """One Asterisk server of ASTERISK_SERVERS; its AMI secret is read from the variable `secret_env`."""

    model_config = ConfigDict(extra="forbid")
    host: str
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str | None = None  # None: ASTERISK_AMI_USER
    secret_env: str = "ASTERISK_AMI_SECRET"
    channel_limit: int = Field(default=30, ge=1)


GatewayConfig = Annotated[
    SimGatewayConfig | SmppGatewayConfig | HttpGatewayConfig | TwilioGatewayConfig, Field(discriminator="kind")
]


def _default_gateways() -> dict[str, SimGatewayConfig | SmppGatewayConfig | HttpGatewayConfig | TwilioGatewayConfig]:
    return {"sim": SimGatewayConfig(kind="sim", rate=2000)}


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"should be JSON ({exc})") from None


# --- how a typed setting is read and shown -------------------------------------------------------

SimProfile = Literal["province", "outbreak"]  # the simulator's resident mixes (simulator/population.py)

T = TypeVar("T")


def _from_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """Text (environment, .env) goes through `parse`; typed values (defaults, tests) are kept."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _default(text: str, parse: Callable[[str], T]) -> Any:
    """A default written as the variable would be, parsed by the same function; shown as written."""
    return Field(default_factory=lambda: parse(text), json_schema_extra={_DOC_DEFAULT: text})


DayWindow = Annotated[TimeWindow, NoDecode, _from_text(parse_day_window)]
OptionalWindow = Annotated[TimeWindow | None, NoDecode, _from_text(parse_optional_window)]
Ladder = Annotated[tuple[dt.timedelta, ...], NoDecode, _from_text(parse_ladder)]
Counts = Annotated[dict[str, int], NoDecode, _from_text(parse_counts)]
Pairs = Annotated[dict[str, str], NoDecode, _from_text(parse_pairs)]
Routes = Annotated[dict[str, str], NoDecode, _from_text(parse_routes)]
Words = Annotated[tuple[str, ...], NoDecode, _from_text(parse_list)]
Engines = Annotated[tuple[str, ...], NoDecode, _from_text(parse_engines)]
HostPort = Annotated[tuple[str, int], NoDecode, _from_text(parse_host_port)]
OptionalHostPort = Annotated[tuple[str, int] | None, NoDecode,
                             _from_text(lambda text: parse_host_port(text) if text.strip() else None)]
Gateways = Annotated[dict[str, GatewayConfig], NoDecode, _from_text(_json_object)]


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
    """Where calls go: `sim` (the built-in simulated phone network, no real calls), `asterisk` (AMI and FastAGI, docs/asterisk.md) or `twilio` (Programmable Voice). SMS go through SMS_GATEWAYS."""

    public_base_url: str = "http://127.0.0.1:8080"
    """Base URL at which telephony providers and browsers reach this server (webhooks, audio)."""

    flows_dir: Path = Path("ivr_flows")
    """Directory of the IVR call flow definitions."""

    audio_dir: Path = Path("audio")
    """Directory of recorded and synthesized audio prompts."""

    audio_engine_order: Engines = _default("gtts,espeak", parse_engines)
    """Text-to-speech engines tried in order for a prompt with no recorded file (`audio/recorded/`, see audio/README.md): `gtts` (Google's Vietnamese voice, needs the network) and `espeak` (espeak-ng, offline). Empty: recordings only."""

    gtts_timeout: float = Field(default=3.0, gt=0, le=60)
    """Seconds gTTS may wait for Google's answer before the next engine is tried."""

    gtts_tld: str = "com"
    """Google domain gTTS asks (`com`, `com.vn`, ...)."""

    gtts_rest_seconds: float = Field(default=300.0, ge=0)
    """After gTTS fails, seconds during which it is not tried again by the same process (a build or a call without network does not wait on every prompt)."""

    espeak_voices: Pairs = _default("vi=vi,en=en", parse_pairs)
    """espeak-ng voice per flow language (`vi`, `vi-vn-x-central`, `vi-vn-x-south`, ...); a language not listed uses its own code."""

    espeak_speed: int = Field(default=150, ge=80, le=450)
    """espeak-ng speaking speed in words per minute (its default, 175, is fast on a phone line)."""

    timezone: str = "Asia/Ho_Chi_Minh"
    """IANA time zone used for calling hours and schedules."""

    log_level: str = "INFO"
    """Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    log_format: Literal["text", "json"] = "text"
    """Log lines as `text` or `json` (one JSON object per line, with the request, RQ job, call attempt and SMS ids as fields, for a log collector); phone numbers are masked in both."""

    metrics_token: str = ""
    """Bearer token Prometheus sends to scrape `/metrics` (`Authorization: Bearer ...`). Empty: `/metrics` answers 404 (docs/deploy.md, "Observability")."""

    metrics_listen: OptionalHostPort = _default("", lambda text: None)
    """host:port on which a process without a web server (`robocall asterisk serve`: its FastAGI sessions) serves its own `/metrics` for Prometheus; bind it to the admin network. Empty: not served."""

    ready_timeout: float = Field(default=2.0, gt=0, le=30)
    """Seconds each check of `/ready` (database, Redis, SMS gateways, Asterisk servers) may take before it counts as failed."""

    retention_days: int = Field(default=0, ge=0)
    """Days after a person's follow-up ends before `robocall purge` removes their personal data (numbers, names, answers, SMS texts, per-call audio); escalations keep their counts. 0: keep everything until `robocall purge --before DATE` is run by hand."""

    call_window: DayWindow = _default("07:30-20:30", parse_day_window)
    """Daily window for outbound calls, local time (HH:MM-HH:MM); no call is ever started outside it."""

    retry_ladder: Ladder = _default("15m,1h,3h", parse_ladder)
    """Waits before the next try after busy, no answer or failure, in order (`m` minutes, `h` hours)."""

    daily_attempt_cap: int = 4
    """Most call attempts to one contact in one day."""

    monitoring_days: Counts = _default("F1=14,F2=7,returnee=14,other=14", parse_counts)
    """Days of follow-up after the exposure (F1, F2) or return (returnee) date, per category."""

    unreachable_days_to_escalate: int = 2
    """Whole days in a row without reaching a contact before a home visit is escalated."""

    max_channels: int = 30
    """Most simultaneous calls (lines on the trunk). With Asterisk the dialer plans by the channel limits of the servers that are up, capped by this only when it is set."""

    calls_per_second: float = 5.0
    """Most new outbound calls started per second."""

    call_lease_seconds: int = Field(default=120, gt=0)
    """A call planned but not dialled after this long (the worker holding it died) is handed to another worker, at its planned time; one already dialled is never dialled again."""

    international_calls: bool = False
    """Whether the dialer calls contacts whose number is foreign (imported and flagged either way)."""

    caller_ids: Pairs = _default("", parse_pairs)
    """Caller id per carrier, e.g. `Viettel=02343822001,Vinaphone=02343822002,default=02343822000` (people answer numbers on their own network more often)."""

    queue_prefix: str = "robocall"
    """Prefix of the RQ queue names in Redis, so that several deployments can share one Redis."""

    sim_seed: int = 2021
    """Seed of the simulated phone network's residents (TELEPHONY_BACKEND=sim)."""

    sim_profile: SimProfile = "province"
    """Mix of simulated residents: `province` (the rates a province saw in 2021: a few percent ill, most reached at the first or second try) or `outbreak` (a tenth ill, many asking for help: a stress test)."""

    sms_sender: str = "CDC"
    """Sender (source address) of outgoing SMS: a brand name registered with the carriers, or a number."""

    sms_quiet_hours: OptionalWindow = _default("21:00-07:00", parse_optional_window)
    """Local hours (HH:MM-HH:MM) during which no campaign SMS is sent; messages wait until they end. Replies to one person (SMS declarations) and health notices after a call are not held back. Empty: none."""

    sms_gateways: Gateways = Field(
        default_factory=_default_gateways,
        json_schema_extra={_DOC_DEFAULT: '{"sim": {"kind": "sim", "rate": 2000}}'},
    )
    """SMS gateways as JSON: name -> {`kind`: `sim`, `smpp`, `http` or `twilio`, `rate` (msg/s, shared by all workers), and the kind's options: smpp `host`, `port`, `system_id`, `password`, `window`, `submit_timeout`, `enquire_link` (seconds, default 30); http `url`, `format` (`json`/`form`), `auth_header`, `auth_value`, `batch`, `timeout`; twilio `account_sid`, `auth_token`, `from` or `messaging_service_sid`, `status_callback`, `inbound_url`, `concurrency`, `timeout`, `api_base`}; options left out take their defaults, unknown ones are refused."""

    asterisk_host: str = "127.0.0.1"
    """Asterisk server the dialer and the AGI service talk to over AMI (TELEPHONY_BACKEND=asterisk)."""

    asterisk_ami_port: int = 5038
    """TCP port of Asterisk's manager interface (AMI)."""

    asterisk_ami_user: str = "robocall"
    """AMI user (a `manager.conf` section with read=call,system,reporting and write=originate,call,reporting)."""

    asterisk_ami_secret: str = ""
    """AMI secret of that user; keep it in the environment, not in files under version control."""

    asterisk_channel_limit: int = Field(default=30, ge=1)
    """Most calls this Asterisk server may carry at once (its trunks' channels); its dialplan's ROBOCALL_CHANNEL_LIMIT must say the same (hotline calls beyond it are refused busy)."""

    asterisk_servers: dict[str, AsteriskServerConfig] = Field(default_factory=dict, json_schema_extra={_DOC_DEFAULT: "{}"})
    """Several Asterisk servers as JSON: name -> {`host`, `ami_port`, `ami_user`, `secret_env` (the variable holding its AMI secret, default ASTERISK_AMI_SECRET), `channel_limit`}; each call goes to the logged-in server with the most free channels. Empty: the one server of ASTERISK_HOST."""

    asterisk_dial_templates: Pairs = _default("default=SIP/{national}@trunk", parse_pairs)
    """Dial string per carrier, e.g. `Viettel=SIP/{national}@viettel,Vinaphone=PJSIP/{e164}@vnpt,default=SIP/{national}@trunk`; `{national}` is 0912345678, `{e164}` +84912345678, `{digits}` 84912345678."""

    asterisk_ring_timeout: int = Field(default=30, ge=5)
    """Seconds a dialled phone may ring before the call counts as not answered."""

    asterisk_amd: bool = True
    """Run answering-machine detection (AMD()) on answered outbound calls; a machine is left the flow's `voicemail` (if it has one) and retried like no answer."""

    asterisk_agi_listen: HostPort = _default("127.0.0.1:4573", parse_host_port)
    """host:port the FastAGI server (`robocall asterisk serve`) listens on; Asterisk's dialplan points `AGI(agi://...)` here."""

    asterisk_sounds_dir: str = ""
    """Where Asterisk sees `AUDIO_DIR/cache/asterisk/` (the prompts `robocall audio build` renders) when it runs on another machine; empty: the same path (Asterisk on this machine)."""

    asterisk_hotline_flows: Pairs = _default("default=hotline", parse_pairs)
    """Flow per number dialled in (DID) on the hotline, e.g. `19009095=hotline,default=hotline`."""

    sms_routes: Routes = _default("default=sim", parse_routes)
    """Gateway per carrier, e.g. `Viettel=viettel_smpp,Vinaphone=vnpt_http,default=sim` (carrier from the number's prefix, or the ported-number table)."""

    sms_batch_size: int = 1000
    """Messages per RQ job when a campaign fans out."""

    sms_max_attempts: int = 3
    """Most tries of one message after transient failures (timeouts, carrier errors); a carrier's "slow
    down" (throttling) or one that can't be reached at all costs no try."""

    sms_retry_seconds: int = 30
    """Wait before retrying a message after a transient failure (doubled at each try)."""

    sms_circuit_failures: int = 5
    """Failed submissions in a row after which a gateway is paused (circuit breaker); other gateways go on."""

    sms_circuit_seconds: int = 60
    """How long a paused gateway rests before it is tried again."""

    sms_submit_lease_seconds: int = 120
    """A message handed to a gateway with no answer after this long (its worker died) is sent again, with the same id."""

    sms_webhook_secret: str = ""
    """Shared secret of the HTTP carrier's delivery-receipt and inbound callbacks (header `X-Timestamp`: Unix seconds; `X-Signature`: hex HMAC-SHA256 of `<timestamp>.<body>`). Empty: callbacks refused."""

    sms_webhook_tolerance_seconds: int = 300
    """How far a carrier callback's X-Timestamp may be from our clock; older deliveries are refused as replays, and each delivery is taken once within twice this time."""

    sms_api_token: str = ""
    """Bearer token of the SMS campaign HTTP API (`Authorization: Bearer ...`). Empty: the API is off."""

    sms_segment_cost: float = 300.0
    """Price of one SMS segment (VND), for the dry run's cost estimate."""

    sms_declaration_flow: str = "hotline"
    """Flow that an SMS starting with `KB` runs as a dialogue by SMS: the same questions as on the phone, answered by replying with the key (or `có`/`không`, `37.5`, `05/08`); answers and escalations are recorded as for a hotline call."""

    sms_declaration_keys: Words = _default("1", parse_list)
    """Keys fed to that flow before its first SMS question, to pass a voice menu (comma-separated; hotline: `1` = health declaration). Empty: the dialogue starts at the flow's start."""

    sms_declaration_timeout_minutes: int = Field(default=60, ge=1)
    """An SMS declaration with no reply for this long ends as if the caller had hung up: the answers given are recorded and the flow's rules checked (by `robocall sms run`, or at the person's next SMS)."""

    secret_key: str = ""
    """Secret that signs and encrypts dashboard session cookies (any long random string). Empty: a random key is made at start-up, so everyone is logged out when the server restarts."""

    escalation_sla: Counts = _default(
        "urgent=30,test=240,callback=240,watch=720,home_visit=720,report=1440,default=1440", parse_counts
    )
    """Minutes within which an escalation of each level should be acknowledged; past it the dashboard shows it red (`default` for other levels)."""

    login_max_failures: int = 5
    """Failed logins in a row for one user name before logins for that name are refused for LOGIN_LOCKOUT_MINUTES."""

    login_lockout_minutes: int = 15
    """How long logins stay refused after LOGIN_MAX_FAILURES failures within that many minutes (an admin can unlock on /users)."""

    login_address_failures: int = 30
    """Failed logins from one client address (any user names) within LOGIN_LOCKOUT_MINUTES before that address is refused (429 with Retry-After) until the window passes: password spraying. Generous, since a CDC office shares one address."""

    twilio_account_sid: str = ""
    """Twilio account SID (`AC...`) for phone calls (TELEPHONY_BACKEND=twilio) and the hotline number on Twilio (docs/twilio.md)."""

    twilio_auth_token: str = ""
    """Twilio auth token: signs the REST requests and checks `X-Twilio-Signature` on every voice webhook. Empty: the voice webhooks are not served."""

    twilio_from_number: str = ""
    """Twilio number (E.164) outbound calls come from when CALLER_IDS has none for the callee's carrier (a caller id must be a Twilio number or a verified one)."""

    twilio_calls_per_second: float = Field(default=1.0, gt=0)
    """The Twilio account's calls per second (CPS, 1 unless Twilio raised it), kept by all workers together."""

    twilio_machine_detection: Literal["", "Enable", "DetectMessageEnd"] = "Enable"
    """Answering-machine detection of outbound calls, asynchronous (the flow starts at once; a machine is hung up on, or left the flow's `voicemail`, and retried by the ladder): `Enable`, `DetectMessageEnd`, or empty for none. A flow with a voicemail always uses DetectMessageEnd."""

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

    @model_validator(mode="after")
    def _check_routes(self) -> Settings:
        self.sms_routes = resolve_routes(self.sms_routes, self.sms_gateways)
        return self

    def sla_minutes(self, level: str) -> int:
        """Minutes to acknowledge an escalation of `level` (ESCALATION_SLA)."""
        return self.escalation_sla.get(level, self.escalation_sla.get("default", 1440))

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def describe_errors(error: ValidationError) -> str:
    """One line per problem, naming the variable: ``CALL_WINDOW '7h-20h': should be HH:MM-HH:MM``."""
    lines = []
    for problem in error.errors(include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in problem["loc"]]
        if not loc:  # a check across variables: its message names them
            lines.append(message)
            continue
        where = loc[0].upper() + (f" {'.'.join(loc[1:])}" if loc[1:] else "")
        value = problem.get("input")
        shown = f" {value!r}" if isinstance(value, str) and not loc[1:] else ""
        lines.append(f"{where}{shown}: {message}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Settings from the environment and .env; :class:`SettingsError` with a readable message if unusable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call :func:`reset_settings`."""
    return load_settings()


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
