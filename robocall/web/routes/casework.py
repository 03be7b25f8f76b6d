"""Casework on a case and a contact: the caller's number (revealed, audited), the caller made a contact,
a contact's details edited, callbacks scheduled and done, bulk actions from the queue, and the
home-visit worksheet.  The logic is robocall/web/casework.py (shared with the JSON API)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from robocall.accounts import Role
from robocall.call_policy import policy_from_settings
from robocall.web.audit import audit
from robocall.web.casework import (
    CaseworkError,
    NotInScope,
    bulk_act,
    cancel,
    edit_contact,
    finish_task,
    home_visits,
    make_contact,
    outbound_flows,
    reveal_case_phone,
    schedule,
)
from robocall.web.escalation_actions import BULK_ACTIONS
from robocall.web.escalation_queries import filter_options
from robocall.web.keys import FLOWS, SETTINGS
from robocall.web.scope import scope_of
from robocall.web.security import current_username, requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()


async def _run(request: web.Request, fn: Any, *args: Any) -> Any:
    """Run a casework function: out of scope or missing is a 404, bad input a 400 naming the field."""
    try:
        return await in_session(request, fn, *args)
    except NotInScope:
        raise web.HTTPNotFound(text="404: không tìm thấy / not found") from None
    except CaseworkError as error:
        raise web.HTTPBadRequest(text=f"400: {error}") from None


@routes.post("/escalations/{id:\\d+}/reveal")
@requires(Role.CDC_STAFF)
async def reveal_case(request: web.Request) -> web.Response:
    """The case's number (the contact's, else the one that called or texted); every reveal is audited."""
    case_id = int(request.match_info["id"])
    phone, contact_id = await _run(request, reveal_case_phone, case_id, scope_of(request))
    await audit(request, "reveal_phone", "escalation", case_id, {"contact_id": contact_id})
    return web.json_response({"phone": phone})


@routes.post("/escalations/{id:\\d+}/contact")
@requires(Role.CDC_STAFF)
async def case_contact(request: web.Request) -> web.Response:
    """Turn the caller of a case without a contact into a contact."""
    case_id = int(request.match_info["id"])
    form = dict(await request.post())
    contact = await _run(request, make_contact, case_id, form, scope_of(request))
    await audit(request, "contact_from_case", "contact", contact.id,
                {"escalation_id": case_id, "fields": sorted(k for k in form if k != "csrf_token")})
    raise web.HTTPSeeOther(f"/escalations/{case_id}")


@routes.post("/escalations/{id:\\d+}/callback")
@requires(Role.CDC_STAFF)
async def case_callback(request: web.Request) -> web.Response:
    """Schedule a robot call with a chosen flow, or a staff call with an assignee, at a due time."""
    case_id = int(request.match_info["id"])
    form = dict(await request.post())
    settings = request.app[SETTINGS]
    task = await _run(request, schedule, case_id, form, current_username(request), scope_of(request), settings,
                      policy_from_settings(settings), set(outbound_flows(request.app[FLOWS])))
    await audit(request, "escalation_callback", "escalation", case_id,
                {"task_id": task.id, "kind": task.kind, "flow": task.flow, "assignee": task.assignee,
                 "due_at": task.due_at.isoformat()})
    raise web.HTTPSeeOther(f"/escalations/{case_id}")


@routes.post("/escalations/{id:\\d+}/tasks/{task:\\d+}/done")
@requires(Role.CDC_STAFF)
async def task_done(request: web.Request) -> web.Response:
    case_id, task_id = int(request.match_info["id"]), int(request.match_info["task"])
    form = await request.post()
    await _run(request, finish_task, case_id, task_id, str(form.get("result", "")), current_username(request),
               scope_of(request))
    await audit(request, "escalation_task_done", "escalation", case_id, {"task_id": task_id})
    raise web.HTTPSeeOther(f"/escalations/{case_id}")


@routes.post("/escalations/{id:\\d+}/tasks/{task:\\d+}/cancel")
@requires(Role.CDC_STAFF)
async def task_cancel(request: web.Request) -> web.Response:
    case_id, task_id = int(request.match_info["id"]), int(request.match_info["task"])
    await _run(request, cancel, case_id, task_id, current_username(request), scope_of(request))
    await audit(request, "escalation_task_cancel", "escalation", case_id, {"task_id": task_id})
    raise web.HTTPSeeOther(f"/escalations/{case_id}")


@routes.post("/escalations/bulk")
@requires(Role.CDC_STAFF)
async def bulk(request: web.Request) -> web.Response:
    """Acknowledge, assign or resolve the cases ticked in the queue; each one audited."""
    form = await request.post()
    action = str(form.get("action", ""))
    if action not in BULK_ACTIONS:
        raise web.HTTPBadRequest(text=f"400: action: one of {', '.join(BULK_ACTIONS)}")
    try:
        ids = [int(str(v)) for v in form.getall("ids", [])]
    except ValueError:
        raise web.HTTPBadRequest(text="400: ids: case numbers") from None
    if not ids:
        raise web.HTTPBadRequest(text="400: chọn ít nhất một trường hợp / ids: tick at least one case")
    results = await _run(request, bulk_act, ids, action, current_username(request),
                         {k: str(v) for k, v in form.items() if k != "ids"}, scope_of(request))
    for done in results:
        name = f"escalation_{action}" + ("_refused" if done.error else "")
        await audit(request, name, "escalation", done.escalation_id,
                    {"via": "bulk", "event_id": done.event_id, "error": done.error})
    refused = [f"#{d.escalation_id}: {d.error}" for d in results if d.error]
    if refused and len(refused) == len(results):
        raise web.HTTPBadRequest(text="400: " + "; ".join(refused))
    raise web.HTTPSeeOther(str(form.get("back", "")) if str(form.get("back", "")).startswith("/escalations")
                           else "/escalations")


@routes.post("/contacts/{id:\\d+}/edit")
@requires(Role.CDC_STAFF)
async def contact_edit(request: web.Request) -> web.Response:
    contact_id = int(request.match_info["id"])
    form = dict(await request.post())
    changes = await _run(request, edit_contact, contact_id, form, scope_of(request))
    # What changed, without the values (personal data stays in the contact row).
    await audit(request, "contact_edit", "contact", contact_id, {"fields": sorted(changes)})
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(back if back.startswith("/escalations/") else f"/contacts/{contact_id}")


@routes.get("/home-visits")
@requires(Role.VIEWER)
async def home_visit_sheet(request: web.Request) -> web.Response:
    """The worksheet of a commune's open home visits, to print for the commune health station."""
    district, commune = request.query.get("district", ""), request.query.get("commune", "")
    scope = scope_of(request)
    rows = await in_session(request, home_visits, scope, district, commune)
    options = await in_session(request, filter_options, scope)
    await audit(request, "view_home_visits", "escalation", "", {"district": district, "commune": commune,
                                                               "rows": len(rows)})
    return render(request, "home_visits.html", {"rows": rows, "district": district, "commune": commune,
                                                "options": options})
