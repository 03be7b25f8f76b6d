"""The composition root's one job: connect the parts that must not import each other.

Every process calls `wire()` once at start (the CLI, `worker.py`, `server.py`):
- the outbox (robocall.conversations, below the SMS side) hands the single messages it wrote to the
  SMS sender (sms.fanout) once their transaction commits;
- the telephony backends are registered by the name TELEPHONY_BACKEND gives them; the simulator's
  lives outside the product packages.
"""

from __future__ import annotations

from robocall.conversations.outbox import on_written
from robocall.telephony.asterisk.settings import asterisk_backend
from robocall.telephony.registry import register_backend
from robocall.telephony.twilio.backend import twilio_backend
from simulator.backend import simulated_backend
from sms.fanout import queue_single_messages


def wire() -> None:
    on_written(queue_single_messages)
    register_backend("sim", simulated_backend)
    register_backend("asterisk", asterisk_backend)
    register_backend("twilio", twilio_backend)
