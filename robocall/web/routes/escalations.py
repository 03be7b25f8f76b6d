"""The escalation queue, an escalation's detail page, the actions on it, and a person's page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.models import Escalation, utcnow
from robocall.web.audit import audit
from robocall.web.casework import (
    NotInScope,
    act_in_scope,
    masked_case_phone,
    outbound_flows,
    scoped_case,
    scoped_contact,
)
from robocall.web.escalation_actions import ActionDone, assignable_usernames
from robocall.web.escalation_queries import (
    MAX_PAGES,
    QueueFilters,
    calls_by_day,
    case_tasks,
    escalation_calls,
    escalation_queue,
    next_tasks,
    person_escalations,
    queue_row,
    timeline,
)
from robocall.web.i18n import OUTCOMES
from robocall.web.keys import FLOWS, SETTINGS
from robocall.web.paging import Cursor, Page
from robocall.web.params import MAX_PAGE
from robocall.web.scope import Scope, scope_of
from robocall.web.security import current_username, requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()
# Rows per page of the HTML queue: about four phone screens of case cards; "load more" adds pages.
QUEUE_PAGE_SIZE = 20


@routes.get("/escalations")
@requires(Role.VIEWER)
async def queue_page(request: web.Request) -> web.Response:
    try:
        filters = QueueFilters.from_query(request.query, per_page=QUEUE_PAGE_SIZE)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"400: {error}") from None
    page, users = await in_session(request, _queue, filters, request.app[SETTINGS], scope_of(request))
    # The queue shows names: a view of personal data.
    await audit(request, "view_queue", "escalation", "", {"filters": filters.as_query(), "rows": len(page.rows),
                                                          "page": page.page.number})
    template = "_queue_rows.html" if request.query.get("partial") else "queue.html"
    query = filters.as_query()
    return render(request, template, {"page": page, "filters": filters, "query_string": urlencode(query),
                                      "links": queue_links(query, filters, page.page, _shown_before(request)),
                                      "users": users, "outcomes": OUTCOMES, "max_pages": MAX_PAGES})


def _shown_before(request: web.Request) -> int:
    """Rows already on the screen when "load more" appends this page (for the count it shows)."""
    text = request.query.get("shown", "")
    return min(int(text), MAX_PAGES * QUEUE_PAGE_SIZE * MAX_PAGE) if text.isdigit() else 0


def queue_links(query: dict[str, str], filters: QueueFilters, page: Page[Any], shown_before: int) -> dict[str, Any]:
    """The queue's addresses, all keeping the filters: the pages before and after the rows shown, the same
    rows and one page more (what "load more" leaves in the address bar, so a reload shows them again and
    the live refresh keeps them), and the next page alone, which "load more" fetches and appends."""
    def url(cursor: Cursor | None, **extra: Any) -> str:
        return "/escalations?" + urlencode({**query, **({"cursor": cursor.encode()} if cursor else {}),
                                            **{k: str(v) for k, v in extra.items()}})
    shown = shown_before + len(page.rows)
    return {
        "prev": url(page.prev) if page.prev else None,
        "next": url(page.next) if page.next else None,
        "this": url(filters.cursor, partial=1, pages=filters.pages),
        "more": url(filters.cursor, pages=filters.pages + 1) if filters.pages < MAX_PAGES else None,
        "more_rows": url(page.next, partial=1, shown=shown) if page.next else None,
        "shown": shown,
        "last_page": page.number + filters.pages - 1,
    }


def _queue(db: DbSession, filters: QueueFilters, settings: Settings, scope: Scope) -> tuple[Any, list[str]]:
    page = escalation_queue(db, filters, settings, utcnow(), scope)
    # Bulk assignment offers those who see every listed case (filter by district to hand a batch to its officer).
    return page, assignable_usernames(db, {r.district if r.contact_id else None for r in page.rows})


def fired_rule(flows: dict[str, Flow], escalation: Escalation) -> dict[str, str] | None:
    """The flow rule that raised the escalation (its condition), when the flow is loaded."""
    flow = flows.get(escalation.flow)
    for rule in flow.spec.escalations if flow else []:
        if rule.name == escalation.rule:
            return {"when": rule.when, "unless": ", ".join(rule.unless), "do": ", ".join(rule.do)}
    return None


def fired_answers(fired: dict[str, str] | None) -> set[str]:
    """The names a rule's condition reads: the answers that made it fire are highlighted."""
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", fired["when"])) if fired else set()


