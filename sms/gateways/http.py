"""A carrier's HTTP API (configurable): JSON batches or one form post per message, with an auth header.

Request (``format: json``)::

    POST url    {auth_header}: {auth_value}
    {"messages": [{"id": "123", "to": "+84912345678", "from": "CDC", "text": "...",
                   "encoding": "UCS-2"}, ...]}

Reply: ``{"results": [{"id": "123", "status": "accepted", "message_id": "abc"}, ...]}``
(``status`` other than accepted: rejected, with ``error``).  With ``format: form``
each message is one ``application/x-www-form-urlencoded`` post with the same
fields, replying with one result object (its ``id`` may be left out: the post
holds one message).  The carrier reports delivery to our callback (sms/web.py),
signed with the shared secret.

HTTP 429 is throttling (Retry-After honoured, in seconds or as an HTTP date),
5xx, timeouts and connection errors are transient (retried with the same
``id``, which the carrier uses to drop a resend), 401/403 are transient too (they trip the circuit breaker
rather than fail a million messages on a bad key), other 4xx reject the batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import math
from typing import Any

import aiohttp

from sms.gateways.base import Outcome, Outgoing, SendResult
from sms.gateways.loop import run

log = logging.getLogger(__name__)


class HttpGateway:
    def __init__(self, name: str, url: str, *, format: str = "json", auth_header: str = "Authorization",
                 auth_value: str = "", batch: int = 100, timeout: float = 10.0, concurrency: int = 8) -> None:
        if format not in ("json", "form"):
            raise ValueError(f"gateway {name}: format must be json or form")
        self.name, self.url, self.format = name, url, format
        self.headers = {auth_header: auth_value} if auth_value else {}
        self.batch = 1 if format == "form" else max(batch, 1)
        self.timeout = timeout
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        return run(self._send(messages))

    def close(self) -> None:
        if self._session is not None:
            run(self._session.close())
            self._session = None

    async def _send(self, messages: list[Outgoing]) -> list[SendResult]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self.headers,
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout))
        limit = asyncio.Semaphore(self.concurrency)
        chunks = [messages[i:i + self.batch] for i in range(0, len(messages), self.batch)]

        async def one(chunk: list[Outgoing]) -> list[SendResult]:
            async with limit:
                return await self._post(chunk)

        results: list[SendResult] = []
        for chunk_results in await asyncio.gather(*(one(c) for c in chunks)):
            results.extend(chunk_results)
        return results

    @staticmethod
    def _body(message: Outgoing) -> dict[str, str]:
        return {"id": str(message.id), "to": message.phone, "from": message.sender, "text": message.text,
                "encoding": message.encoding}

    async def _post(self, chunk: list[Outgoing]) -> list[SendResult]:
        assert self._session is not None
        try:
            if self.format == "json":
                request = self._session.post(self.url, json={"messages": [self._body(m) for m in chunk]})
            else:
                request = self._session.post(self.url, data=self._body(chunk[0]))
            async with request as response:
                if response.status == 429:
                    retry_after = _seconds(response.headers.get("Retry-After"))
                    return [SendResult(m.id, Outcome.THROTTLED, reason="HTTP 429", retry_after=retry_after)
                            for m in chunk]
                if response.status >= 500 or response.status in (401, 403, 408):
                    return [SendResult(m.id, Outcome.TRANSIENT, reason=f"HTTP {response.status}") for m in chunk]
                if response.status >= 400:
                    text = (await response.text())[:200]
                    return [SendResult(m.id, Outcome.REJECTED, reason=f"HTTP {response.status}: {text}")
                            for m in chunk]
                payload: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            # No connection made: nothing reached the carrier (a time-out or a cut link may have).
            outcome = Outcome.UNREACHABLE if isinstance(exc, aiohttp.ClientConnectorError) else Outcome.TRANSIENT
            return [SendResult(m.id, outcome, reason=f"http: {type(exc).__name__} {exc}".strip()) for m in chunk]
        return _results(chunk, payload)


def _results(chunk: list[Outgoing], payload: Any) -> list[SendResult]:
    items = payload.get("results", [payload]) if isinstance(payload, dict) else payload
    by_id = {str(item.get("id")): item for item in items if isinstance(item, dict)}
    if len(chunk) == 1 and list(by_id) == ["None"]:
        # One message posted, one result without an id (form APIs often don't echo it): it is that message's.
        by_id = {str(chunk[0].id): by_id["None"]}
    results = []
    for message in chunk:
        item = by_id.get(str(message.id))
        if item is None:
            results.append(SendResult(message.id, Outcome.TRANSIENT, reason="no result for this message"))
        elif item.get("status") == "accepted" and item.get("message_id"):
            results.append(SendResult(message.id, Outcome.ACCEPTED, str(item["message_id"])))
        else:
            results.append(SendResult(message.id, Outcome.REJECTED, reason=str(item.get("error") or item.get("status"))))
    return results


MAX_RETRY_AFTER = 3600.0  # a carrier's absurd Retry-After must not park messages for days


def _seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delay-seconds or an HTTP date (RFC 9110); None if unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        seconds = (at - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if not math.isfinite(seconds):  # "inf" / "nan" parse as floats; timedelta would overflow
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
