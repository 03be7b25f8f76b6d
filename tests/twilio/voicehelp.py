"""A Twilio Voice world for tests: our webhooks served on a local port, the local Twilio peer
(simulator/twilio_voice.py) calling them, and the TELEPHONY_BACKEND=twilio backend placing calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.campaigns.jobs import follow_up_mover
from robocall.config import Settings, get_settings, reset_settings
from robocall.conversations.calls import RecordedCalls
from robocall.flows.catalog import flow_catalog
from robocall.models import CallAttempt, CallState, Contact
from robocall.telephony.base import CallRequest
from robocall.telephony.registry import build_backend
from robocall.telephony.twilio.api import PREFIX
from robocall.telephony.twilio.backend import TwilioVoiceBackend
from robocall.telephony.twilio.webhooks import voice_webhooks
from simulator.carriers import LoopThread, free_port
from simulator.network import SimPhoneNetwork
from simulator.twilio_voice import LocalTwilioVoice

DAY = dt.date(2021, 8, 15)
AFTERNOON = dt.datetime(2021, 8, 15, 8, 0, tzinfo=dt.UTC)  # 15:00 in Asia/Ho_Chi_Minh
PROFILE = "outbreak"  # residents who fall ill and ask for help often enough that a few dozen calls raise cases
SEED = 2021


@dataclass
class VoiceWorld:
    engine: Engine
    settings: Settings
    peer: LocalTwilioVoice
    backend: TwilioVoiceBackend
    base_url: str
    dial_times: dict[str, dt.datetime]

    def contact(self, phone: str, exposure: dt.date | None = dt.date(2021, 8, 10), category: str = "F1") -> int:
        with DbSession(self.engine) as db:
            contact = Contact(phone=phone, name="Nguyễn Văn An", category=category, exposure_date=exposure,
                              district="Thành phố Huế", commune="Phú Hội")
            db.add(contact)
            db.commit()
            assert contact.id is not None
            return contact.id

    def attempt(self, phone: str, flow: str = "f1_f2_followup", at: dt.datetime = AFTERNOON) -> int:
        return queue_attempt(self.engine, phone, flow)

    def call(self, phone: str, flow: str = "f1_f2_followup", at: dt.datetime = AFTERNOON) -> int:
        """Place a call to `phone` (a contact) and wait for Twilio to finish it."""
        attempt_id = self.attempt(phone, flow)
        self.dial_times[phone] = at
        self.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", at, flow))
        self.peer.wait()
        return attempt_id

    def attempt_row(self, attempt_id: int) -> CallAttempt:
        with DbSession(self.engine) as db:
            found = db.get(CallAttempt, attempt_id)
            assert found is not None
            return found

    def url(self, path: str) -> str:
        return self.base_url + PREFIX + path


def queue_attempt(engine: Engine, phone: str, flow: str, day: dt.date = DAY) -> int:
    with DbSession(engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == phone)).one()
        attempt = CallAttempt(contact_id=contact.id, phone=phone, flow=flow, day=day, state=CallState.QUEUED,
                              caller_id="+842873000000")
        db.add(attempt)
        db.commit()
        assert attempt.id is not None
        return attempt.id


def exposure_reader(engine: Engine):  # type: ignore[no-untyped-def]
    def exposure(phone: str) -> dt.date | None:
        with DbSession(engine) as db:
            return db.exec(select(Contact.exposure_date).where(Contact.phone == phone)).first()
    return exposure


class OurServer:
    """The voice webhooks, served as robocall/web/app.py mounts them, on a loop of their own."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.loop = LoopThread()
        self.port = port
        self.settings = settings
        self.runner: web.AppRunner | None = None
        self.start()

    def start(self) -> None:
        async def up() -> web.AppRunner:
            app = web.Application()
            app.router.add_get("/health", lambda request: web.json_response({"status": "ok"}))
            app.add_subapp(PREFIX, voice_webhooks(self.settings, after_outbound=follow_up_mover(self.settings)))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner
        self.runner = self.loop.call(up())

    def stop(self) -> None:
        """Like a server restart: the app and everything it held in memory are gone."""
        if self.runner is not None:
            self.loop.call(self.runner.cleanup())
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.loop.stop()


@pytest.fixture
def voice(migrated: Engine, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[VoiceWorld]:
    port = free_port()
    dial_times: dict[str, dt.datetime] = {}
    flows = flow_catalog(get_settings()).flows
    network = SimPhoneNetwork({}, seed=SEED, flows=flows, timezone="Asia/Ho_Chi_Minh", profile=PROFILE)
    peer = LocalTwilioVoice(network, exposure=exposure_reader(migrated),
                            dial_time=lambda phone: dial_times.get(phone, AFTERNOON)).start()
    env = {
        "TELEPHONY_BACKEND": "twilio", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": peer.account_sid, "TWILIO_AUTH_TOKEN": peer.auth_token,
        "TWILIO_API_BASE": peer.api_base, "TWILIO_FROM_NUMBER": "+842873000000",
        "TWILIO_CALLS_PER_SECOND": "200", "TWILIO_MACHINE_DETECTION": "DetectMessageEnd",
        "AUDIO_ENGINE_ORDER": "", "AUDIO_DIR": str(tmp_path / "audio"), "SIM_SEED": str(SEED),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    settings = get_settings()
    server = OurServer(settings, port)
    calls = RecordedCalls(migrated, flows, settings.tzinfo, after_outbound=follow_up_mover(settings))
    backend = build_backend(settings, migrated, flows, calls)
    assert isinstance(backend, TwilioVoiceBackend)
    world = VoiceWorld(migrated, settings, peer, backend, f"http://127.0.0.1:{port}", dial_times)
    world.server = server  # type: ignore[attr-defined]
    try:
        yield world
    finally:
        peer.stop()
        server.close()
