"""SMPP v3.4 gateway (ESME side): one transceiver bind per worker process.

The session (bind, window, enquire_link, answers) is sms.gateways.smppsession,
on the worker's event loop; the PDUs are encoded by smpp34's codec.  We add what
is specific to sending campaigns:

- long text goes as several submit_sm with a concatenation UDH (IEI 00, 8-bit
  reference) and esm_class 0x40; UCS-2 text with data_coding 8;
- delivery receipts (deliver_sm with esm_class 0x04) are parsed from the TLVs
  receipted_message_id/message_state when present, else from the standard
  "id:... stat:... err:..." text, and handed to the receipt sink (a Redis push)
  before the SMSC gets its deliver_sm_resp; other deliver_sm are inbound SMS;
- the bind is re-made on the next send after a disconnect;
- our message id travels in vendor TLV 0x1501, so an SMSC that honours it can
  drop a resend after a worker crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import smpp34

from robocall.logging_setup import mask_phone
from robocall.models import utcnow
from robocall.text import DATA_CODING, bilingual, decode, encode, parts, storable_text
from sms.gateways.base import (
    InboundSink,
    Outcome,
    Outgoing,
    Receipt,
    ReceiptSink,
    SendResult,
)
from sms.gateways.loop import run
from sms.gateways.smppsession import Answers, EsmeSession, Submit, parse_submit_answer

log = logging.getLogger(__name__)

TLV_OUR_MESSAGE_ID = 0x1501
ESM_UDHI = 0x40
ESM_DELIVERY_RECEIPT = 0x04
_THROTTLED = {smpp34.ESME_RTHROTTLED, smpp34.ESME_RMSGQFUL}
_TRANSIENT = {smpp34.ESME_RSYSERR, smpp34.ESME_RUNKNOWNERR}
# An id is printable ASCII: a NUL or another control character inside it (garbage, a broken SMSC) is no id we
# were given, and PostgreSQL refuses a NUL in text (the receipt would fail its batch at every drain).
_RECEIPT_TEXT = re.compile(rb"id:(?P<id>[\x21-\x7e]+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S | re.I)
_CARRIER_ID = re.compile(r"[\x21-\x7e]{1,200}")
# SMPP 3.4 receipt states (text "stat:" and TLV message_state 1..8).
_STAT = {"DELIVRD": "delivered", "EXPIRED": "expired", "UNDELIV": "failed", "REJECTD": "failed",
         "DELETED": "failed", "UNKNOWN": "failed"}
UNREADABLE_RECEIPT = bilingual(
    "bỏ qua biên nhận không đọc được (cần TLV receipted_message_id và message_state, hoặc văn bản 'id:... stat:...')",
    "unreadable receipt ignored (needs the TLVs receipted_message_id and message_state, or the text 'id:... stat:...')")
_MESSAGE_STATE = {2: "delivered", 3: "expired", 4: "failed", 5: "failed", 7: "failed", 8: "failed"}


def udh_parts(text: str, encoding: str, reference: int, segments: int = 0) -> list[tuple[bytes, int]]:
    """(short_message, esm_class) per segment: the text alone, or a concatenation UDH + part.
    `segments` = 1 (measured at load time) spares splitting what fits in one SMS."""
    if segments == 1:
        return [(encode(text, encoding), 0)]
    pieces = parts(text)
    if len(pieces) == 1:
        return [(encode(pieces[0], encoding), 0)]
    total = len(pieces)
    return [(bytes([5, 0, 3, reference & 0xFF, total, seq]) + encode(piece, encoding), ESM_UDHI)
            for seq, piece in enumerate(pieces, start=1)]


def parse_receipt(short_message: bytes, tlvs: list[Any], at: dt.datetime | None = None,
                  message_id_of: Callable[[str], int | None] | None = None) -> Receipt | None:
    """The receipt a deliver_sm carries (TLVs first, then the standard text); `at`: when it came;
    `message_id_of(carrier id)`: our id of the message, if known."""
    gateway_id, status, error = None, None, ""
    for tlv in tlvs:
        if tlv.tag == smpp34.TLV_RECEIPTED_MESSAGE_ID:
            gateway_id = _carrier_id(tlv.value.rstrip(b"\0").decode("ascii", "replace").strip())
        elif tlv.tag == smpp34.TLV_MESSAGE_STATE:
            status = _MESSAGE_STATE.get(tlv.as_int() or 0)
    # The TLVs say all when they say delivered (the text would only add an error to a failure).
    match = None if gateway_id and status == "delivered" else _RECEIPT_TEXT.search(short_message)
    if match:
        gateway_id = gateway_id or _carrier_id(match.group("id").decode("ascii"))
        stat = match.group("stat").decode().upper()
        status = status or _STAT.get(stat, "failed")
        err = (match.group("err") or b"").decode()
        if status != "delivered":
            error = f"{stat} err:{err}" if err else stat
    if not gateway_id or not status:
        return None
    return Receipt(gateway_id, status, error, at or utcnow(), message_id_of(gateway_id) if message_id_of else None)


def _carrier_id(text: str) -> str | None:
    """`text` as a carrier's message id (printable ASCII, at most 200 characters, as submit_sm_resp gives
    them), or None."""
    return text if _CARRIER_ID.fullmatch(text) else None


class RecentIds:
    """Our message id of each carrier id the SMSC gave us lately (its last `limit` to `2 * limit`
    answers), so that a receipt arriving on this session names its message: a lookup spared in the
    database.  Two generations of dicts: bounded memory, no per-entry bookkeeping."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._new: dict[str, int] = {}
        self._old: dict[str, int] = {}

    def add(self, carrier_id: str, message_id: int) -> None:
        if len(self._new) >= self.limit:
            self._old, self._new = self._new, {}
        self._new[carrier_id] = message_id

    def pop(self, carrier_id: str) -> int | None:
        found = self._new.pop(carrier_id, None)
        return found if found is not None else self._old.pop(carrier_id, None)


