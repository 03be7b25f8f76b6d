"""SMPP v3.4 on the wire: PDU framing and the small PDUs, shared by our ESME session and the local SMSC.

smpp34's codec encodes and decodes the PDUs that carry messages (submit_sm,
deliver_sm with their TLVs) in Rust, in a microsecond or two.  What it does not
expose as classes are the fixed, tiny PDUs (binds, enquire_link, unbind,
generic_nack and the responses); they are a 16-byte header plus a few
C-strings (SMPP 3.4 section 4), built here.
"""

from __future__ import annotations

import asyncio
import collections
import struct
from collections.abc import Iterator

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU = 64 * 1024  # far above any legal PDU; a bigger length means a broken stream

GENERIC_NACK = 0x80000000
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
RESPONSE_BIT = 0x80000000

ESME_RINVCMDLEN = 0x00000002
ESME_RINVCMDID = 0x00000003
ESME_RBINDFAIL = 0x0000000D
ESME_RX_T_APPN = 0x00000064  # the ESME can't take it now: the SMSC is to deliver it again later
INTERFACE_VERSION = 0x34


class WireError(Exception):
    """The byte stream is not SMPP (a length out of range): the connection must be dropped."""


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def cstring(value: str) -> bytes:
    return value.encode("ascii", "replace") + b"\0"


def read_cstring(body: bytes, start: int = 0) -> tuple[str, int]:
    """The C-string at `start` and the offset after its NUL (a missing NUL ends it at the body's end)."""
    end = body.find(b"\0", start)
    if end < 0:
        end = len(body)
    return body[start:end].decode("ascii", "replace"), end + 1


def bind_transceiver(sequence: int, system_id: str, password: str, system_type: str = "") -> bytes:
    body = cstring(system_id) + cstring(password) + cstring(system_type) + bytes([INTERFACE_VERSION, 0, 0]) + b"\0"
    return pdu(BIND_TRANSCEIVER, sequence, body)


def parse_bind(body: bytes) -> tuple[str, str]:
    """(system_id, password) of a bind PDU's body."""
    system_id, at = read_cstring(body)
    password, _ = read_cstring(body, at)
    return system_id, password


class Framer:
    """Cuts a TCP byte stream into whole PDUs: feed bytes, get (command_id, status, sequence, pdu bytes)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
        buffer = self._buffer
        buffer += data
        start, size = 0, len(buffer)
        unpack = HEADER.unpack_from
        try:
            while size - start >= 16:
                length, command_id, status, sequence = unpack(buffer, start)
                if length < 16 or length > MAX_PDU:
                    raise WireError(f"command_length {length} out of range")
                if size - start < length:
                    break
                yield command_id, status, sequence, bytes(buffer[start:start + length])
                start += length
        finally:
            del buffer[:start]


class PduConnection(asyncio.Protocol):
    """A TCP connection that carries SMPP PDUs, either side: whole PDUs come out of :meth:`pdus`, and the
    PDUs written during one turn of the event loop leave in one send (a window of 200 answers is one
    syscall, not 200)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._framer = Framer()
        self._out: list[bytes] = []

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def pdus(self, data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
        return self._framer.feed(data)

    def write(self, data: bytes) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(data)

    def flush(self) -> None:
        if self._out and self.is_open:
            assert self.transport is not None
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        """Send what is written, then close."""
        if self.transport is not None:
            self.flush()
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class Window:
    """At most `size` requests unanswered at once; first come, first served, O(1) a release
    (asyncio.Semaphore scans all its waiters on every release in Python 3.11: a chunk of 500 submits
    behind a window of 200 made that the main cost of sending)."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as we gave up: pass it on
            raise

    def release(self) -> None:
        """Free a slot."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
