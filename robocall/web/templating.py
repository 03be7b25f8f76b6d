"""Page templates (Jinja2 through aiohttp-jinja2): set up once, `render` used by every page route.

Kept apart from the wiring (robocall.web.dashboard) so that routes depend on this module and the
wiring on the routes, never in a circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from multidict import MultiDict

from robocall.accounts import Role
from robocall.web import formatting
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import FLOWS, SETTINGS, VOCABULARY
from robocall.web.security import can, csrf_token, current_user

TEMPLATES = Path(__file__).parent / "templates"


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES),
                               context_processors=[page_context], autoescape=True)
    env.filters.update(formatting.FILTERS)


async def page_context(request: web.Request) -> dict[str, Any]:
    lang = pick_language(request)
    settings = request.app[SETTINGS]

    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    return {"lang": lang, "t": t, "user": current_user(request), "csrf_token": await csrf_token(request),
            "can_act": can(request, Role.CDC_STAFF), "is_admin": can(request, Role.ADMIN),
            "tz": settings.tzinfo, "path": request.path, "query": request.query,
            "other_lang_url": other_language_url(request, "vi" if lang == "en" else "en"),
            "flow_titles": {name: flow.spec.title for name, flow in request.app[FLOWS].items()},
            "vocabulary": request.app[VOCABULARY]}


def other_language_url(request: web.Request, lang: str) -> str:
    """This page in `lang`, its filters kept (every query parameter but `lang`)."""
    query: MultiDict[str] = MultiDict((k, v) for k, v in request.query.items() if k != "lang")
    query.add("lang", lang)
    return str(request.rel_url.with_query(query))


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)
