"""Whatever a deliver_sm holds (receipt text, TLVs, addresses, data coding), the SMPP gateway reads it without
an exception: a receipt it can use (a carrier id the database can store, a known state) or none, and an
inbound SMS whose number and text the database can store.  The PDUs are real ones, encoded and decoded
by smpp34 as the session does."""

from __future__ import annotations

import asyncio
from typing import Any

import smpp34
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sms.gateways.base import Receipt
from sms.gateways.smpp import SmppGateway, parse_receipt

STATES = {"delivered", "failed", "expired"}
FUZZ = settings(max_examples=150)

# Receipt text as carriers write it, cut and mixed with garbage.
_WORDS = st.sampled_from([b"id:", b"sub:001", b"dlvrd:001", b"submit date:2108101030", b"done date:2108101031",
                          b"stat:", b"DELIVRD", b"UNDELIV", b"EXPIRED", b"REJECTD", b"ACCEPTD", b"err:", b"000",
                          b"Text:", b" ", b"\x00", b"\xff", b"\xe1\xba\xa1", b"C7", b"id:\x00\x01", b"\n"])
RECEIPT_TEXT = st.one_of(st.binary(max_size=160), st.lists(_WORDS, max_size=20).map(b"".join))
_TLV = st.one_of(
    st.builds(smpp34.Tlv, st.just(smpp34.TLV_RECEIPTED_MESSAGE_ID), st.one_of(st.binary(max_size=70),
              st.sampled_from([b"C7\x00", b"\x00", b"\x00\x00C7", b"C\x007\x00", b" \t\x00"]))),
    st.builds(smpp34.Tlv, st.just(smpp34.TLV_MESSAGE_STATE), st.binary(max_size=5)),
    st.builds(smpp34.Tlv, st.integers(0x1400, 0x3FFF), st.binary(max_size=10)),
)
ADDRESS = st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=20)


def _pdu(source: str, text: bytes, esm_class: int, data_coding: int, tlvs: list[Any]) -> Any:
    """The deliver_sm as the session hands it over: encoded by the SMSC, decoded by us."""
    encoded = smpp34.DeliverSm(source, "CDC", text, esm_class=esm_class, data_coding=data_coding, tlvs=tlvs,
                               sequence_number=7).encode()
    return smpp34.decode(encoded)


def _storable(value: str) -> bool:
    """What PostgreSQL and Redis take as text: no NUL, no lone surrogate."""
    return "\x00" not in value and value.encode("utf-8", "strict") is not None


@FUZZ
@given(text=RECEIPT_TEXT, tlvs=st.lists(_TLV, max_size=3))
@example(text=b"id:\x00C7 stat:DELIVRD", tlvs=[])  # a NUL inside the id: PostgreSQL refuses it
@example(text=b"", tlvs=[smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"\x00C7\x00"),
                         smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02")])
@example(text=b"", tlvs=[smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b" \t\x00"),
                         smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02")])  # blank: no id at all
def test_any_receipt_reads_as_a_usable_receipt_or_none(text: bytes, tlvs: list[Any]) -> None:
    event = _pdu("84910000001", text, 4, 0, tlvs)
    receipt = parse_receipt(event.short_message, event.tlvs)
    if receipt is None:
        return
    assert receipt.status in STATES
    assert receipt.gateway_message_id.strip() == receipt.gateway_message_id != ""
    assert _storable(receipt.gateway_message_id) and len(receipt.gateway_message_id) <= 200
    assert _storable(receipt.error)


@FUZZ
@given(source=ADDRESS, text=st.binary(max_size=140), data_coding=st.sampled_from([0, 1, 3, 4, 8, 0xF0, 0x18]),
       esm_class=st.sampled_from([0, 4, 0x40, 0x44, 0x08]), tlvs=st.lists(_TLV, max_size=2))
@example(source="84910000001", text=b"KB\x00", data_coding=0, esm_class=0, tlvs=[])  # @ in GSM 03.38 is 0x00
@example(source="84910000001", text=b"\x00\x00", data_coding=8, esm_class=0, tlvs=[])  # UCS-2 NUL
@example(source="84910000001", text=b"\xd8\x00", data_coding=8, esm_class=0, tlvs=[])  # a lone surrogate
@example(source="", text=b"\x80", data_coding=0, esm_class=0, tlvs=[])  # smsutil's GSM codec raised TypeError
def test_any_deliver_sm_is_handed_over_storable(source: str, text: bytes, data_coding: int, esm_class: int,
                                                tlvs: list[Any]) -> None:
    receipts: list[Receipt] = []
    inbound: list[tuple[str, str]] = []
    gateway = SmppGateway("viettel", "127.0.0.1", 1, "cdc", "pw",
                          on_receipts=lambda name, got: receipts.extend(got),
                          on_inbound=lambda name, phone, body: inbound.append((phone, body)))
    asyncio.run(gateway._delivered([_pdu(source, text, esm_class, data_coding, tlvs)]))
    for receipt in receipts:
        assert receipt.status in STATES and _storable(receipt.gateway_message_id)
    for phone, body in inbound:
        assert _storable(phone) and _storable(body)
