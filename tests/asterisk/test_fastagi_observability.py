"""The FastAGI server counts its sessions for /metrics and puts the call's ids on its log records."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client import REGISTRY

from robocall.logging_setup import configure_logging
from robocall.telephony.asterisk.fastagi import AgiChannel, FastAgiServer
from tests.asterisk.test_fastagi import ENV, FakeAsterisk, run_server


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_sessions_are_counted_and_their_records_carry_the_channel_id() -> None:
    out = io.StringIO()
    handler = configure_logging("INFO", stream=out, fmt="json")
    seen_open: list[float] = []
    ok_before = _value("robocall_fastagi_sessions_ended_total", outcome="ok")
    failed_before = _value("robocall_fastagi_sessions_ended_total", outcome="failed")

    async def session(agi: AgiChannel) -> None:
        seen_open.append(_value("robocall_fastagi_sessions"))
        logging.getLogger("robocall.test").info("đang gọi %s", agi.env.get("agi_callerid"))
        if agi.env.get("agi_uniqueid") == "1733.2":
            raise RuntimeError("a bug in a session")

    async def client(server: FastAgiServer) -> None:
        for unique in ("1733.1", "1733.2"):
            await FakeAsterisk(server.port).call([], env=ENV[:-1] + f"agi_uniqueid: {unique}\n\n".encode())

    try:
        run_server(session, client)
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    calls = [r for r in records if r["message"].startswith("đang gọi")]
    assert [r["call_id"] for r in calls] == ["1733.1", "1733.2"]
    assert all(r["message"] == "đang gọi 091*****01" for r in calls)  # the caller's number masked
    assert seen_open == [1.0, 1.0] and _value("robocall_fastagi_sessions") == 0.0
    assert _value("robocall_fastagi_sessions_ended_total", outcome="ok") == ok_before + 1
    assert _value("robocall_fastagi_sessions_ended_total", outcome="failed") == failed_before + 1
    failure = next(r for r in records if r["level"] == "ERROR")
    assert failure["call_id"] == "1733.2" and "a bug in a session" in failure["exc_info"]
