"""Carrier callbacks are taken once: a signed timestamp, stale ones refused, repeats ignored, gateways checked."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from robocall.models import CallAttempt
from robocall.sms_models import SmsDialogue, SmsMessage
from sms.context import SmsContext
from sms.web import add_sms_routes, webhook_headers


def _post_all(posts: list[tuple[str, bytes, dict[str, str]]]) -> list[tuple[int, Any]]:
    async def run() -> list[tuple[int, Any]]:
        app = web.Application()
        add_sms_routes(app)
        async with TestClient(TestServer(app)) as client:
            out = []
            for url, body, headers in posts:
                response = await client.post(url, data=body, headers=headers)
                out.append((response.status, await response.text()))
            return out
    return asyncio.run(run())


def test_a_captured_kb_replayed_starts_one_dialogue_and_sends_one_sms(ctx: Callable[[], SmsContext],
                                                                     migrated: Engine) -> None:
    ctx()
    body = json.dumps({"from": "0912345678", "text": "KB"}).encode()
    headers = webhook_headers("s3cret", body)
    answers = _post_all([("/sms/inbound/sim", body, headers)] * 3)
    assert [s for s, _ in answers] == [200, 200, 200]
    assert [json.loads(t).get("duplicate", False) for _, t in answers] == [False, True, True]
    with migrated.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SmsDialogue)).scalar() == 1
        assert connection.execute(select(func.count()).select_from(SmsMessage)).scalar() == 1


def test_the_carrier_message_id_makes_a_retry_count_once(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    ctx()
    body = json.dumps({"from": "0912345678", "text": "TU CHOI", "id": "MO-1"}).encode()
    # The carrier's retry a second later: a new timestamp and signature, the same message.
    answers = _post_all([("/sms/inbound/sim", body, webhook_headers("s3cret", body)),
                         ("/sms/inbound/sim", body, webhook_headers("s3cret", body, time.time() + 1))])
    assert [json.loads(t) for _, t in answers] == [{"action": "opt_out"}, {"action": "none", "duplicate": True}]


def test_stale_unsigned_or_body_only_signatures_and_unknown_gateways_are_refused(ctx: Callable[[], SmsContext],
                                                                                migrated: Engine) -> None:
    import hashlib
    import hmac
    ctx()
    body = json.dumps({"from": "0912345678", "text": "KB"}).encode()
    body_only = {"X-Signature": hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()}  # the old scheme
    answers = _post_all([
        ("/sms/inbound/sim", body, webhook_headers("s3cret", body, time.time() - 3600)),  # an hour old
        ("/sms/inbound/sim", body, webhook_headers("s3cret", body, time.time() + 3600)),
        ("/sms/inbound/sim", body, body_only),
        ("/sms/inbound/no-such-gateway", body, webhook_headers("s3cret", body)),
        ("/sms/receipts/no-such-gateway", b'{"receipts": []}', webhook_headers("s3cret", b'{"receipts": []}')),
    ])
    assert [s for s, _ in answers] == [401, 401, 401, 404, 404]
    with migrated.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CallAttempt)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(SmsDialogue)).scalar() == 0


def test_bad_receipts_and_campaign_bodies_are_400s_naming_the_field(ctx: Callable[[], SmsContext],
                                                                   migrated: Engine) -> None:
    ctx()
    receipts = json.dumps({"receipts": [{"message_id": "H1", "status": ["delivered"]},
                                        {"message_id": "H2", "status": {"a": 1}}]}).encode()
    not_a_list = json.dumps({"receipts": "H1"}).encode()
    long_sms = json.dumps({"from": "0912345678", "text": "x" * 5000}).encode()
    auth = {"Authorization": "Bearer api-token", "Content-Type": "application/json"}
    answers = _post_all([
        ("/sms/receipts/sim", receipts, webhook_headers("s3cret", receipts)),
        ("/sms/receipts/sim", not_a_list, webhook_headers("s3cret", not_a_list)),
        ("/sms/inbound/sim", long_sms, webhook_headers("s3cret", long_sms)),
        ("/api/sms/campaigns", json.dumps({"text": "Hi", "phones": 5}).encode(), auth),
        ("/api/sms/campaigns", json.dumps({"text": "Hi", "phones": "0912345678"}).encode(), auth),
        ("/api/sms/campaigns", json.dumps({"text": "Hi", "phones": ["0912345678"], "at": 5}).encode(), auth),
        ("/api/sms/campaigns", json.dumps({"text": "x" * 200_000, "phones": ["0912345678"]}).encode(), auth),
        ("/api/sms/campaigns", b"[1, 2]", auth),
        ("/api/sms/campaigns/" + "9" * 25 + "/pause", b"", auth),
    ])
    assert [s for s, _ in answers] == [200, 400, 400, 400, 400, 400, 400, 400, 404]
    assert json.loads(answers[0][1]) == {"received": 0, "applied": 0, "refused": 2}
    assert [json.loads(t)["field"] for _, t in answers[1:8]] == ["receipts", "text", "phones", "phones", "at", "text",
                                                                "body"]


def test_a_template_with_an_expression_and_no_field_is_rendered(ctx: Callable[[], SmsContext],
                                                                migrated: Engine) -> None:
    from sms.prepare import Template
    assert Template("Mã: {{ 'AB' ~ 'CD' }}", False).fixed == "Mã: ABCD"


def test_a_template_cannot_build_a_huge_text(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    import pytest

    from sms.prepare import Template
    from sms.recipients import RecipientsError
    for text in ("{{ 'x' * 1000000000 }}", "{{ 9 ** 99 }}", "{{ [1] * 1000000000 }}", "{{ ten * 1000000000 }}"):
        with pytest.raises(RecipientsError, match="not allowed"):
            Template(text, False)
    assert Template("Giảm 5% * điều kiện", False).fixed == "Giảm 5% * điều kiện"  # a star in the text is text