def _detail(db: DbSession, escalation_id: str, settings: Settings, flows: dict[str, Flow],
            scope: Scope) -> dict[str, Any]:
    escalation, contact = scoped_case(db, int(escalation_id), scope)
    events = timeline(db, escalation.id or 0)
    fired = fired_rule(flows, escalation)
    return {
        "escalation": escalation, "contact": contact,
        "row": queue_row(escalation, contact, settings, utcnow(), task=next_tasks(db, [escalation.id or 0]).get(
            escalation.id or 0)),
        "line_phone_masked": masked_case_phone(db, escalation),
        "days": escalation_calls(db, escalation, contact),
        "events": events,
        "others": [e for e in person_escalations(db, contact.id) if e.id != escalation.id]
        if contact and contact.id else [],
        "outcomes": OUTCOMES,
        "fired": fired,
        # Answers of the calls on this case's timeline whose question the rule reads.
        "fired_names": fired_answers(fired),
        "case_attempts": {e.attempt_id for e in events if e.attempt_id} | {escalation.attempt_id},
        "tasks": case_tasks(db, escalation.id or 0),
        "users": assignable_usernames(db, [contact.district if contact else None]),
        "flow_names": outbound_flows(flows),
        "scope": scope,
    }


@routes.get("/escalations/{id:\\d+}")
@requires(Role.VIEWER)
async def detail_page(request: web.Request) -> web.Response:
    try:
        context = await in_session(request, _detail, request.match_info["id"], request.app[SETTINGS],
                                   request.app[FLOWS], scope_of(request))
    except NotInScope:
        raise web.HTTPNotFound(text="no such escalation") from None
    escalation = context["escalation"]
    await audit(request, "view_escalation", "escalation", escalation.id, {"contact_id": escalation.contact_id})
    return render(request, "escalation.html", context)


@routes.post("/escalations/{id:\\d+}/{action:acknowledge|assign|note|resolve|reopen}")
@requires(Role.CDC_STAFF)
async def act(request: web.Request) -> web.Response:
    form = await request.post()
    action = request.match_info["action"]
    done = await in_session(request, _act, request.match_info["id"], action, current_username(request), dict(form),
                            scope_of(request))
    if done.error is not None:
        await audit(request, f"escalation_{action}_refused", "escalation", done.escalation_id, {"error": done.error})
        raise web.HTTPBadRequest(text=f"400: {done.error}")
    await audit(request, f"escalation_{action}", "escalation", done.escalation_id,
                {"event_id": done.event_id, "text": done.text, "contact_id": done.contact_id})
    raise web.HTTPSeeOther(f"/escalations/{request.match_info['id']}")


def _act(db: DbSession, escalation_id: str, action: str, actor: str, form: dict[str, Any],
         scope: Scope) -> ActionDone:
    try:
        return act_in_scope(db, int(escalation_id), action, actor, form, scope)
    except NotInScope:
        raise web.HTTPNotFound(text="no such escalation") from None


@routes.get("/contacts/{id:\\d+}")
@requires(Role.VIEWER)
async def contact_page(request: web.Request) -> web.Response:
    context = await in_session(request, _person, int(request.match_info["id"]), scope_of(request))
    await audit(request, "view_contact", "contact", context["contact"].id)
    return render(request, "contact.html", context)


def _person(db: DbSession, contact_id: int, scope: Scope) -> dict[str, Any]:
    try:
        contact = scoped_contact(db, contact_id, scope)
    except NotInScope:
        raise web.HTTPNotFound(text="no such contact") from None
    assert contact.id is not None
    return {"contact": contact, "days": calls_by_day(db, contact.id), "others": person_escalations(db, contact.id)}


@routes.post("/contacts/{id:\\d+}/reveal")
@requires(Role.CDC_STAFF)
async def reveal_phone(request: web.Request) -> web.Response:
    """The full number, for staff about to call the person; every reveal is audited."""
    phone = await in_session(request, _phone, int(request.match_info["id"]), scope_of(request))
    await audit(request, "reveal_phone", "contact", request.match_info["id"])
    return web.json_response({"phone": phone})


def _phone(db: DbSession, contact_id: int, scope: Scope) -> str:
    try:
        return scoped_contact(db, contact_id, scope).phone
    except NotInScope:
        raise web.HTTPNotFound(text="no such contact") from None
