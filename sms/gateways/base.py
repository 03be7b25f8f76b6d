"""What every gateway offers the sender: ``send(messages) -> results``, plus receipts and inbound SMS.

Results say what the sender must do next; the gateway never touches the database:

- ``accepted``: the carrier took it (``gateway_message_id`` to match its receipt);
- ``throttled``: slow down and try again later (SMPP ESME_RTHROTTLED / RMSGQFUL, HTTP 429);
- ``transient``: carrier or network trouble, try again (counts towards the circuit breaker);
- ``unreachable``: the carrier could not be reached at all (connection refused, no bind): nothing was
  handed over, so no try is counted; the message waits for the carrier (counts towards the breaker);
- ``rejected``: this message will never go (bad number, refused content): failed with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple, Protocol


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    UNREACHABLE = "unreachable"
    REJECTED = "rejected"


# NamedTuples, not frozen dataclasses: one of each is made per message (a million a campaign), ~4x cheaper.
class Outgoing(NamedTuple):
    id: int  # our message id: travels with the message so a carrier can drop a resend
    phone: str  # E.164
    text: str
    encoding: str  # robocall.text.GSM7 or UCS2
    sender: str
    segments: int = 0  # as measured when the campaign was loaded; 0: not known, measure again


class SendResult(NamedTuple):
    id: int
    outcome: Outcome
    gateway_message_id: str | None = None
    reason: str = ""
    retry_after: float | None = None  # seconds the carrier asked us to wait (throttling)
    part_ids: tuple[str, ...] = ()  # carrier ids of parts 2..n of a long message (part 1: gateway_message_id)


class Receipt(NamedTuple):
    gateway_message_id: str
    status: str  # delivered, failed or expired (robocall.sms_models.MessageState values)
    error: str = ""
    at: dt.datetime | None = None
    # Our id of the message, when the gateway knows it (the SMPP session that submitted it, a carrier
    # that echoes it): a hint that spares looking the carrier id up, checked against that id.
    message_id: int | None = None


ReceiptSink = Callable[[str, list[Receipt]], None]
"""Called with (gateway name, receipts) from whichever thread the gateway hears them on."""
InboundSink = Callable[[str, str, str], None]
"""Called with (gateway name, from phone, text) for a message a person sent us."""


class Gateway(Protocol):
    name: str

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        """Submit the messages (all of them, in one go or several); one result per message."""
        ...

    def close(self) -> None: ...
