"""The live queue on a real server: a browser that leaves it is no error."""

from __future__ import annotations

import logging
import time

import pytest
from sqlmodel import Session as DbSession
from webhelp import logged_in_session

from robocall.models import Escalation, utcnow

pytestmark = pytest.mark.db


def test_leaving_the_live_queue_logs_no_error(live_url: str, seeded, caplog) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    with caplog.at_level("WARNING"):
        session, _ = logged_in_session(live_url, "viewer")
        for _ in range(2):
            stream = session.get(f"{live_url}/escalations/stream", stream=True, timeout=5)
            next(stream.iter_lines())
            stream.close()  # the browser goes to another page
        time.sleep(0.3)
        with DbSession(engine) as db:  # a change the streams then try to announce to readers who left
            db.add(Escalation(contact_id=ids["contact_3"], rule="trieu_chung_nang", level="urgent", reason="x",
                              created_at=utcnow()))
            db.commit()
        time.sleep(1.0)  # many polls (0.05 s each)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
