"""A light SMPP v3.4 server (SMSC side) on asyncio, with the same face as smpp34.Server.

The benchmark's SMSC shares two cores with everything it measures; smpp34's
server hops threads for every PDU, which costs more CPU per message than our
whole budget.  This one runs on the event loop and uses smpp34's codec for
submit_sm/deliver_sm.  The tests keep smpp34's server as the independent peer
our ESME session is checked against; LocalSmsc(engine="light") picks this one.

It answers bind_transceiver (any credentials), submit_sm (through the events
below), enquire_link and unbind; sends deliver_sm with a window of its own.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import smpp34

from sms.gateways.smppwire import (
    BIND_TRANSCEIVER,
    BIND_TRANSCEIVER_RESP,
    DELIVER_SM,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESME_RINVCMDID,
    GENERIC_NACK,
    RESPONSE_BIT,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    UNBIND,
    UNBIND_RESP,
    PduConnection,
    Window,
    WireError,
    cstring,
    parse_bind,
    pdu,
)


class SubmitSmEvent:
    """A submit_sm waiting for accept(message_id) or reject(status), like smpp34's."""

    __slots__ = ("_esme", "_sequence", "_pdu", "session_id")

    def __init__(self, esme: Esme, sequence: int, decoded: Any) -> None:
        self._esme, self._sequence, self._pdu = esme, sequence, decoded
        self.session_id = esme.session_id

    def __getattr__(self, name: str) -> Any:  # destination_addr, tlvs, short_message, ...
        return getattr(self._pdu, name)

    def accept(self, message_id: str) -> None:
        self._esme.write(pdu(SUBMIT_SM_RESP, self._sequence, cstring(message_id)))

    def reject(self, command_status: int = smpp34.ESME_RSYSERR) -> None:
        self._esme.write(pdu(SUBMIT_SM_RESP, self._sequence, b"", status=command_status))


class Unbound:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id


class Esme(PduConnection):
    """One bound client, as the server sees it."""

    def __init__(self, server: Server, session_id: str) -> None:
        super().__init__()
        self.server, self.session_id = server, session_id
        self.system_id = ""
        self.can_receive = False
        self._sequence = itertools.count(1)
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._window = Window(server.window)

    async def deliver_sm(self, destination_addr: str, short_message: bytes = b"", **fields: Any) -> int:
        """Send a deliver_sm; the command_status of the ESME's answer (0: taken)."""
        await self._window.acquire()
        try:
            if not self.is_open:
                raise ConnectionError("ESME gone")
            sequence = next(self._sequence)
            answer = asyncio.get_running_loop().create_future()
            self._pending[sequence] = answer
            source = fields.pop("source_addr", "")
            self.write(smpp34.DeliverSm(source, destination_addr, short_message, sequence_number=sequence,
                                        **fields).encode())
            try:
                return int(await answer)
            finally:
                self._pending.pop(sequence, None)
        finally:
            self._window.release()

    async def unbind(self) -> None:
        self.write(pdu(UNBIND, next(self._sequence)))
        self.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.server.connections.discard(self)
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(ConnectionError("ESME gone"))
        if self.can_receive:
            self.can_receive = False
            self.server.events.put_nowait(Unbound(self.session_id))

    def data_received(self, data: bytes) -> None:
        try:
            for command_id, status, sequence, raw in self.pdus(data):
                if command_id == SUBMIT_SM:
                    self.server.events.put_nowait(SubmitSmEvent(self, sequence, smpp34.decode(raw)))
                elif command_id & RESPONSE_BIT:
                    answer = self._pending.get(sequence)
                    if answer is not None and not answer.done():
                        answer.set_result(status)
                elif command_id == ENQUIRE_LINK:
                    self.write(pdu(ENQUIRE_LINK_RESP, sequence))
                elif command_id == BIND_TRANSCEIVER:
                    self.system_id, _ = parse_bind(raw[16:])
                    self.write(pdu(BIND_TRANSCEIVER_RESP, sequence, cstring(self.server.system_id)))
                    self.can_receive = True
                    self.server.events.put_nowait(self)
                elif command_id == UNBIND:
                    self.write(pdu(UNBIND_RESP, sequence))
                    self.close()
                elif command_id != DELIVER_SM:
                    self.write(pdu(GENERIC_NACK, sequence, status=ESME_RINVCMDID))
        except (WireError, smpp34.SmppError):
            self.close()


class Server:
    def __init__(self, host: str, port: int, *, system_id: str = "SMSC", window: int = 500) -> None:
        self.host, self.port, self.system_id, self.window = host, port, system_id, window
        self.connections: set[Esme] = set()
        self._sessions = itertools.count(1)

    async def start(self) -> None:
        self.events: asyncio.Queue[Esme | SubmitSmEvent | Unbound] = asyncio.Queue()
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Esme(self, f"session-{next(self._sessions)}"), self.host, self.port)

    async def next(self) -> Esme | SubmitSmEvent | Unbound:
        return await self.events.get()

    async def stop(self) -> None:
        self._server.close()
        for esme in list(self.connections):
            esme.close()
        await self._server.wait_closed()
