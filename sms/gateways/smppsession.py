"""An SMPP v3.4 transceiver session (ESME side) as a plain asyncio protocol.

smpp34's own client runs the session in a Rust (tokio) core and hands every
answer and every deliver_sm to Python across threads: measured at ~210 µs of
CPU per message, more than everything else a message costs us.  This session
runs on the worker's event loop with no thread hop, and still uses smpp34's
codec for the PDUs that carry messages (sms.smppwire frames the rest).

What it does:
- bind_transceiver, and raises BindRefused when the SMSC says no;
- a window: at most `window` submits unanswered, answers matched by sequence number;
- enquire_link every `enquire_seconds`; no answer within `response_timeout` closes the link;
  the SMSC's own enquire_link, unbind and unknown commands are answered;
- deliver_sm are handed to `on_deliver` in batches and acknowledged only once it has
  returned (it stores them), so a worker killed mid-flight leaves them with the SMSC,
  which sends them again;
- writes made in one turn of the loop go out in one send (sms.smppwire.PduConnection).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import smpp34

from sms.smppwire import (
    BIND_TRANSCEIVER_RESP,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESME_RINVCMDID,
    GENERIC_NACK,
    RESPONSE_BIT,
    UNBIND,
    UNBIND_RESP,
    PduConnection,
    WireError,
    Window,
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
        self._pending: dict[int, asyncio.Future[tuple[int, int, bytes]]] = {}
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
        return parse_submit_answer(await (await self.send_submit(source_addr, destination, short_message, **fields)))

    async def send_submit(self, source_addr: str, destination: str, short_message: bytes,
                          **fields: Any) -> asyncio.Future[tuple[int, int, bytes]]:
        """Send a submit_sm once the window has room; the future is its answer (see parse_submit_answer).
        A chunk of messages costs one future each this way, not a task each."""
        await self._window.acquire()
        try:
            answer = self._request(lambda sequence: smpp34.SubmitSm(
                source_addr, destination, short_message, sequence_number=sequence, **fields).encode())
        except BaseException:
            self._window.release()
            raise
        answer.add_done_callback(self._window.release)
        return answer

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
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(ConnectionError(f"SMPP link lost: {exc}" if exc else "SMPP link closed"))
        self._pending.clear()
        for task in self._tasks:
            task.cancel()
        self.closed.set()

    def data_received(self, data: bytes) -> None:
        try:
            for command_id, status, sequence, raw in self.pdus(data):
                if command_id & RESPONSE_BIT:  # an answer (generic_nack included)
                    answer = self._pending.pop(sequence, None)
                    if answer is not None and not answer.done():
                        answer.set_result((command_id, status, raw))
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
            log.exception("smpp: storing %d deliver_sm failed; left unacknowledged for the SMSC to resend", len(batch))
            return
        for sequence, _ in batch:
            self.write(pdu(DELIVER_SM_RESP, sequence, b"\0"))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
