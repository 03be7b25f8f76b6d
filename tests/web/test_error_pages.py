"""Error pages: in the dashboard's layout, Vietnamese first and English in English mode, for 400,
403, a refused CSRF token, 404 and 500; the JSON API keeps JSON errors."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient
from webhelp import csrf_of, login, run_client

from robocall.web.security import public

STYLED = '<link rel="stylesheet" href="/static/style.css">'


@public
async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug with a secret inside")


def test_error_pages_are_styled_and_in_the_readers_language(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    app = make_app()
    app.router.add_get("/boom", _boom)

    async def scenario(client: TestClient) -> dict[str, tuple[int, str]]:
        pages: dict[str, tuple[int, str]] = {}

        async def grab(name: str, response) -> None:  # type: ignore[no-untyped-def]
            pages[name] = (response.status, await response.text())

        await grab("404", await client.get("/no-such-page"))
        await grab("404_en", await client.get("/no-such-page?lang=en"))
        await client.get("/escalations?lang=vi")
        await grab("500", await client.get("/boom"))
        await grab("csrf", await client.post("/login", data={"username": "x", "password": "y"}))
        await login(client, "viewer")
        token = await csrf_of(client, "/escalations")
        await grab("403", await client.post(f"/escalations/{ids['urgent_old']}/acknowledge",
                                            data={"csrf_token": token}))
        await grab("400", await client.get("/reports?from=2021-08-12&to=2021-08-11"))
        await grab("400_en", await client.get("/reports?from=2021-08-12&to=2021-08-11&lang=en"))
        await grab("api", await client.get("/api/v1/escalations/999999"))
        return pages

    pages = run_client(app, scenario)
    expected = {"404": (404, "Không tìm thấy trang"), "404_en": (404, "Page not found"),
                "500": (500, "Lỗi hệ thống"), "csrf": (403, "Phiên làm việc đã hết hạn"),
                "403": (403, "Không có quyền truy cập"), "400": (400, "Yêu cầu không hợp lệ"),
                "400_en": (400, "Bad request")}
    for name, (status, title) in expected.items():
        got_status, html = pages[name]
        assert got_status == status, name
        assert STYLED in html and f"<h1>{title}</h1>" in html, name
        assert "Traceback" not in html and "secret inside" not in html, name
    assert 'html lang="en"' in pages["404_en"][1] and 'html lang="vi"' in pages["404"][1]
    status, body = pages["api"]
    assert status == 404 and "<html" not in body
