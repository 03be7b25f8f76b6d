"""SMPP v3.4 gateway (ESME side) on the smpp34 library: one transceiver bind per worker process.

smpp34 encodes the PDUs, keeps the window of unanswered submits and the
enquire_link timer; we add what is specific to sending campaigns:

- long text goes as several submit_sm with a concatenation UDH (IEI 00, 8-bit
  reference) and esm_class 0x40; UCS-2 text with data_coding 8;
- delivery receipts (deliver_sm with esm_class 0x04) are parsed from the TLVs
  receipted_message_id/message_state when present, else from the standard
  "id:... stat:... err:..." text, and handed to the receipt sink in batches;
  other deliver_sm are inbound SMS for the inbound sink;
- the bind is re-made on the next send after a disconnect;
- our message id travels in vendor TLV 0x1501, so an SMSC that honours it can
  drop a resend after a worker crash.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import smpp34

from robocall.logging_setup import mask_phone
from robocall.models import utcnow
from sms.gateways.base import InboundSink, Outcome, Outgoing, Receipt, ReceiptSink, SendResult
from sms.gateways.loop import run
from sms.text import DATA_CODING, decode, encode, parts

log = logging.getLogger(__name__)

TLV_OUR_MESSAGE_ID = 0x1501
ESM_UDHI = 0x40
ESM_DELIVERY_RECEIPT = 0x04
_THROTTLED = {smpp34.ESME_RTHROTTLED, smpp34.ESME_RMSGQFUL}
_TRANSIENT = {smpp34.ESME_RSYSERR, smpp34.ESME_RUNKNOWNERR}
_RECEIPT_TEXT = re.compile(rb"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S | re.I)
# SMPP 3.4 receipt states (text "stat:" and TLV message_state 1..8).
_STAT = {"DELIVRD": "delivered", "EXPIRED": "expired", "UNDELIV": "failed", "REJECTD": "failed",
         "DELETED": "failed", "UNKNOWN": "failed"}
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


def parse_receipt(short_message: bytes, tlvs: list[Any]) -> Receipt | None:
    by_tag = {t.tag: t for t in tlvs}
    gateway_id, status, error = None, None, ""
    if smpp34.TLV_RECEIPTED_MESSAGE_ID in by_tag:
        gateway_id = by_tag[smpp34.TLV_RECEIPTED_MESSAGE_ID].value.rstrip(b"\0").decode(errors="replace")
    if smpp34.TLV_MESSAGE_STATE in by_tag:
        status = _MESSAGE_STATE.get(by_tag[smpp34.TLV_MESSAGE_STATE].as_int() or 0)
    match = _RECEIPT_TEXT.search(short_message)
    if match:
        gateway_id = gateway_id or match.group("id").decode(errors="replace")
        stat = match.group("stat").decode().upper()
        status = status or _STAT.get(stat, "failed")
        err = (match.group("err") or b"").decode()
        if status != "delivered":
            error = f"{stat} err:{err}" if err else stat
    if not gateway_id or not status:
        return None
    return Receipt(gateway_id, status, error, utcnow())


class SmppGateway:
    def __init__(self, name: str, host: str, port: int, system_id: str, password: str, *, window: int = 50,
                 submit_timeout: float = 30.0, on_receipts: ReceiptSink | None = None,
                 on_inbound: InboundSink | None = None, on_idle: Callable[[], object] | None = None,
                 flush_seconds: float = 0.02, idle_seconds: float = 0.2) -> None:
        self.name = name
        self.host, self.port, self.system_id, self.password = host, port, system_id, password
        self.window, self.submit_timeout = window, submit_timeout
        self.on_receipts, self.on_inbound = on_receipts, on_inbound
        self.flush_seconds, self.idle_seconds, self.on_idle = flush_seconds, idle_seconds, on_idle
        self._client: Any = None
        self._smsc: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._receipts: list[Receipt] = []
        self._flusher: asyncio.Task[None] | None = None
        self._reference = 0

    # --- sync face (RQ jobs) ---

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        return run(self._send(messages))

    def close(self) -> None:
        try:
            run(self._close(), timeout=10)
        except Exception:  # closing is best effort
            log.debug("smpp %s: close failed", self.name, exc_info=True)

    # --- async inside ---

    async def _bound(self) -> Any:
        if self._smsc is None:
            self._client = smpp34.Client(self.host, self.port, self.system_id, self.password, bind_type="TRX",
                                         window_size=self.window, connect_timeout_ms=5000)
            self._smsc = await self._client.connect()
            self._reader = asyncio.create_task(self._read(self._smsc))
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._flush_forever())
            log.info("smpp %s: bound to %s:%s", self.name, self.host, self.port)
        return self._smsc

    async def _drop(self) -> None:
        client, self._client, self._smsc = self._client, None, None
        if client is not None:
            try:
                await client.stop()
            except Exception:
                pass

    async def _close(self) -> None:
        if self._smsc is not None:
            try:
                await asyncio.wait_for(self._smsc.unbind(), 5)
            except Exception:
                pass
        await self._drop()
        self._flush()
        for task in (self._reader, self._flusher):
            if task is not None:
                task.cancel()

    async def _send(self, messages: list[Outgoing]) -> list[SendResult]:
        try:
            smsc = await self._bound()
        except Exception as exc:
            await self._drop()
            return [SendResult(m.id, Outcome.TRANSIENT, reason=f"cannot bind: {exc}") for m in messages]
        # One deadline for the chunk (a timer per submit costs more than the submit itself).
        tasks = [asyncio.ensure_future(self._send_one(smsc, m)) for m in messages]
        done, pending = await asyncio.wait(tasks, timeout=self.submit_timeout)
        if pending:
            for task in pending:
                task.cancel()
            if self._smsc is smsc:
                await self._drop()  # no answer in time: the bind is suspect
        return [task.result() if task in done else
                SendResult(m.id, Outcome.TRANSIENT, reason=f"smpp: no answer in {self.submit_timeout:g}s")
                for task, m in zip(tasks, messages)]

    async def _send_one(self, smsc: Any, message: Outgoing) -> SendResult:
        self._reference = (self._reference + 1) & 0xFF
        ids: list[str] = []  # the carrier's id of each part taken so far
        tlvs = [smpp34.Tlv(TLV_OUR_MESSAGE_ID, str(message.id).encode())]
        for short_message, esm_class in udh_parts(message.text, message.encoding, self._reference, message.segments):
            try:
                response = await smsc.submit_sm(
                    message.phone.lstrip("+"), short_message, source_addr=message.sender,
                    source_addr_ton=5 if not message.sender.isdigit() else 1, source_addr_npi=0 if not message.sender.isdigit() else 1,
                    dest_addr_ton=1, dest_addr_npi=1, esm_class=esm_class, registered_delivery=1,
                    data_coding=DATA_CODING[message.encoding], tlvs=tlvs,
                )
            except Exception as exc:  # disconnect: the bind is suspect
                if self._smsc is smsc:
                    await self._drop()
                return SendResult(message.id, Outcome.TRANSIENT, ids[0] if ids else None, reason=f"smpp: {exc or type(exc).__name__}")
            status = response.command_status
            if status != 0:
                if status in _THROTTLED:
                    return SendResult(message.id, Outcome.THROTTLED, ids[0] if ids else None, reason=f"smpp status {status:#x}",
                                      retry_after=1.0)
                outcome = Outcome.TRANSIENT if status in _TRANSIENT else Outcome.REJECTED
                return SendResult(message.id, outcome, ids[0] if ids else None, reason=f"smpp status {status:#x}")
            ids.append(response.message_id or "")
        return SendResult(message.id, Outcome.ACCEPTED, ids[0] or None, part_ids=tuple(ids[1:]))

    async def _read(self, smsc: Any) -> None:
        while True:
            try:
                event = await smsc.next()
            except Exception:
                log.warning("smpp %s: reading failed", self.name, exc_info=True)
                break
            if isinstance(event, smpp34.Disconnected):
                log.warning("smpp %s: disconnected", self.name)
                break
            if event.esm_class & 0x3C == ESM_DELIVERY_RECEIPT:
                receipt = parse_receipt(event.short_message, event.tlvs)
                if receipt is not None:
                    self._receipts.append(receipt)
                    if len(self._receipts) >= 200:
                        self._flush()
            elif self.on_inbound is not None:
                text = decode(event.short_message, event.data_coding)
                phone = "+" + event.source_addr.lstrip("+")
                log.info("smpp %s: SMS from %s", self.name, mask_phone(phone))
                await asyncio.get_running_loop().run_in_executor(None, self.on_inbound, self.name, phone, text)
        if self._smsc is smsc:
            await self._drop()

    async def _flush_forever(self) -> None:
        loop = asyncio.get_running_loop()
        idle = loop.time()
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                self._flush()
                if self.on_idle is not None and loop.time() - idle >= self.idle_seconds:
                    idle = loop.time()
                    await loop.run_in_executor(None, self.on_idle)  # receipts from Redis to the database
            except Exception:
                log.exception("smpp %s: recording receipts failed", self.name)

    def _flush(self) -> None:
        """Hand receipts to the sink (a Redis push: quick, so done on the loop; the carrier has our ack)."""
        if not self._receipts or self.on_receipts is None:
            return
        batch, self._receipts = self._receipts, []
        try:
            self.on_receipts(self.name, batch)
        except Exception:
            self._receipts[:0] = batch  # keep them for the next flush
            raise
