"""The simulated carrier (demo and tests): takes everything at once and reports a receipt per message.

Outcomes are a function of the number, so every worker and every rerun agrees:
about 1% of numbers are "not in service" (rejected), 3% expire (phone off for
days), the rest are delivered.  It keys messages by our id, so a resend after a
crash is the same message, not a second one.
"""

from __future__ import annotations

import hashlib

from robocall.models import utcnow
from sms.gateways.base import Outcome, Outgoing, Receipt, ReceiptSink, SendResult


def _draw(phone: str) -> int:
    return int.from_bytes(hashlib.blake2b(phone.encode(), digest_size=2).digest()) % 100


class SimGateway:
    def __init__(self, name: str, on_receipts: ReceiptSink | None = None) -> None:
        self.name = name
        self.on_receipts = on_receipts

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        results, receipts = [], []
        now = utcnow()
        for message in messages:
            draw = _draw(message.phone)
            if draw == 0:
                results.append(SendResult(message.id, Outcome.REJECTED, reason="number not in service"))
                continue
            gateway_id = f"sim-{message.id}"
            results.append(SendResult(message.id, Outcome.ACCEPTED, gateway_id))
            status = "expired" if draw <= 3 else "delivered"
            receipts.append(Receipt(gateway_id, status, "phone unreachable" if status == "expired" else "", now))
        if self.on_receipts and receipts:
            self.on_receipts(self.name, receipts)
        return results

    def close(self) -> None:
        pass
