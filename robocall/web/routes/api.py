"""The JSON API: the dashboard's data for other tools, same session login, same roles, same audit.

Phone numbers are masked here too.  Writes need the session's CSRF token in `X-CSRF-Token`
(from GET /api/v1/session).  The OpenAPI document is robocall/web/openapi.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.call_policy import policy_from_settings
from robocall.config import Settings
from robocall.inputs import BadInput, parse
from robocall.models import CallAttempt, CaseTask, Escalation, utcnow
from robocall.web.api_models import EscalationAction
from robocall.web.audit import AUDIT_ORDER, AuditFilters, audit, audit_entries
from robocall.web.campaign_stats import all_campaigns, campaign_by_id
from robocall.web.casework import CaseworkError, NotInScope, act_in_scope, outbound_flows, schedule, scoped_case
from robocall.web.escalation_actions import ActionDone
from robocall.web.escalation_queries import (
    QueueFilters,
    case_tasks,
    escalation_calls,
    escalation_queue,
    next_tasks,
    queue_row,
    timeline,
)
from robocall.web.keys import ENGINE, FLOWS, SETTINGS
from robocall.web.line_lists import KINDS, SEARCH_ORDER, ContactSearch, SearchError, line_list
from robocall.web.list_query import ListAsked, read_list_page
from robocall.web.openapi import openapi_document
from robocall.web.paging import api_links, read_cursor, read_limit
from robocall.web.params import bad_request
from robocall.web.reporting import report_for
from robocall.web.scope import Scope, scope_of
from robocall.web.security import (
    csrf_token,
    current_user,
    current_username,
    public,
    requires,
)
from robocall.web.threads import in_session, in_thread

routes = web.RouteTableDef()
API = "/api/v1"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


@routes.get(f"{API}/openapi.json")
@public
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[SETTINGS].public_base_url))


@routes.get(f"{API}/session")
@requires(Role.VIEWER)
async def session_info(request: web.Request) -> web.Response:
    return web.json_response({"user": current_user(request), "csrf_token": await csrf_token(request)})


@routes.get(f"{API}/escalations")
@requires(Role.VIEWER)
async def escalations(request: web.Request) -> web.Response:
    limit = read_limit(request.query.get("limit"))
    try:
        filters = QueueFilters.from_query(request.query, per_page=limit)
    except ValueError as error:
        return web.json_response({"error": str(error)}, status=400)
    filters.pages = 1  # `limit` says how many rows
    found = await in_session(request, escalation_queue, filters, request.app[SETTINGS], utcnow(), scope_of(request))
    await audit(request, "view_queue", "escalation", "", {"filters": filters.as_query(), "rows": len(found.rows),
                                                          "page": found.page.number, "via": "api"})
    return web.json_response({"total": found.total, "page": found.page.number,
                              "rows": [r.to_json() for r in found.rows], **api_links(found.page)})


@routes.get(f"{API}/escalations/{{id:\\d+}}")
@requires(Role.VIEWER)
async def escalation(request: web.Request) -> web.Response:
    body, found = await in_session(request, _escalation_json, int(request.match_info["id"]), request.app[SETTINGS],
                                   scope_of(request))
    await audit(request, "view_escalation", "escalation", found.id, {"contact_id": found.contact_id})
    return web.json_response(body)


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text='{"error": "not found"}', content_type="application/json")


def _task_json(task: CaseTask) -> dict[str, Any]:
    return {"id": task.id, "kind": task.kind, "due_at": _iso(task.due_at), "assignee": task.assignee,
            "flow": task.flow, "state": task.state, "result": task.result}


def _escalation_json(db: DbSession, escalation_id: int, settings: Settings,
                     scope: Scope) -> tuple[dict[str, Any], Escalation]:
    try:
        found, contact = scoped_case(db, escalation_id, scope)
    except NotInScope:
        raise _not_found() from None
    days = escalation_calls(db, found, contact)
    attempt = db.get(CallAttempt, found.attempt_id) if found.attempt_id else None
    task = next_tasks(db, [escalation_id]).get(escalation_id)
    body: dict[str, Any] = {
        "escalation": queue_row(found, contact, settings, utcnow(), attempt.phone if attempt else "",
                                task).to_json(),
        "contact": {"id": contact.id, "name": contact.name, "address": contact.address,
                    "birth_year": contact.birth_year, "district": contact.district, "commune": contact.commune,
                    "notes": contact.notes} if contact else None,
        "callbacks": [_task_json(t) for t in case_tasks(db, escalation_id)],
        "outcome": found.outcome, "flow": found.flow,
        "timeline": [{"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "text": e.text}
                     for e in timeline(db, found.id or 0)],
        "calls": [{"day": _iso(d.day), "attempts": [
            {"id": a.id, "direction": a.direction, "channel": a.channel, "state": a.state,
             "end_reason": a.end_reason,
             "queued_at": _iso(a.queued_at), "answers": {x.question: x.value for x in answers}}
            for a, answers in d.attempts]} for d in days],
    }
    return body, found


@routes.post(f"{API}/escalations/{{id:\\d+}}/actions")
@requires(Role.CDC_STAFF)
async def escalation_action(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:  # not JSON at all
        raise bad_request(request, BadInput("body", "cần JSON / send JSON")) from None
    try:
        asked = parse(EscalationAction, body)
    except BadInput as error:
        raise bad_request(request, error) from None
    action, data = asked.action, asked.model_dump()
    case_id = int(request.match_info["id"])
    if action == "callback":  # schedule a robot or staff call (kind, due, flow / assignee)
        settings = request.app[SETTINGS]
        try:
            task = await in_session(request, schedule, case_id, data, current_username(request), scope_of(request),
                                    settings, policy_from_settings(settings), set(outbound_flows(request.app[FLOWS])))
        except NotInScope:
            raise _not_found() from None
        except CaseworkError as error:
            return web.json_response({"error": str(error)}, status=400)
        await audit(request, "escalation_callback", "escalation", case_id,
                    {"task_id": task.id, "kind": task.kind, "flow": task.flow, "assignee": task.assignee, "via": "api"})
        return web.json_response({"callback": _task_json(task)})
    done = await in_session(request, _act, case_id, action, current_username(request), data, scope_of(request))
    if done.error is not None:
        return web.json_response({"error": done.error, **({"field": done.field} if done.field else {})}, status=400)
    await audit(request, f"escalation_{action}", "escalation", done.escalation_id,
                {"event_id": done.event_id, "via": "api"})
    return web.json_response({"status": done.status, "event": {"kind": done.kind, "text": done.text}})


def _act(db: DbSession, escalation_id: int, action: str, actor: str, data: dict[str, Any],
         scope: Scope) -> ActionDone:
    try:
        return act_in_scope(db, escalation_id, action, actor, data, scope)
    except NotInScope:
        raise _not_found() from None


@routes.get(f"{API}/lists/{{kind}}")
@requires(Role.VIEWER)
async def lists(request: web.Request) -> web.Response:
    if request.match_info["kind"] not in KINDS:
        raise web.HTTPNotFound(text='{"error": "no such list"}', content_type="application/json")
    asked = ListAsked.read(request)
    as_of, page = await in_session(request, read_list_page, asked, read_limit(request.query.get("limit")))
    await audit(request, "view_line_list", "contact", "", {"list": asked.kind, "rows": len(page.rows),
                                                           "page": page.number, "via": "api"})
    return web.json_response({"list": asked.kind, "as_of": as_of.isoformat(), "total": page.total,
                              "page": page.number, "rows": [r.to_json() for r in page.rows], **api_links(page)})


@routes.get(f"{API}/contacts")
@requires(Role.VIEWER)
async def contacts(request: web.Request) -> web.Response:
    cursor = read_cursor(request.query.get("cursor"), SEARCH_ORDER)
    limit = read_limit(request.query.get("limit"))
    try:
        search = ContactSearch.parse(request.query.get("q", ""))
    except SearchError as exc:
        return web.json_response({"error": str(exc), "field": "q"}, status=400)
    page = await in_session(request, line_list, "search", dt.date.today(), search=search, scope=scope_of(request),
                            cursor=cursor, size=limit)
    await audit(request, "search_contacts", "contact", "", {**search.audit_detail(), "rows": len(page.rows),
                                                            "page": page.number})
    return web.json_response({"total": page.total, "page": page.number, "rows": [r.to_json() for r in page.rows],
                              **api_links(page)})


@routes.get(f"{API}/campaigns")
@requires(Role.VIEWER)
async def campaigns(request: web.Request) -> web.Response:
    found = await in_session(request, all_campaigns, dt.datetime.now(request.app[SETTINGS].tzinfo).date(),
                             scope_of(request))
    return web.json_response({"campaigns": [c.to_json() for c in found]})


@routes.get(f"{API}/campaigns/{{id:\\d+}}")
@requires(Role.VIEWER)
async def campaign(request: web.Request) -> web.Response:
    found = await in_session(request, campaign_by_id, int(request.match_info["id"]), True,
                             dt.datetime.now(request.app[SETTINGS].tzinfo).date(), scope_of(request))
    if found is None:
        raise web.HTTPNotFound(text='{"error": "not found"}', content_type="application/json")
    return web.json_response(found.to_json())


@routes.get(f"{API}/report")
@requires(Role.VIEWER)
async def report(request: web.Request) -> web.Response:
    return web.json_response((await report_for(request)).to_json())


@routes.get(f"{API}/audit")
@requires(Role.ADMIN)
async def audit_log(request: web.Request) -> web.Response:
    filters = AuditFilters.from_query(request.query)
    cursor = read_cursor(request.query.get("cursor"), AUDIT_ORDER)
    page = await in_thread(request, audit_entries, request.app[ENGINE], filters, request.app[SETTINGS].tzinfo, cursor,
                           read_limit(request.query.get("limit")))
    return web.json_response({"page": page.number, "entries": [
        {"id": e.id, "at": _iso(e.at), "actor": e.actor, "action": e.action, "object_type": e.object_type,
         "object_id": e.object_id, "detail": e.detail} for e in page.rows], **api_links(page)})
