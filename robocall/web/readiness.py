"""`/ready`: can this server do its work now?  Each dependency checked with a short timeout.

The database (`SELECT 1`), Redis (`PING`), each configured SMS gateway (a TCP connection to its
SMSC, HTTP API or Twilio's API; the simulated one has nothing to reach), and the telephony backend's
servers (each Asterisk's AMI answers with its banner; Twilio's API accepts a connection).  200 when
every check passes, 503 otherwise; the body names each check and what failed, as a kind of failure
(`timeout`, `refused`, ...), never a host, a secret or an error text that could hold one.  A load
balancer or systemd's watchdog reads it; `/health` only says that the process answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from redis import Redis
from sqlalchemy import text

from robocall.config import AsteriskServerConfig, HttpGatewayConfig, Settings, SmppGatewayConfig, TwilioGatewayConfig
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.security import public
from robocall.web.threads import in_thread

Check = Callable[[], Awaitable[None]]
AMI_BANNER = b"Asterisk Call Manager"


class NotReady(Exception):
    """A check's failure, said without details that could hold a host or a secret."""


def checks(app: web.Application) -> dict[str, Check]:
    """Every check this server's settings call for, by name."""
    settings = app[SETTINGS]
    timeout = settings.ready_timeout
    found: dict[str, Check] = {
        "database": lambda: in_thread(app, _database, app),
        "redis": lambda: in_thread(app, _redis, settings.redis_url, timeout),
    }
    for name, gateway in settings.sms_gateways.items():
        address = _gateway_address(gateway)
        if address is not None:
            found[f"sms_gateway:{name}"] = _tcp(*address, timeout)
    if settings.telephony_backend == "asterisk":
        for name, server in _asterisk_servers(settings).items():
            found[f"asterisk:{name}"] = _ami(server.host, server.ami_port, timeout)
    elif settings.telephony_backend == "twilio":
        found["twilio"] = _tcp(*_url_address(settings.twilio_api_base), timeout)
    return found


def _database(app: web.Application) -> None:
    with app[ENGINE].connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis(url: str, timeout: float) -> None:
    client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _url_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _gateway_address(gateway: object) -> tuple[str, int] | None:
    if isinstance(gateway, SmppGatewayConfig):
        return gateway.host, gateway.port
    if isinstance(gateway, HttpGatewayConfig):
        return _url_address(gateway.url)
    if isinstance(gateway, TwilioGatewayConfig):
        return _url_address(gateway.api_base)
    return None  # the simulated gateway is in process


def _asterisk_servers(settings: Settings) -> dict[str, AsteriskServerConfig]:
    if settings.asterisk_servers:
        return dict(settings.asterisk_servers)
    return {"asterisk": AsteriskServerConfig(host=settings.asterisk_host, ami_port=settings.asterisk_ami_port)}


def _tcp(host: str, port: int, timeout: float) -> Check:
    async def check() -> None:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return check


def _ami(host: str, port: int, timeout: float) -> Check:
    """Asterisk's manager says `Asterisk Call Manager/x.y` first: a port that merely accepts is not enough."""
    async def check() -> None:
        async def banner() -> bytes:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                return await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if not (await asyncio.wait_for(banner(), timeout)).startswith(AMI_BANNER):
            raise NotReady("not an Asterisk manager interface")
    return check


def _failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, NotReady):
        return str(exc)
    if isinstance(exc, OSError):
        return "unreachable"
    return f"failed ({type(exc).__name__})"


async def _run(name: str, check: Check, timeout: float) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout)
        result: dict[str, object] = {"name": name, "ok": True}
    except Exception as exc:  # every failure is an answer here, not a 500
        result = {"name": name, "ok": False, "error": _failure(exc)}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


@public  # what is checked and whether it answered; no host, address or secret
async def ready(request: web.Request) -> web.Response:
    timeout = request.app[SETTINGS].ready_timeout
    results = await asyncio.gather(*(_run(name, check, timeout) for name, check in checks(request.app).items()))
    ok = all(result["ok"] for result in results)
    return web.json_response({"status": "ready" if ok else "not ready", "checks": results},
                             status=200 if ok else 503, headers={"Cache-Control": "no-store"})
