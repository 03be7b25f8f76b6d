"""An SMPP v3.4 transceiver session (ESME side) as a plain asyncio protocol.

smpp34's own client runs the session in a Rust (tokio) core and hands every
answer and every deliver_sm to Python across threads, which cost more CPU per
message than everything else a message costs us (docs/performance.md).  This session
runs on the worker's event loop with no thread hop, and still uses smpp34's
codec for the PDUs that carry messages (sms.gateways.smppwire frames the rest).

What it does:
- bind_transceiver, and raises BindRefused when the SMSC says no;
- a window: at most `window` submits unanswered, answers matched by sequence number;
- enquire_link every `enquire_seconds`; no answer within `response_timeout` closes the link;
  the SMSC's own enquire_link, unbind and unknown commands are answered;
- deliver_sm are handed to `on_deliver` in batches and acknowledged only once it has
  returned (it stores them), so a worker killed mid-flight leaves them with the SMSC,
  which sends them again;
- writes made in one turn of the loop go out in one send (sms.gateways.smppwire.PduConnection).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import smpp34

from sms.gateways.smppwire import (
    BIND_TRANSCEIVER_RESP,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESME_RINVCMDID,
    ESME_RX_T_APPN,
    GENERIC_NACK,
    RESPONSE_BIT,
    UNBIND,
    UNBIND_RESP,
    PduConnection,
    Window,
    WireError,
    bind_transceiver,
    pdu,
    read_cstring,
)

log = logging.getLogger(__name__)

DeliverHandler = Callable[[list[Any]], Awaitable[None]]
"""Takes decoded deliver_sm PDUs (smpp34.DeliverSm); they are acknowledged once it returns."""


class BindRefused(ConnectionError):
    pass


def parse_submit_answer(answer: tuple[int, int, bytes]) -> tuple[int, str]:
    """(command_status, the SMSC's message id) of a submit_sm_resp (or generic_nack)."""
    command_id, status, raw = answer
    return status, (read_cstring(raw, 16)[0] if status == 0 and command_id != GENERIC_NACK else "")


class Answers:
    """The answers to a chunk of submits, filled in as they arrive (no future or callback per message:
    those were most of a submit's cost).  `answers[i]` is the i-th submit's (command_id, status, PDU
    bytes), a ConnectionError if the link went first, or None while unanswered; `done` resolves once
    every submit has its answer."""

    __slots__ = ("answers", "left", "sent", "done", "on_answer")

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop,
                 on_answer: Callable[[int, tuple[int, int, bytes]], None] | None = None) -> None:
        self.answers: list[tuple[int, int, bytes] | ConnectionError | None] = [None] * count
        self.left = count
        self.sent = 0  # submits written so far (the rest wait for the window)
        # Called with (place, answer) as each answer arrives, before any deliver_sm read after it.
        self.on_answer = on_answer
        self.done: asyncio.Future[None] = loop.create_future()
        if not count:
            self.done.set_result(None)

    def put(self, index: int, answer: tuple[int, int, bytes] | ConnectionError) -> None:
        if self.answers[index] is None:
            self.answers[index] = answer
            self.left -= 1
            if self.on_answer is not None and not isinstance(answer, ConnectionError):
                self.on_answer(index, answer)
            if not self.left and not self.done.done():
                self.done.set_result(None)


Submit = tuple[str, str, bytes, dict[str, Any]]
"""(source_addr, destination_addr, short_message, other smpp34.SubmitSm fields) of one submit_sm."""


