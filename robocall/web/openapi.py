"""The OpenAPI 3.1 document of the JSON API (served at /api/v1/openapi.json).

The paths are written next to the routes (a test checks every /api/v1 route is in it and nothing
else); the request and response schemas are generated from the pydantic models the routes use
(robocall/web/api_models.py), so a fuzzer (tests/web/test_api_fuzz.py) can hold the answers to them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from robocall.inputs import MAX_ID, NAME_MAX
from robocall.web import api_models as m
from robocall.web.paging import API_LIMIT, API_LIMIT_MAX
from robocall.web.params import FIRST_DAY, LAST_DAY, QUERY_VALUE_MAX

_RESPONSES: list[type[BaseModel]] = [m.Error, m.SessionInfo, m.Queue, m.EscalationDetail, m.ActionResult, m.LineList,
                                     m.ContactResults, m.Campaigns, m.Campaign, m.Report, m.AuditEntries]
_TEXT = {"type": "string", "maxLength": NAME_MAX}
_DAY = {"type": "string", "format": "date", "formatMinimum": FIRST_DAY.isoformat(), "formatMaximum": LAST_DAY.isoformat()}
_FILTERS = [{"name": n, "in": "query", "required": False, "schema": _TEXT}
            for n in ("district", "commune", "category", "level", "status", "sort", "assignee")] + [
    {"name": n, "in": "query", "required": False, "schema": _DAY} for n in ("since", "until")]
# Keyset paging (robocall/web/paging.py): `cursor` is a response's `next` or `prev`, sent back as received.
_PAGING = [{"name": "cursor", "in": "query", "required": False,
            "description": "A page's `next` or `prev` value, as received (opaque); a bad one is a 400 naming it",
            "schema": {"type": "string", "maxLength": QUERY_VALUE_MAX}},
           {"name": "limit", "in": "query", "required": False, "description": f"Rows a page (default {API_LIMIT})",
            "schema": {"type": "integer", "minimum": 1, "maximum": API_LIMIT_MAX}}]
_AUDIT_FILTERS = [{"name": n, "in": "query", "required": False, "schema": _DAY} for n in ("since", "until")] + [
    {"name": n, "in": "query", "required": False, "schema": _TEXT} for n in ("actor", "action", "object_type", "object_id")]
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}]


@cache
def _schemas() -> dict[str, Any]:
    _, top = models_json_schema([(model, "serialization") for model in _RESPONSES] + [(m.EscalationAction, "validation")],
                                ref_template="#/components/schemas/{model}")
    return dict(top["$defs"])


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


_REFUSED = {"401": _json(m.Error, "Not logged in"), "403": _json(m.Error, "Role too low")}


def _get(summary: str, role: str, answer: type[BaseModel], parameters: list[dict[str, Any]] | None = None,
         *, not_found: bool = False, bad: bool = False) -> dict[str, Any]:
    responses = {"200": _json(answer, "OK"), **_REFUSED}
    if bad:
        responses["400"] = _json(m.Error, "Bad input: the field named")
    if not_found:
        responses["404"] = {"description": "Not found"}
    return {"get": {"summary": summary, "description": f"Least role: {role}.", "parameters": parameters or [],
                    "responses": responses}}


def openapi_document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "robocall CDC dashboard API", "version": "1",
                 "description": "Log in at /login (session cookie). Phone numbers are masked. "
                                "Writes need the X-CSRF-Token header from GET /api/v1/session. "
                                "Bad input is a 400 {\"error\", \"field\"}, Vietnamese first."},
        "servers": [{"url": server_url}],
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "robocall_session"}},
                       "schemas": _schemas()},
        "security": [{"session": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                             "responses": {"200": {"description": "OK", "content": {
                                                 "application/json": {"schema": {"type": "object"}}}}}}},
            "/api/v1/session": _get("The logged-in user and the CSRF token for writes", "viewer", m.SessionInfo),
            "/api/v1/escalations": _get("The escalation queue, a page at a time: unresolved cases by default, most urgent "
                                        "then oldest (`sort=level`), or `newest` or `oldest` first", "viewer", m.Queue,
                                        [*_FILTERS, *_PAGING], bad=True),
            "/api/v1/escalations/{id}": _get("One escalation: person (masked), calls, timeline", "viewer",
                                             m.EscalationDetail, _ID, not_found=True),
            "/api/v1/escalations/{id}/actions": {"post": {
                "summary": "Acknowledge, assign (a user's id or name), note, schedule a callback, resolve or reopen",
                "parameters": _ID,
                "description": "Least role: cdc_staff. Header X-CSRF-Token required.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/EscalationAction"}}}},
                "responses": {"200": _json(m.ActionResult, "Done"), "400": _json(m.Error, "Refused: the field named"),
                              "401": _json(m.Error, "Not logged in"),
                              "403": {"description": "Role too low or CSRF token missing"},
                              "404": {"description": "Not found"}}}},
            "/api/v1/lists/{kind}": _get("A line list (symptomatic, non_reporting, monitoring or closed) as it stood at the "
                                         "end of the local day `as_of`, by place, a page at a time", "viewer",
                                         m.LineList, [
                {"name": "kind", "in": "path", "required": True,
                 "schema": {"enum": ["symptomatic", "non_reporting", "monitoring", "closed"]}},
                {"name": "as_of", "in": "query", "schema": _DAY}, *_FILTERS[:3], *_PAGING], bad=True),
            "/api/v1/contacts": _get("Contact search: the whole phone number, or the start of the full or given name "
                                     "(by name, alphabetically), a page at a time", "viewer", m.ContactResults,
                                     [{"name": "q", "in": "query", "required": True, "schema": _TEXT}, *_PAGING],
                                     bad=True),
            "/api/v1/campaigns": _get("Call campaigns with progress and answer rate", "viewer", m.Campaigns),
            "/api/v1/campaigns/{id}": _get("One campaign with calls and escalations per day", "viewer", m.Campaign, _ID,
                                           not_found=True),
            "/api/v1/report": _get("The provincial report over local days from..to", "viewer", m.Report, [
                {"name": n, "in": "query", "schema": _DAY} for n in ("from", "to")], bad=True),
            "/api/v1/audit": _get("Audit entries, newest first, a page at a time: local days since..until, the actor, the "
                                  "action (or a family: `escalation` is every escalation_*), the object's type and id",
                                  "admin", m.AuditEntries, [*_AUDIT_FILTERS, *_PAGING], bad=True),
        },
    }
