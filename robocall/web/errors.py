"""Error pages in the reader's language, in the dashboard's own layout: 400, 403 (and a refused
CSRF token), 404, 405 and 500 for the pages; the JSON API keeps its JSON errors.

A handler's 400 carries its own message (which field, which row): it is shown under the title.
The other statuses say what the person can do next, from the catalogue (robocall.web.i18n).
An unexpected exception is logged with its traceback and answered with the 500 page, never a trace.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from robocall.web.templating import page_context, render

log = logging.getLogger(__name__)

# status -> the catalogue keys of its title and its advice
PAGES = {
    400: ("error_400", "error_400_hint"),
    403: ("error_403", "error_403_hint"),
    404: ("error_404", "error_404_hint"),
    405: ("error_405", "error_405_hint"),
    500: ("error_500", "error_500_hint"),
}
CSRF_PAGE = ("error_csrf", "error_csrf_hint")


def _is_api(request: web.Request, error: web.HTTPException | None = None) -> bool:
    return request.path.startswith("/api/") or (error is not None and error.content_type == "application/json")


async def _page(request: web.Request, status: int, detail: str = "") -> web.Response:
    title, hint = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    # The CSRF guard (robocall.web.security) refuses with a 403 whose text names the token.
    if status == 403 and "CSRF" in detail:
        title, hint = CSRF_PAGE
    # The page's usual context is built here: a guard may have refused before the templates' own
    # middleware ran.
    return render(request, "error.html", {**await page_context(request), "status": status, "title_key": title, "hint_key": hint,
                                          "detail": detail if status == 400 else ""}, status=status)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        # A status without a page (401 with its WWW-Authenticate, 413...) and the API go out as raised.
        if error.status not in PAGES or _is_api(request, error):
            raise
        page = await _page(request, error.status, error.text or "")
        if "Allow" in error.headers:
            page.headers["Allow"] = error.headers["Allow"]
        return page
    except Exception:
        if _is_api(request):
            raise
        log.exception("unexpected error on %s %s", request.method, request.path)
        return await _page(request, 500)
