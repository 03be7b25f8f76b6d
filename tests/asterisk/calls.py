"""A call rig for the tests: the database, a real Asterisk with residents, the serve process and the backend."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.conversations.calls import RecordedCalls
from robocall.flows.loader import Flow
from robocall.models import Answer, CallAttempt, CallState, Contact, Escalation
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.telephony.base import CallRequest
from tests.asterisk.conftest import AMI_SECRET, FLOW_FILE, VN_TZ, check_flow  # noqa: F401 (shared by the tests)

TEMPLATES = {"default": "Local/{national}@residents"}


def add_attempts(engine: Engine, phones: Sequence[str], flow: str, today: dt.date) -> dict[str, int]:
    """A contact and a queued attempt per phone; returns phone -> attempt id."""
    ids = {}
    with DbSession(engine) as db:
        for phone in phones:
            contact = Contact(phone=phone, name="Nguyễn Văn A", language="vi")
            db.add(contact)
            db.flush()
            attempt = CallAttempt(contact_id=contact.id, phone=phone, flow=flow, day=today,
                                  state=CallState.QUEUED, caller_id="02343822000")
            db.add(attempt)
            db.flush()
            assert attempt.id is not None
            ids[phone] = attempt.id
        db.commit()
    return ids


def outcomes(engine: Engine, ids: Mapping[str, int]) -> dict[str, dict[str, object]]:
    """phone -> state, end reason, answers {question: value}, escalation rules."""
    found: dict[str, dict[str, object]] = {}
    with DbSession(engine) as db:
        for phone, attempt_id in ids.items():
            attempt = db.get(CallAttempt, attempt_id)
            assert attempt is not None
            answers = db.exec(select(Answer).where(Answer.attempt_id == attempt_id)).all()
            rules = db.exec(select(Escalation.rule).where(Escalation.attempt_id == attempt_id)).all()
            found[phone] = {"state": attempt.state, "reason": attempt.end_reason,
                            "answers": {a.question: a.value for a in answers}, "escalations": sorted(rules),
                            "answered": attempt.answered_at is not None}
    return found


def run_calls(asterisk: AsteriskProcess, engine: Engine, flows: Mapping[str, Flow], ids: Mapping[str, int],
              agi_port: int, prompts: RenderedPrompts, ring_timeout: int = 5, amd: bool = False,
              deadline: float = 90, flow: str = "asterisk_check") -> AsteriskService:
    """Place every attempt through the backend and wait until all of them have ended."""
    handlers = RecordedCalls(engine, flows, VN_TZ)
    config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                           "127.0.0.1", agi_port, prompts.asterisk_dir, {"default": "hotline"})

    async def main() -> AsteriskService:
        service = AsteriskService(config, handlers, prompts)
        await service.start()
        await service.ami.wait_ready(20)
        ami = AmiThread(AmiClient("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                                  name="worker"))
        backend = AsteriskBackend(handlers, ami, TEMPLATES, ring_timeout=ring_timeout, amd=amd, engine=engine)
        try:
            now = dt.datetime.now(dt.UTC)
            for phone, attempt_id in ids.items():
                await asyncio.to_thread(backend.place_call, CallRequest(attempt_id, phone, "02343822000", now, flow))
            start = time.monotonic()
            while time.monotonic() - start < deadline:
                if await asyncio.to_thread(_all_ended, engine, list(ids.values())):
                    break
                await asyncio.sleep(0.3)
        finally:
            await asyncio.to_thread(ami.close)
            await service.close()
        return service

    return asyncio.run(main())


def _all_ended(engine: Engine, ids: list[int]) -> bool:
    with DbSession(engine) as db:
        return all(a.ended_at is not None for a in db.exec(select(CallAttempt).where(CallAttempt.id.in_(ids))))  # type: ignore[union-attr]
