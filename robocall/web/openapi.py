"""The OpenAPI 3.1 document of the JSON API (served at /api/v1/openapi.json).

Written by hand, next to the routes: a test checks every /api/v1 route is in it and nothing else.
"""

from __future__ import annotations

from typing import Any

_FILTERS = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in ("district", "commune", "category", "level", "status", "sort", "assignee", "since", "until",
                      "page", "pages")]
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_OBJ = {"content": {"application/json": {"schema": {"type": "object"}}}}


def _get(summary: str, role: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "description": f"Least role: {role}.", "parameters": parameters or [],
                    "responses": {"200": {"description": "OK", **_OBJ}, "401": {"description": "Not logged in"},
                                  "403": {"description": "Role too low"}}}}


def openapi_document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "robocall CDC dashboard API", "version": "1",
                 "description": "Log in at /login (session cookie). Phone numbers are masked. "
                                "Writes need the X-CSRF-Token header from GET /api/v1/session."},
        "servers": [{"url": server_url}],
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "robocall_session"}}},
        "security": [{"session": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                             "responses": {"200": {"description": "OK", **_OBJ}}}},
            "/api/v1/session": _get("The logged-in user and the CSRF token for writes", "viewer"),
            "/api/v1/escalations": _get("The escalation queue (100 a page; `pages` pages from `page` on at once, at most 20)", "viewer", _FILTERS),
            "/api/v1/escalations/{id}": _get("One escalation: person (masked), calls, timeline", "viewer", _ID),
            "/api/v1/escalations/{id}/actions": {"post": {
                "summary": "Acknowledge, assign (a user's id or name), note, schedule a callback, resolve or reopen",
                "parameters": _ID,
                "description": "Least role: cdc_staff. Header X-CSRF-Token required.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["action"], "properties": {
                        "action": {"enum": ["acknowledge", "assign", "note", "callback", "resolve", "reopen"]},
                        "assignee": {"type": ["string", "integer"]}, "text": {"type": "string"},
                        "kind": {"enum": ["robot_call", "staff_call"]}, "flow": {"type": "string"},
                        "due": {"type": "string", "description": "local YYYY-MM-DDTHH:MM"},
                        "outcome": {"enum": ["tested", "hospital", "home_isolation", "visited", "false_alarm",
                                             "unreachable", "other"]}}}}}},
                "responses": {"200": {"description": "Done", **_OBJ}, "400": {"description": "Refused"},
                              "403": {"description": "Role too low or CSRF token missing"}}}},
            "/api/v1/lists/{kind}": _get("A line list: symptomatic, non_reporting, monitoring or closed", "viewer", [
                {"name": "kind", "in": "path", "required": True,
                 "schema": {"enum": ["symptomatic", "non_reporting", "monitoring", "closed"]}},
                {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"}},
                *_FILTERS[:3]]),
            "/api/v1/contacts": _get("Contact search by name or last digits of the phone", "viewer",
                                     [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}]),
            "/api/v1/campaigns": _get("Call campaigns with progress and answer rate", "viewer"),
            "/api/v1/campaigns/{id}": _get("One campaign with calls and escalations per day", "viewer", _ID),
            "/api/v1/report": _get("The provincial report over local days from..to", "viewer", [
                {"name": n, "in": "query", "schema": {"type": "string", "format": "date"}} for n in ("from", "to")]),
            "/api/v1/audit": _get("The latest audit entries", "admin", [
                {"name": n, "in": "query", "schema": {"type": "string"}} for n in ("actor", "action")]),
        },
    }
