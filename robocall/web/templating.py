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

from robocall.accounts import Role
from robocall.web import formatting
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import SETTINGS
from robocall.web.security import can, csrf_token, current_user

TEMPLATES = Path(__file__).parent / "templates"


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES),
                               context_processors=[_page_context], autoescape=True)
    env.filters.update(formatting.FILTERS)


async def _page_context(request: web.Request) -> dict[str, Any]:
    lang = pick_language(request)
    settings = request.app[SETTINGS]

    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    return {"lang": lang, "t": t, "user": current_user(request), "csrf_token": await csrf_token(request),
            "can_act": can(request, Role.CDC_STAFF), "is_admin": can(request, Role.ADMIN),
            "tz": settings.tzinfo, "path": request.path, "query": request.query}


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)