class EsmeSession(PduConnection):
    def __init__(self, window: int, on_deliver: DeliverHandler, *, enquire_seconds: float = 30.0,
                 response_timeout: float = 10.0, ack_after_seconds: float = 0.005, ack_batch: int = 100) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._window = Window(window)  # submits that may go unanswered at once
        self._on_deliver = on_deliver
        self.enquire_seconds, self.response_timeout = enquire_seconds, response_timeout
        self.ack_after_seconds, self.ack_batch = ack_after_seconds, ack_batch
        self._sequence = 0
        # What waits for each sequence number: a future, or (a chunk's Answers, the submit's place in it).
        self._pending: dict[int, asyncio.Future[tuple[int, int, bytes]] | tuple[Answers, int]] = {}
        self._delivered: list[tuple[int, Any]] = []  # (sequence, deliver_sm) not yet handed over
        self._handing_over: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, host: str, port: int, system_id: str, password: str, *, window: int,
                   on_deliver: DeliverHandler, connect_timeout: float = 5.0, **options: Any) -> EsmeSession:
        loop = asyncio.get_running_loop()
        _, session = await asyncio.wait_for(
            loop.create_connection(lambda: cls(window, on_deliver, **options), host, port), connect_timeout)
        try:
            command_id, status, raw = await asyncio.wait_for(
                session._request(lambda sequence: bind_transceiver(sequence, system_id, password)), connect_timeout)
            if command_id != BIND_TRANSCEIVER_RESP or status != 0:
                raise BindRefused(f"bind_transceiver refused: status {status:#x}")
        except BaseException:
            session.close()
            raise
        session._spawn(session._keep_alive())
        return session

    # --- asking the SMSC ---

    async def submit_sm(self, source_addr: str, destination: str, short_message: bytes, **fields: Any) -> tuple[int, str]:
        """(command_status, message_id) of the SMSC's answer to one submit_sm (fields as smpp34.SubmitSm's)."""
        answers = Answers(1, self._loop)
        await self.submit_many([(source_addr, destination, short_message, fields)], answers)
        await answers.done
        answer = answers.answers[0]
        if isinstance(answer, ConnectionError):
            raise answer
        assert answer is not None
        return parse_submit_answer(answer)

    async def submit_many(self, submits: list[Submit], answers: Answers) -> None:
        """Send the submits in order as the window lets them go, returning once the last is written;
        their answers fill `answers` (made by the caller, so that it keeps them should it give up
        waiting), each freeing its window slot as it comes."""
        for index, (source_addr, destination, short_message, fields) in enumerate(submits):
            await self._window.acquire()
            if not self.is_open:
                self._window.release()
                for rest in range(index, len(submits)):
                    answers.put(rest, ConnectionError("SMPP link closed"))
                break
            self._sequence = sequence = self._sequence % 0x7FFFFFFF + 1
            self._pending[sequence] = (answers, index)
            self.write(smpp34.SubmitSm(source_addr, destination, short_message, sequence_number=sequence,
                                       **fields).encode())
            answers.sent = index + 1

    async def unbind(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._request(lambda sequence: pdu(UNBIND, sequence)), timeout)
        except ConnectionError:
            pass  # the SMSC closed the link: that is what unbinding is for
        finally:
            self.close()

    def _request(self, encode: Callable[[int], bytes]) -> asyncio.Future[tuple[int, int, bytes]]:
        """Send the PDU `encode(sequence)`; the future is the answer (command_id, status, PDU bytes)."""
        if not self.is_open:
            raise ConnectionError("SMPP link closed")
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        sequence = self._sequence
        answer: asyncio.Future[tuple[int, int, bytes]] = self._loop.create_future()
        self._pending[sequence] = answer
        self.write(encode(sequence))
        return answer

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.enquire_seconds)
            try:
                await asyncio.wait_for(self._request(lambda sequence: pdu(ENQUIRE_LINK, sequence)),
                                       self.response_timeout)
            except (asyncio.TimeoutError, ConnectionError):
                log.warning("smpp: no answer to enquire_link in %gs, closing the link", self.response_timeout)
                self.close()
                return

    # --- asyncio.Protocol ---

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        lost = ConnectionError(f"SMPP link lost: {exc}" if exc else "SMPP link closed")
        for waiter in self._pending.values():
            if isinstance(waiter, tuple):
                waiter[0].put(waiter[1], lost)
                self._window.release()  # wakes submits waiting for room: they find the link closed
            elif not waiter.done():
                waiter.set_exception(lost)
        self._pending.clear()
        for task in self._tasks:
            task.cancel()
        self.closed.set()

    def data_received(self, data: bytes) -> None:
        try:
            for command_id, status, sequence, raw in self.pdus(data):
                if command_id & RESPONSE_BIT:  # an answer (generic_nack included)
                    waiter = self._pending.pop(sequence, None)
                    if isinstance(waiter, tuple):  # one of a chunk's submits
                        self._window.release()
                        waiter[0].put(waiter[1], (command_id, status, raw))
                    elif waiter is not None and not waiter.done():
                        waiter.set_result((command_id, status, raw))
                elif command_id == DELIVER_SM:
                    self._delivered.append((sequence, smpp34.decode(raw)))
                elif command_id == ENQUIRE_LINK:
                    self.write(pdu(ENQUIRE_LINK_RESP, sequence))
                elif command_id == UNBIND:
                    self.write(pdu(UNBIND_RESP, sequence))
                    self._loop.call_soon(self.close)
                else:
                    self.write(pdu(GENERIC_NACK, sequence, status=ESME_RINVCMDID))
        except (WireError, smpp34.SmppError) as exc:
            log.warning("smpp: broken PDU from the SMSC (%s), closing the link", exc)
            self.close()
            return
        if len(self._delivered) >= self.ack_batch:
            self._hand_over()
        elif self._delivered and self._handing_over is None:
            self._handing_over = self._loop.call_later(self.ack_after_seconds, self._hand_over)

    def _hand_over(self) -> None:
        if self._handing_over is not None:
            self._handing_over.cancel()
            self._handing_over = None
        batch, self._delivered = self._delivered, []
        if batch:
            self._spawn(self._deliver(batch))

    async def _deliver(self, batch: list[tuple[int, Any]]) -> None:
        try:
            await self._on_deliver([event for _, event in batch])
        except Exception:
            # ESME_RX_T_APPN: "temporary application error", the SMSC keeps them and delivers them again.
            # (Left unanswered, each held a slot of the SMSC's window until its own time-out, and an SMSC
            # without one, as the drills' was, never sent them again: receipts lost for good.)
            log.exception("smpp: storing %d deliver_sm failed; answered 'try again later'", len(batch))
            for sequence, _ in batch:
                self.write(pdu(DELIVER_SM_RESP, sequence, b"\0", status=ESME_RX_T_APPN))
            return
        for sequence, _ in batch:
            self.write(pdu(DELIVER_SM_RESP, sequence, b"\0"))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
