"""The escalation queue, an escalation's detail page, the actions on it, and a person's page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.models import Contact, Escalation, utcnow
from robocall.web.audit import audit
from robocall.web.escalation_actions import ActionDone, act_on_escalation
from robocall.web.escalation_queries import (
    QueueFilters,
    calls_by_day,
    escalation_calls,
    escalation_queue,
    person_escalations,
    queue_row,
    timeline,
)
from robocall.web.i18n import OUTCOMES
from robocall.web.keys import FLOWS, SETTINGS
from robocall.web.security import current_username, requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()


@routes.get("/escalations")
@requires(Role.VIEWER)
async def queue_page(request: web.Request) -> web.Response:
    filters = QueueFilters.from_query(request.query)
    page = await in_session(request, escalation_queue, filters, request.app[SETTINGS], utcnow())
    # The queue shows names: a view of personal data.
    await audit(request, "view_queue", "escalation", "", {"filters": filters.as_query(), "rows": len(page.rows)})
    template = "_queue_rows.html" if request.query.get("partial") else "queue.html"
    query = filters.as_query()
    return render(request, template, {"page": page, "filters": filters, "query_string": urlencode(query),
                                      "prev_page": filters.page - 1, "next_page": filters.page + 1})


def _escalation_or_404(db: DbSession, escalation_id: str) -> Escalation:
    try:
        escalation = db.get(Escalation, int(escalation_id))
    except ValueError:
        escalation = None
    if escalation is None:
        raise web.HTTPNotFound(text="no such escalation")
    return escalation


def fired_rule(flows: dict[str, Flow], escalation: Escalation) -> dict[str, str] | None:
    """The flow rule that raised the escalation (its condition), when the flow is loaded."""
    flow = flows.get(escalation.flow)
    for rule in flow.spec.escalations if flow else []:
        if rule.name == escalation.rule:
            return {"when": rule.when, "unless": ", ".join(rule.unless), "do": ", ".join(rule.do)}
    return None


def _detail(db: DbSession, escalation_id: str, settings: Settings, flows: dict[str, Flow]) -> dict[str, Any]:
    escalation = _escalation_or_404(db, escalation_id)
    contact = db.get(Contact, escalation.contact_id) if escalation.contact_id else None
    return {
        "escalation": escalation, "contact": contact,
        "row": queue_row(escalation, contact, settings, utcnow()),
        "days": escalation_calls(db, escalation, contact),
        "events": timeline(db, escalation.id or 0),
        "others": [e for e in person_escalations(db, contact.id) if e.id != escalation.id]
        if contact and contact.id else [],
        "outcomes": OUTCOMES,
        "fired": fired_rule(flows, escalation),
    }


@routes.get("/escalations/{id:\\d+}")
@requires(Role.VIEWER)
async def detail_page(request: web.Request) -> web.Response:
    context = await in_session(request, _detail, request.match_info["id"], request.app[SETTINGS],
                               request.app[FLOWS])
    escalation = context["escalation"]
    await audit(request, "view_escalation", "escalation", escalation.id, {"contact_id": escalation.contact_id})
    return render(request, "escalation.html", context)


@routes.post("/escalations/{id:\\d+}/{action:acknowledge|assign|note|callback|resolve}")
@requires(Role.CDC_STAFF)
async def act(request: web.Request) -> web.Response:
    form = await request.post()
    action = request.match_info["action"]
    done = await in_session(request, _act, request.match_info["id"], action, current_username(request), dict(form))
    if done.error is not None:
        await audit(request, f"escalation_{action}_refused", "escalation", done.escalation_id, {"error": done.error})
        raise web.HTTPBadRequest(text=f"400: {done.error}")
    await audit(request, f"escalation_{action}", "escalation", done.escalation_id,
                {"event_id": done.event_id, "text": done.text, "contact_id": done.contact_id})
    raise web.HTTPSeeOther(f"/escalations/{request.match_info['id']}")


def _act(db: DbSession, escalation_id: str, action: str, actor: str, form: dict[str, Any]) -> ActionDone:
    return act_on_escalation(db, _escalation_or_404(db, escalation_id), action, actor, form)


@routes.get("/contacts/{id:\\d+}")
@requires(Role.VIEWER)
async def contact_page(request: web.Request) -> web.Response:
    context = await in_session(request, _person, int(request.match_info["id"]))
    await audit(request, "view_contact", "contact", context["contact"].id)
    return render(request, "contact.html", context)


def _person(db: DbSession, contact_id: int) -> dict[str, Any]:
    contact = db.get(Contact, contact_id)
    if contact is None or contact.id is None:
        raise web.HTTPNotFound(text="no such contact")
    return {"contact": contact, "days": calls_by_day(db, contact.id), "others": person_escalations(db, contact.id)}


@routes.post("/contacts/{id:\\d+}/reveal")
@requires(Role.CDC_STAFF)
async def reveal_phone(request: web.Request) -> web.Response:
    """The full number, for staff about to call the person; every reveal is audited."""
    phone = await in_session(request, _phone, int(request.match_info["id"]))
    await audit(request, "reveal_phone", "contact", request.match_info["id"])
    return web.json_response({"phone": phone})


def _phone(db: DbSession, contact_id: int) -> str:
    contact = db.get(Contact, contact_id)
    if contact is None:
        raise web.HTTPNotFound(text="no such contact")
    return contact.phone