class SmppGateway:
    def __init__(self, name: str, host: str, port: int, system_id: str, password: str, *, window: int = 50,
                 submit_timeout: float = 30.0, on_receipts: ReceiptSink | None = None,
                 on_inbound: InboundSink | None = None, on_idle: Callable[[], object] | None = None,
                 idle_seconds: float = 0.2, enquire_seconds: float = 30.0) -> None:
        self.name = name
        self.host, self.port, self.system_id, self.password = host, port, system_id, password
        self.window, self.submit_timeout, self.enquire_seconds = window, submit_timeout, enquire_seconds
        self.on_receipts, self.on_inbound = on_receipts, on_inbound
        self.idle_seconds, self.on_idle = idle_seconds, on_idle
        self._session: EsmeSession | None = None
        self._idler: asyncio.Task[None] | None = None
        self._reference = 0
        self._recent = RecentIds()

    # --- sync face (RQ jobs) ---

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        return run(self._send(messages))

    def close(self) -> None:
        try:
            run(self._close(), timeout=10)
        except Exception:  # closing is best effort
            log.debug("smpp %s: close failed", self.name, exc_info=True)

    # --- async inside ---

    async def _bound(self) -> EsmeSession:
        if self._session is None or self._session.closed.is_set():
            self._session = await EsmeSession.open(
                self.host, self.port, self.system_id, self.password, window=self.window,
                on_deliver=self._delivered, enquire_seconds=self.enquire_seconds,
                response_timeout=min(self.submit_timeout, 10.0))
            if self._idler is None and self.on_idle is not None:
                self._idler = asyncio.create_task(self._idle_forever())
            log.info("smpp %s: bound to %s:%s", self.name, self.host, self.port)
        return self._session

    def _drop(self, session: EsmeSession) -> None:
        if self._session is session:
            self._session = None
        session.close()

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed.is_set():
            try:
                await session.unbind()
            except Exception:
                session.close()
        if self._idler is not None:
            self._idler.cancel()

    async def _send(self, messages: list[Outgoing]) -> list[SendResult]:
        try:
            session = await self._bound()
        except Exception as exc:
            return [SendResult(m.id, Outcome.UNREACHABLE, reason=f"cannot bind: {exc or type(exc).__name__}")
                    for m in messages]
        # Messages that fit one SMS go as one chunk of submits whose answers fill one Answers (no
        # future per message); a long one is a task for its parts.  One deadline for the whole chunk.
        singles: list[int] = []  # places in `messages` of the single-part ones, in submit order
        submits: list[Submit] = []
        long_ones: dict[int, asyncio.Future[SendResult]] = {}
        for index, message in enumerate(messages):
            pieces = udh_parts(message.text, message.encoding, self._next_reference(), message.segments)
            if len(pieces) == 1:
                singles.append(index)
                submits.append((message.sender, message.phone.lstrip("+"), pieces[0][0], self._fields(message, 0)))
            else:
                long_ones[index] = asyncio.ensure_future(self._send_parts(session, message, pieces))
        parsed: dict[int, tuple[int, str]] = {}  # place -> (status, carrier id), as each answer arrives

        def remember(place: int, answer: tuple[int, int, bytes]) -> None:
            # At once: the SMSC's receipt may follow its submit_sm_resp in the same read.
            parsed[place] = status, carrier_id = parse_submit_answer(answer)
            if status == 0 and carrier_id:
                self._recent.add(carrier_id, messages[singles[place]].id)

        answers = Answers(len(submits), asyncio.get_running_loop(), remember)
        try:
            async with asyncio.timeout(self.submit_timeout):
                await session.submit_many(submits, answers)
                await answers.done
                if long_ones:
                    await asyncio.wait(long_ones.values())
        except (TimeoutError, ConnectionError):
            self._drop(session)  # no answer in time, or the link went: the bind is suspect
        results: list[SendResult | None] = [None] * len(messages)
        for place, (index, answer) in enumerate(zip(singles, answers.answers)):
            results[index] = self._answered(messages[index], parsed.get(place, answer), place < answers.sent, session)
        for index, task in long_ones.items():
            result = results[index] = self._parts_result(messages[index], task)
            if result.outcome == Outcome.ACCEPTED and result.gateway_message_id:
                self._recent.add(result.gateway_message_id, result.id)
        return results  # type: ignore[return-value]  (every place is filled above)

    def _answered(self, message: Outgoing, answer: tuple[int, str] | ConnectionError | None, sent: bool,
                  session: EsmeSession) -> SendResult:
        """The result of a single-part submit from its answer: (status, carrier id), the link's error,
        or None (unanswered; `sent` tells whether it went out at all)."""
        if answer is None:
            reason = (f"smpp: no answer in {self.submit_timeout:g}s" if sent
                      else f"smpp: not sent in {self.submit_timeout:g}s" if not session.closed.is_set()
                      else "smpp: link lost")
            return SendResult(message.id, Outcome.TRANSIENT, reason=reason)
        if isinstance(answer, ConnectionError):
            return SendResult(message.id, Outcome.TRANSIENT, reason=f"smpp: {answer}")
        status, carrier_id = answer
        return self._outcome(message, status, [carrier_id] if status == 0 else [])

    def _parts_result(self, message: Outgoing, task: asyncio.Future[SendResult]) -> SendResult:
        if not task.done():
            task.cancel()
            return SendResult(message.id, Outcome.TRANSIENT, reason=f"smpp: no answer in {self.submit_timeout:g}s")
        if task.cancelled() or task.exception() is not None:
            exc = None if task.cancelled() else task.exception()
            return SendResult(message.id, Outcome.TRANSIENT, reason=f"smpp: {exc or 'link lost'}")
        return task.result()

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) & 0xFF
        return self._reference

    @staticmethod
    def _fields(message: Outgoing, esm_class: int) -> dict[str, Any]:
        alphanumeric = not message.sender.isdigit()
        return {"source_addr_ton": 5 if alphanumeric else 1, "source_addr_npi": 0 if alphanumeric else 1,
                "dest_addr_ton": 1, "dest_addr_npi": 1, "esm_class": esm_class, "registered_delivery": 1,
                "data_coding": DATA_CODING[message.encoding],
                "tlvs": [smpp34.Tlv(TLV_OUR_MESSAGE_ID, str(message.id).encode())]}

    @staticmethod
    def _outcome(message: Outgoing, status: int, taken: list[str]) -> SendResult:
        """The result of a message whose last submitted part got `status`; `taken`: the carrier ids of
        the parts it took (all of them when status is 0)."""
        first = taken[0] if taken else None
        if status == 0:
            return SendResult(message.id, Outcome.ACCEPTED, first or None, part_ids=tuple(taken[1:]))
        if status in _THROTTLED:
            return SendResult(message.id, Outcome.THROTTLED, first, reason=f"smpp status {status:#x}", retry_after=1.0)
        outcome = Outcome.TRANSIENT if status in _TRANSIENT else Outcome.REJECTED
        return SendResult(message.id, outcome, first, reason=f"smpp status {status:#x}")

    async def _send_parts(self, session: EsmeSession, message: Outgoing,
                          pieces: list[tuple[bytes, int]]) -> SendResult:
        taken: list[str] = []  # the carrier's id of each part taken so far
        for short_message, esm_class in pieces:
            try:
                status, carrier_id = await session.submit_sm(message.sender, message.phone.lstrip("+"),
                                                             short_message, **self._fields(message, esm_class))
            except ConnectionError as exc:  # the link went: the bind is suspect
                self._drop(session)
                return SendResult(message.id, Outcome.TRANSIENT, taken[0] if taken else None, reason=f"smpp: {exc}")
            if status != 0:
                return self._outcome(message, status, taken)
            taken.append(carrier_id)
        return self._outcome(message, 0, taken)

    async def _delivered(self, events: list[Any]) -> None:
        """deliver_sm from the SMSC: receipts go to the sink in one push, inbound SMS one by one;
        the SMSC gets its answers once this returns."""
        receipts = []
        now = utcnow()
        for event in events:
            if event.esm_class & 0x3C == ESM_DELIVERY_RECEIPT:
                receipt = parse_receipt(event.short_message, event.tlvs, now, self._recent.pop)
                if receipt is not None:
                    receipts.append(receipt)
                else:  # acknowledged all the same: the SMSC would only send it again, as unreadable
                    log.warning("smpp %s: %s: %r", self.name, UNREADABLE_RECEIPT, event.short_message[:80])
            elif self.on_inbound is not None:
                # Control characters (a NUL: PostgreSQL refuses it, and the SMSC would resend the SMS forever)
                # and lone UTF-16 halves go; what the person wrote stays.
                text = storable_text(decode(event.short_message, event.data_coding))
                phone = "+" + storable_text(event.source_addr).lstrip("+")
                log.info("smpp %s: SMS from %s", self.name, mask_phone(phone))
                await asyncio.get_running_loop().run_in_executor(None, self.on_inbound, self.name, phone, text)
        if receipts and self.on_receipts is not None:
            self.on_receipts(self.name, receipts)  # a Redis push: quick, so done on the loop

    async def _idle_forever(self) -> None:
        """Now and then, apply the receipts waiting in Redis to the database (whoever holds the lock does)."""
        loop = asyncio.get_running_loop()
        assert self.on_idle is not None
        while True:
            await asyncio.sleep(self.idle_seconds)
            try:
                await loop.run_in_executor(None, self.on_idle)
            except Exception:
                log.exception("smpp %s: applying receipts failed", self.name)
