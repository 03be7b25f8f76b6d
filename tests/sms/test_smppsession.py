"""The ESME session (sms.gateways.smppsession) against smpp34's SMSC, our light SMSC, and scripted peers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import smpp34

from simulator import lightsmsc
from simulator.carriers import free_port
from sms.gateways.smppsession import BindRefused, EsmeSession
from sms.gateways.smppwire import (
    BIND_TRANSCEIVER,
    BIND_TRANSCEIVER_RESP,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESME_RX_T_APPN,
    GENERIC_NACK,
    HEADER,
    SUBMIT_SM,
    Framer,
    cstring,
    parse_bind,
    pdu,
)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


async def nothing(events: list[Any]) -> None:
    return None


@pytest.mark.parametrize("server_class", [smpp34.Server, lightsmsc.Server], ids=["smpp34", "light"])
def test_submits_within_the_window_and_receipts_are_acknowledged_after_they_are_handed_over(server_class: Any) -> None:
    async def scenario() -> None:
        port = free_port()
        server = server_class("127.0.0.1", port, system_id="SMSC")
        await server.start()
        received: list[Any] = []
        bound: list[Any] = []
        taken: list[str] = []

        async def smsc() -> None:
            counter = 0
            while True:
                event = await server.next()
                if isinstance(event, (smpp34.Esme, lightsmsc.Esme)):
                    bound.append(event)
                elif isinstance(event, (smpp34.SubmitSmEvent, lightsmsc.SubmitSmEvent)):
                    counter += 1
                    taken.append(event.destination_addr)
                    if event.destination_addr.endswith("13"):
                        event.reject(smpp34.ESME_RINVDSTADR)
                    else:
                        event.accept(f"M{counter}")

        async def store(events: list[Any]) -> None:
            received.extend(events)

        serving = asyncio.create_task(smsc())
        session = await EsmeSession.open("127.0.0.1", port, "cdc", "pw", window=5, on_deliver=store)
        answers = await asyncio.gather(*(session.submit_sm("CDC", f"849100000{n:02d}", b"hello", registered_delivery=1)
                                         for n in range(40)))
        assert sorted(taken) == sorted(f"849100000{n:02d}" for n in range(40))
        assert answers[13] == (smpp34.ESME_RINVDSTADR, "")
        assert {status for n, (status, _) in enumerate(answers) if n != 13} == {0}
        assert len({message_id for _, message_id in answers}) == 40  # 39 ids and the rejected one's ""
        # deliver_sm returns once our deliver_sm_resp is back, which comes after `store` ran
        await bound[0].deliver_sm("CDC", b"id:M1 stat:DELIVRD err:000", source_addr="84910000001", esm_class=4)
        assert [e.short_message for e in received] == [b"id:M1 stat:DELIVRD err:000"]
        await session.unbind()
        await asyncio.wait_for(session.closed.wait(), 5)
        serving.cancel()
        await server.stop()

    run(scenario())


class ScriptedSmsc:
    """A raw TCP peer: `answer(command_id, status, sequence, raw)` returns the bytes to send back."""

    def __init__(self, answer: Callable[[int, int, int, bytes], bytes]) -> None:
        self.answer = answer
        self.port = free_port()
        self.seen: list[tuple[int, int, int]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> ScriptedSmsc:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        framer = Framer()
        while data := await reader.read(65536):
            for command_id, status, sequence, raw in framer.feed(data):
                self.seen.append((command_id, status, sequence))
                writer.write(self.answer(command_id, status, sequence, raw))

    def send(self, data: bytes) -> None:
        self.writers[-1].write(data)

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()


def binds(command_id: int, status: int, sequence: int, raw: bytes) -> bytes:
    """Answers the bind only."""
    if command_id == BIND_TRANSCEIVER:
        assert parse_bind(raw[16:]) == ("cdc", "pw")
        return pdu(BIND_TRANSCEIVER_RESP, sequence, cstring("SMSC"))
    return b""


def test_a_refused_bind_raises() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(lambda c, s, q, r: pdu(BIND_TRANSCEIVER_RESP, q, b"\0", status=0x0D)).start()
        with pytest.raises(BindRefused, match="0xd"):
            await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=5, on_deliver=nothing)
        await peer.stop()

    run(scenario())


def test_an_smsc_that_stops_answering_enquire_link_loses_the_link_and_waiting_submits_fail() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(binds).start()
        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=5, on_deliver=nothing,
                                         enquire_seconds=0.2, response_timeout=0.3)
        submit = asyncio.create_task(session.submit_sm("CDC", "84910000001", b"hi"))
        await asyncio.wait_for(session.closed.wait(), 5)
        assert ENQUIRE_LINK in [c for c, _, _ in peer.seen]
        with pytest.raises(ConnectionError):
            await submit
        with pytest.raises(ConnectionError):
            await session.submit_sm("CDC", "84910000001", b"hi")
        await peer.stop()

    run(scenario())


def test_enquire_link_is_kept_up_while_the_smsc_answers() -> None:
    async def scenario() -> None:
        def answers(command_id: int, status: int, sequence: int, raw: bytes) -> bytes:
            return pdu(ENQUIRE_LINK_RESP, sequence) if command_id == ENQUIRE_LINK else binds(command_id, status, sequence, raw)

        peer = await ScriptedSmsc(answers).start()
        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=5, on_deliver=nothing,
                                         enquire_seconds=0.1, response_timeout=0.3)
        await asyncio.sleep(1.0)
        assert not session.closed.is_set()
        assert [c for c, _, _ in peer.seen].count(ENQUIRE_LINK) >= 5
        session.close()
        await peer.stop()

    run(scenario())


def test_only_window_submits_are_unanswered_at_once() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(binds).start()  # never answers a submit
        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=3, on_deliver=nothing)
        submits = [asyncio.create_task(session.submit_sm("CDC", f"8491000000{n}", b"hi")) for n in range(8)]
        await asyncio.sleep(0.3)
        assert [c for c, _, _ in peer.seen].count(SUBMIT_SM) == 3
        session.close()
        for submit in submits:
            with pytest.raises(ConnectionError):
                await submit
        await peer.stop()

    run(scenario())


def test_the_smscs_enquire_link_and_unknown_commands_are_answered() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(binds).start()
        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=3, on_deliver=nothing)
        peer.send(pdu(ENQUIRE_LINK, 77) + pdu(0x00000103, 78))  # enquire_link, then data_sm (not spoken here)
        await asyncio.sleep(0.3)
        assert (ENQUIRE_LINK_RESP, 0, 77) in peer.seen
        assert (GENERIC_NACK, 3, 78) in peer.seen  # ESME_RINVCMDID
        session.close()
        await peer.stop()

    run(scenario())


def test_deliver_sm_is_acknowledged_only_after_it_was_stored() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(binds).start()
        failures = [True]

        async def store(events: list[Any]) -> None:
            if failures.pop(0) if failures else False:
                raise RuntimeError("redis down")

        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=3, on_deliver=store)
        def receipt(sequence: int) -> bytes:
            return smpp34.DeliverSm("84910000001", "CDC", b"id:X1 stat:DELIVRD", esm_class=4,
                                    sequence_number=sequence).encode()

        peer.send(receipt(5))
        await asyncio.sleep(0.3)
        # Storing failed: answered ESME_RX_T_APPN ("try again later"), so the SMSC resends it (left unanswered,
        # as it was, an SMSC without a response timer never did: the drills lost receipts that way).
        assert [s for s in peer.seen if s[0] == DELIVER_SM_RESP] == [(DELIVER_SM_RESP, ESME_RX_T_APPN, 5)]
        peer.send(receipt(6))
        await asyncio.sleep(0.3)
        assert [s for s in peer.seen if s[0] == DELIVER_SM_RESP] == [(DELIVER_SM_RESP, ESME_RX_T_APPN, 5),
                                                                    (DELIVER_SM_RESP, 0, 6)]
        session.close()
        await peer.stop()

    run(scenario())


def test_a_stream_that_is_not_smpp_closes_the_link() -> None:
    async def scenario() -> None:
        peer = await ScriptedSmsc(binds).start()
        session = await EsmeSession.open("127.0.0.1", peer.port, "cdc", "pw", window=3, on_deliver=nothing)
        peer.send(HEADER.pack(7, 0x80000004, 0, 1))  # command_length 7: shorter than a header
        await asyncio.wait_for(session.closed.wait(), 5)
        await peer.stop()

    run(scenario())
