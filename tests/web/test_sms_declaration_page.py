"""A health declaration by SMS from someone who is not a contact: its escalation page and the API show
the dialogue that raised it, with its answers, marked SMS."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from webhelp import login, run_client

from robocall.config import get_settings
from robocall.conversations.sms_declaration import DeclarationRules
from robocall.models import Escalation
from sms.inbound import handle_inbound


def rules() -> DeclarationRules:
    """How declarations run with this test's settings (the SMS context builds the same at start-up)."""
    return DeclarationRules.from_settings(get_settings())



def test_the_escalation_of_an_sms_declaration_shows_its_answers(make_app, seeded, redis_url) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    for text in ["KB", "2", "2", "2", "có", "2", "37,5"]:  # short of breath: urgent
        handle_inbound(engine, rules(), "sim", "+84987000009", text)
    with engine.connect() as connection:
        escalation_id = connection.execute(select(Escalation.id).where(
            Escalation.rule == "trieu_chung_nang", Escalation.contact_id == None)).scalar_one()  # noqa: E711

    async def scenario(client: TestClient) -> tuple[str, str]:
        await login(client, "viewer")
        page = await (await client.get(f"/escalations/{escalation_id}")).text()
        api = await (await client.get(f"/api/v1/escalations/{escalation_id}")).text()
        return page, api

    page, api = run_client(make_app(), scenario)
    assert '<span class="channel-sms">SMS</span> · Tổng đài phòng chống dịch COVID-19' in page  # the flow by its title
    assert "Khó thở: <b>" in page and "Nhiệt độ: <b>37,5" in page
    [day] = json.loads(api)["calls"]
    [attempt] = day["attempts"]
    assert attempt["channel"] == "sms" and attempt["answers"]["shortness_of_breath"] is True
    assert "+84987000009" not in page + api  # never unmasked
