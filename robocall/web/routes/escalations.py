"""The escalation queue, an escalation's detail page, the actions on it, and a person's page."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.models import Contact, Escalation, utcnow
from robocall.web.audit import audit
from robocall.web.dashboard import render
from robocall.web.escalation_actions import ActionError, apply_action
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
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.security import current_username, requires

routes = web.RouteTableDef()


@routes.get("/escalations")
@requires(Role.VIEWER)
async def queue_page(request: web.Request) -> web.Response:
    filters = QueueFilters.from_query(request.query)
    with DbSession(request.app[ENGINE]) as db:
        page = escalation_queue(db, filters, request.app[SETTINGS], utcnow())
    # The queue shows names: a view of personal data.
    audit(request, "view_queue", "escalation", "", {"filters": filters.as_query(), "rows": len(page.rows)})
    template = "_queue_rows.html" if request.query.get("partial") else "queue.html"
    query = filters.as_query()
    return render(request, template, {"page": page, "filters": filters, "query_string": urlencode(query),
                                      "prev_page": filters.page - 1, "next_page": filters.page + 1})


def _escalation_or_404(db: DbSession, request: web.Request) -> Escalation:
    try:
        escalation = db.get(Escalation, int(request.match_info["id"]))
    except ValueError:
        escalation = None
    if escalation is None:
        raise web.HTTPNotFound(text="no such escalation")
    return escalation


def fired_rule(request: web.Request, escalation: Escalation) -> dict[str, str] | None:
    """The flow rule that raised the escalation (its condition), when the flow is loaded."""
    from robocall.web.app import FLOWS

    flow = request.app[FLOWS].get(escalation.flow)
    for rule in flow.spec.escalations if flow else []:
        if rule.name == escalation.rule:
            return {"when": rule.when, "unless": ", ".join(rule.unless), "do": ", ".join(rule.do)}
    return None


@routes.get("/escalations/{id:\\d+}")
@requires(Role.VIEWER)
async def detail_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        escalation = _escalation_or_404(db, request)
        contact = db.get(Contact, escalation.contact_id) if escalation.contact_id else None
        context = {
            "escalation": escalation, "contact": contact,
            "row": queue_row(escalation, contact, request.app[SETTINGS], utcnow()),
            "days": escalation_calls(db, escalation, contact),
            "events": timeline(db, escalation.id or 0),
            "others": [e for e in person_escalations(db, contact.id) if e.id != escalation.id]
            if contact and contact.id else [],
            "outcomes": OUTCOMES,
            "fired": fired_rule(request, escalation),
        }
    audit(request, "view_escalation", "escalation", escalation.id, {"contact_id": escalation.contact_id})
    return render(request, "escalation.html", context)


@routes.post("/escalations/{id:\\d+}/{action:acknowledge|assign|note|callback|resolve}")
@requires(Role.CDC_STAFF)
async def act(request: web.Request) -> web.Response:
    form = await request.post()
    action = request.match_info["action"]
    with DbSession(request.app[ENGINE]) as db:
        escalation = _escalation_or_404(db, request)
        try:
            event = apply_action(db, escalation, action, current_username(request), utcnow(),
                                 assignee=str(form.get("assignee", "")), text=str(form.get("text", "")),
                                 outcome=str(form.get("outcome", "")))
        except ActionError as error:
            audit(request, f"escalation_{action}_refused", "escalation", escalation.id, {"error": str(error)})
            raise web.HTTPBadRequest(text=f"400: {error}") from None
        audit(request, f"escalation_{action}", "escalation", escalation.id,
              {"event_id": event.id, "text": event.text, "contact_id": escalation.contact_id})
    raise web.HTTPSeeOther(f"/escalations/{request.match_info['id']}")


@routes.get("/contacts/{id:\\d+}")
@requires(Role.VIEWER)
async def contact_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        contact = db.get(Contact, int(request.match_info["id"]))
        if contact is None or contact.id is None:
            raise web.HTTPNotFound(text="no such contact")
        context = {"contact": contact, "days": calls_by_day(db, contact.id),
                   "others": person_escalations(db, contact.id)}
    audit(request, "view_contact", "contact", contact.id)
    return render(request, "contact.html", context)


@routes.post("/contacts/{id:\\d+}/reveal")
@requires(Role.CDC_STAFF)
async def reveal_phone(request: web.Request) -> web.Response:
    """The full number, for staff about to call the person; every reveal is audited."""
    with DbSession(request.app[ENGINE]) as db:
        contact = db.get(Contact, int(request.match_info["id"]))
        if contact is None:
            raise web.HTTPNotFound(text="no such contact")
        phone = contact.phone
    audit(request, "reveal_phone", "contact", request.match_info["id"])
    return web.json_response({"phone": phone})
