"""HTTP routes of the SMS side: carrier callbacks (receipts, inbound SMS) and the campaign API.

Carrier callbacks are authenticated by a shared secret (SMS_WEBHOOK_SECRET):
header ``X-Timestamp`` = the Unix time of sending, header ``X-Signature`` = hex
HMAC-SHA256 of ``<timestamp>.<raw body>``, compared in constant time; anything else
gets 401 before the body is even parsed.  A delivery older or newer than
SMS_WEBHOOK_TOLERANCE_SECONDS is refused (401), and each one is taken once: its
signature (or the carrier's message ``id`` on inbound SMS) goes into a seen-set in
Redis that outlives the tolerance, so a captured ``KB`` replayed is answered 200
``{"duplicate": true}`` and does nothing.  `webhook_headers` signs (the local
carriers use it).  A gateway that is not configured is 404.

``POST /sms/receipts/{gateway}``  ``{"receipts": [{"message_id": "...", "status": "delivered|failed|expired", "error": "...", "id": "..."}]}``
(``message_id``: the carrier's; ``id``, optional: ours, as we sent it, for carriers that echo it back)
``POST /sms/inbound/{gateway}``   ``{"from": "+8491...", "text": "TU CHOI"}``

Twilio gateways (kind ``twilio``) post forms signed with ``X-Twilio-Signature``
(the library's RequestValidator, keyed by that gateway's auth_token, over the
public URL configured for the hook: behind a proxy our request URL differs);
a missing or forged signature gets 403 before anything is read into the
database, an unknown gateway 404:

``POST /sms/twilio/{gateway}/status``   MessageSid, MessageStatus, ErrorCode (delivered / undelivered / failed are receipts)
``POST /sms/twilio/{gateway}/inbound``  From, Body -> handle_inbound; answers an empty TwiML ``<Response/>``

The campaign API takes ``Authorization: Bearer SMS_API_TOKEN`` (off when unset):

``GET  /api/sms/campaigns`` · ``GET /api/sms/campaigns/{id}`` ·
``POST /api/sms/campaigns`` ``{"text": "...", "contacts": "category=F1" | "phones": [...], "strip_accents": false, "at": "2021-08-12T08:00+07:00", "dry_run": false}`` ·
``POST /api/sms/campaigns/{id}/pause|resume|cancel``

Both are aiohttp sub-apps (`sms_apps`), mounted under ``/sms/`` and ``/api/sms/`` by the server
(robocall/web/app.py, which lends them its database engine and its pool of threads) or by
`add_sms_routes` on an app of their own (tests, the benchmark).  They share one `SmsContext`
(database, Redis, gateway settings), opened at start-up and closed at clean-up.  No cookie is
involved, so the dashboard's session and CSRF guards do not apply to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, Field, field_validator
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from robocall.config import Settings, TwilioGatewayConfig, get_settings
from robocall.inputs import MAX_ID, NAME_MAX, NO_CONTROL, PHONES_MAX, SMS_TEXT_MAX, BadInput, Strict, parse
from robocall.outages import OUTAGES
from robocall.queues import SMS, queue_name
from robocall.sms_models import CampaignStatus
from robocall.telephony.twilio.signature import form_id, twilio_form
from robocall.text import bilingual, storable_text
from sms.campaigns import (
    CampaignError,
    create_campaign,
    dry_run,
    figures,
    list_campaigns,
    set_status,
)
from sms.context import SmsContext, context_from_settings
from sms.fanout import enqueue_due
from sms.gateways.base import Receipt
from sms.inbound import handle_inbound
from sms.prepare import Template
from sms.receipts import queue_receipts
from sms.recipients import (
    CONTACT_FIELDS,
    ContactFilter,
    Recipient,
    RecipientsError,
    contact_recipients,
)


class ReceiptItem(BaseModel):
    """One delivery receipt as a carrier posts it."""
    message_id: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)] | int
    status: Literal["delivered", "failed", "expired"]
    error: Annotated[str, Field(max_length=500)] = ""
    id: Annotated[str, Field(max_length=40)] | int | None = None


class ReceiptsBody(BaseModel):
    receipts: Annotated[list[Any], Field(max_length=10_000)]


class InboundBody(BaseModel):
    from_: Annotated[str, Field(alias="from", min_length=1, max_length=32, pattern=NO_CONTROL)]
    text: Annotated[str, Field(max_length=2000)]
    id: Annotated[str, Field(max_length=200, pattern=NO_CONTROL)] | int | None = None


class CampaignBody(Strict):
    """POST /api/sms/campaigns: to `contacts` (a filter such as ``category=F1``) or to `phones`."""
    text: Annotated[str, Field(min_length=1, max_length=SMS_TEXT_MAX)]
    contacts: Annotated[str, Field(max_length=500)] = ""
    phones: Annotated[list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=PHONES_MAX)] | None = None
    strip_accents: bool = False
    at: Annotated[str, Field(max_length=40)] | None = None  # ISO 8601, e.g. 2021-08-12T08:00+07:00
    dry_run: bool = False
    name: Annotated[str, Field(max_length=NAME_MAX)] = ""

    @field_validator("at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            dt.datetime.fromisoformat(value)  # ValueError: pydantic names the field
        return value

    @property
    def send_at(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.at) if self.at else None


def _bad(error: BadInput) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps(error.to_json(), ensure_ascii=False), content_type="application/json")


BAD_SIGNATURE = bilingual("chữ ký X-Timestamp/X-Signature sai hoặc thiếu", "bad or missing signature")
UNKNOWN_GATEWAY = bilingual("không có cổng SMS này", "unknown gateway")
NOT_TAKEN = bilingual("chưa nhận được lúc này, hãy gửi lại", "not taken now, send it again")
NOT_STORED = bilingual("chưa lưu được báo cáo phát, hãy gửi lại", "receipts not stored, send them again")

log = logging.getLogger(__name__)

SMS_CALLBACKS_PREFIX = "/sms/"
SMS_API_PREFIX = "/api/sms/"

# `await run_blocking(fn, *args)`: fn(*args) off the event loop (database, Redis).
RunBlocking = Callable[..., Awaitable[Any]]


@dataclass
class _Shared:
    """What both sub-apps use; the context is made at start-up (settings may change until the app runs)."""
    settings: Settings | None
    engine: Callable[[], Engine] | None  # the host's engine, asked for at start-up; None: one of our own
    run_blocking: RunBlocking
    ctx: SmsContext | None = None

    async def lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        settings = self.settings or get_settings()
        self.ctx = ctx = context_from_settings(settings, engine=self.engine() if self.engine else None)
        try:
            yield
        finally:
            self.ctx = None
            ctx.close()  # gateways, should a route have built one
            ctx.redis.close()
            if self.engine is None:
                ctx.engine.dispose()


SHARED = web.AppKey("sms_shared", _Shared)


def sms_apps(*, settings: Settings | None = None, engine: Callable[[], Engine] | None = None,
             run_blocking: RunBlocking | None = None) -> tuple[web.Application, web.Application]:
    """(carrier callbacks, campaign API): two sub-apps for SMS_CALLBACKS_PREFIX and SMS_API_PREFIX.

    `engine` gives the host's database engine at start-up (default: the sub-apps open their own);
    `run_blocking` is the host's way of running blocking work (default: asyncio.to_thread).
    """
    shared = _Shared(settings, engine, run_blocking or asyncio.to_thread)
    callbacks, api = web.Application(), web.Application()
    callbacks[SHARED] = api[SHARED] = shared
    callbacks.cleanup_ctx.append(shared.lifespan)  # one context for both, opened with the first
    callbacks.router.add_post("/receipts/{gateway}", receipts)
    callbacks.router.add_post("/inbound/{gateway}", inbound)
    callbacks.router.add_post("/twilio/{gateway}/status", twilio_status)
    callbacks.router.add_post("/twilio/{gateway}/inbound", twilio_inbound)
    api.router.add_get("/campaigns", api_list)
    api.router.add_post("/campaigns", api_create)
    api.router.add_get("/campaigns/{id:\\d+}", api_show)
    api.router.add_post("/campaigns/{id:\\d+}/{action:pause|resume|cancel}", api_control)
    return callbacks, api


def add_sms_routes(app: web.Application) -> None:
    """The SMS sub-apps on an app of their own, with their own engine and threads (tests, benchmark)."""
    callbacks, api = sms_apps()
    app.add_subapp(SMS_CALLBACKS_PREFIX, callbacks)
    app.add_subapp(SMS_API_PREFIX, api)


def _context(app: web.Application) -> SmsContext:
    ctx = app[SHARED].ctx
    assert ctx is not None, "the SMS sub-apps are not started"
    return ctx


def _blocking(request: web.Request) -> RunBlocking:
    return request.app[SHARED].run_blocking


def _settings(request: web.Request) -> Settings:
    return request.app[SHARED].settings or get_settings()


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers a carrier sends with `body`: the time of sending and the signature over both."""
    timestamp = str(int(time.time() if now is None else now))
    return {"X-Timestamp": timestamp, "X-Signature": _signature(secret, timestamp, body),
            "Content-Type": "application/json"}


def signature_ok(secret: str, body: bytes, timestamp: str | None, signature: str | None) -> bool:
    # isascii: str.isdigit() takes other scripts' digits too ("١٢"), which int() reads but no carrier sends.
    if (not secret or not signature or not timestamp or not timestamp.isascii() or not timestamp.isdigit()
            or len(timestamp) > 12):
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (TypeError, a 500).
    given = signature.strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(_signature(secret, timestamp, body).encode(), given)


_SEEN = "sms:webhook-seen:"


def _first_time(ctx: SmsContext, key: str, keep_seconds: int) -> bool:
    """True the first time `key` is seen within `keep_seconds` (all server processes together)."""
    return bool(ctx.redis.set(f"{ctx.prefix}:{_SEEN}{key}", 1, nx=True, ex=keep_seconds))


def _forget(ctx: SmsContext, key: str) -> None:
    """`key` not seen after all (what it carried was not stored)."""
    ctx.redis.delete(f"{ctx.prefix}:{_SEEN}{key}")


async def _signed_json(request: web.Request) -> tuple[Any, str]:
    """(the body as JSON, its signature) of a carrier callback that is signed, fresh and from a configured
    gateway; 401 / 404 / 400 otherwise."""
    settings = _settings(request)
    body = await request.read()
    timestamp, signature = request.headers.get("X-Timestamp"), request.headers.get("X-Signature")
    if not signature_ok(settings.sms_webhook_secret, body, timestamp, signature):
        raise web.HTTPUnauthorized(text=BAD_SIGNATURE)
    if abs(time.time() - int(timestamp or 0)) > settings.sms_webhook_tolerance_seconds:
        raise web.HTTPUnauthorized(text=bilingual("X-Timestamp quá cũ hoặc ở tương lai: từ chối vì có thể là gửi lại",
                                                  "stale or future X-Timestamp: refused as a possible replay"))
    if request.match_info["gateway"] not in _context(request.app).gateway_config:
        raise web.HTTPNotFound(text=UNKNOWN_GATEWAY)
    try:
        return json.loads(body), str(signature).strip().lower()
    except ValueError:  # UnicodeDecodeError included
        raise _bad(BadInput("body", "cần JSON mã hoá UTF-8 / must be JSON in UTF-8")) from None


async def _once(request: web.Request, key: str) -> bool:
    """The delivery's first arrival (a replay, or the carrier's retry of one we took, is not); 503 while
    Redis does not answer (the carrier sends it again)."""
    keep = 2 * _settings(request).sms_webhook_tolerance_seconds + 60  # past any timestamp still accepted
    try:
        return bool(await _blocking(request)(_first_time, _context(request.app), key, keep))
    except RedisError:
        raise web.HTTPServiceUnavailable(text=NOT_TAKEN) from None


async def receipts(request: web.Request) -> web.Response:
    payload, signature = await _signed_json(request)
    gateway = request.match_info["gateway"]
    ctx = _context(request.app)
    if not await _once(request, f"receipts:{signature}"):
        return web.json_response({"duplicate": True})
    try:
        items = parse(ReceiptsBody, payload).receipts
    except BadInput as error:
        raise _bad(error) from None
    # Each receipt on its own: one malformed item does not lose the others (the carrier has its 200).
    parsed = []
    for item in items:
        try:
            one = parse(ReceiptItem, item)
        except BadInput:
            continue
        parsed.append(Receipt(str(one.message_id), one.status, storable_text(one.error), None, _our_id(one.id)))
    try:
        changed = await _blocking(request)(_queue_and_apply, ctx, gateway, parsed)
    except RedisError:
        # Not stored: the carrier must send them again, and its retry (the same signature when it comes
        # within the second) must not be taken for a replay of receipts we have.
        with contextlib.suppress(RedisError):
            await _blocking(request)(_forget, ctx, f"receipts:{signature}")
        raise web.HTTPServiceUnavailable(text=NOT_STORED) from None
    return web.json_response({"received": len(parsed), "applied": changed, "refused": len(items) - len(parsed)})


def _queue_and_apply(ctx: SmsContext, gateway: str, receipts: list[Receipt]) -> int:
    """Receipts into Redis (safe once there: the carrier may have its 200), then applied by whoever holds
    the lock; in one thread hop for the request.  Applying them may fail (the database restarting):
    they wait in Redis for the next drain."""
    queue_receipts(ctx.redis, ctx.prefix, gateway, receipts)
    try:
        return ctx.drain_receipts()
    except OUTAGES as exc:
        log.warning("receipts stored, applying them later: %s", str(exc).splitlines()[0][:200])
        return 0


def _our_id(value: object) -> int | None:
    """Our message id as a carrier echoes it (the "id" we sent), or None; only a hint (sms.receipts)."""
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


async def inbound(request: web.Request) -> web.Response:
    payload, signature = await _signed_json(request)
    try:
        message = parse(InboundBody, payload)
    except BadInput as error:
        raise _bad(error) from None
    gateway = request.match_info["gateway"]
    # The carrier's id of the message when it sends one (its retries then count once too), else the signature.
    nonce = f"inbound:{gateway}:id:{message.id}" if message.id else f"inbound:{signature}"
    if not await _once(request, nonce):
        return web.json_response({"action": "none", "duplicate": True})
    ctx = _context(request.app)
    # What the person wrote is kept, less what no database stores (a NUL) and nobody meant.
    action = await _blocking(request)(handle_inbound, ctx.engine, ctx.declarations, gateway,
                                     message.from_, storable_text(message.text))
    return web.json_response({"action": action})


async def _twilio_form(request: web.Request, hook: str) -> tuple[str, MultiDictProxy[Any]]:
    """(gateway, form) of a Twilio webhook whose X-Twilio-Signature holds; 404 / 403 otherwise."""
    gateway = request.match_info["gateway"]
    config = _context(request.app).gateway_config.get(gateway)
    if not isinstance(config, TwilioGatewayConfig):
        raise web.HTTPNotFound(text=bilingual("không có cổng Twilio này", "unknown Twilio gateway"))
    token = config.auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    try:
        form = await twilio_form(request)
    except web.HTTPBadRequest as error:  # this sub-app's 400s are JSON naming the field
        raise _bad(BadInput("body", error.text or "")) from None
    url = config.webhook_url(gateway, hook, _settings(request).public_base_url)  # what Twilio signed, not request.url
    try:
        valid = bool(token and signature and RequestValidator(token).validate(url, form, signature))
    except TypeError:  # a file field: not something Twilio signs
        valid = False
    if not valid:
        raise web.HTTPForbidden(text=bilingual("chữ ký X-Twilio-Signature sai hoặc thiếu",
                                               "bad or missing X-Twilio-Signature"))
    return gateway, form


def _form_id(form: MultiDictProxy[Any], name: str) -> str:
    try:
        return form_id(form, name)
    except BadInput as error:
        raise _bad(error) from None


_TWILIO_FAILED = {"undelivered", "failed"}  # queued, accepted, sending, sent, scheduled...: not final, ignored


async def twilio_status(request: web.Request) -> web.Response:
    gateway, form = await _twilio_form(request, "status")
    sid, status = _form_id(form, "MessageSid"), str(form.get("MessageStatus", ""))
    if not sid:
        raise _bad(BadInput("MessageSid", "thiếu trường này / field required"))
    if status == "delivered":
        receipt = Receipt(sid, "delivered")
    elif status in _TWILIO_FAILED:
        receipt = Receipt(sid, "failed", f"twilio {storable_text(str(form.get('ErrorCode') or status))[:100]}")
    else:
        return web.Response(status=204)
    changed = await _blocking(request)(_queue_and_apply, _context(request.app), gateway, [receipt])
    return web.json_response({"received": 1, "applied": changed})


async def twilio_inbound(request: web.Request) -> web.Response:
    gateway, form = await _twilio_form(request, "inbound")
    phone = _form_id(form, "From")
    if not phone:
        raise _bad(BadInput("From", "thiếu trường này / field required"))
    ctx = _context(request.app)
    await _blocking(request)(handle_inbound, ctx.engine, ctx.declarations, gateway, phone,
                             storable_text(str(form.get("Body", ""))))
    # Nothing to say back (Twilio answers STOP itself on long codes); TwiML from the library.
    return web.Response(text=str(MessagingResponse()), content_type="text/xml")


def _authorised(request: web.Request) -> None:
    token = _settings(request).sms_api_token
    if not token:
        raise web.HTTPForbidden(text="the SMS API is off (set SMS_API_TOKEN)")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise web.HTTPUnauthorized(text="bad or missing token")


async def api_list(request: web.Request) -> web.Response:
    _authorised(request)
    ctx = _context(request.app)
    campaigns = await _blocking(request)(list_campaigns, ctx.engine)
    return web.json_response([{"id": c.id, "name": c.name, "status": c.status, "recipients": c.recipients,
                               "created_at": c.created_at.isoformat()} for c in campaigns])


async def api_show(request: web.Request) -> web.Response:
    _authorised(request)
    ctx = _context(request.app)
    try:
        current = await _blocking(request)(figures, ctx.engine, _campaign_id(request))
    except CampaignError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return web.json_response(current.to_json())


async def api_create(request: web.Request) -> web.Response:
    _authorised(request)
    try:
        body = parse(CampaignBody, await request.json())
    except BadInput as error:
        raise _bad(error) from None
    except ValueError:
        raise _bad(BadInput("body", "cần JSON / send JSON")) from None
    ctx = _context(request.app)
    try:
        if body.phones is not None:
            phones = body.phones
            make = partial(lambda ps: (Recipient(i, p) for i, p in enumerate(ps, start=1)), phones)
            available: list[str] = []
            source = f"api: {len(phones)} numbers"
        else:
            where = ContactFilter.parse(body.contacts)
            make = partial(contact_recipients, ctx.engine, where)
            available, source = list(CONTACT_FIELDS), where.describe()
        template = Template(body.text, body.strip_accents, available)
    except (RecipientsError, ValueError) as exc:
        raise _bad(BadInput("text" if isinstance(exc, RecipientsError) and "template" in str(exc) else "contacts",
                            str(exc))) from None
    at = body.send_at
    if body.dry_run:
        result = await _blocking(request)(dry_run, ctx.engine, make(), template, ctx.router)
        return web.json_response({"recipients": result.recipients, "invalid": result.invalid,
                                  "duplicates": result.duplicates, "segments": result.segments,
                                  "segments_stripped": result.segments_stripped})
    summary = await _blocking(request)(partial(create_campaign, ctx.engine, make(), template, ctx.router,
                                              name=body.name, source=source, send_at=at))
    await _blocking(request)(_enqueue, ctx, summary.campaign_id)
    current = await _blocking(request)(figures, ctx.engine, summary.campaign_id)
    return web.json_response(current.to_json(), status=201)


def _campaign_id(request: web.Request) -> int:
    campaign_id = int(request.match_info["id"])
    if campaign_id > MAX_ID:  # no row has it, and the database could not even compare it
        raise web.HTTPNotFound(text="no such campaign")
    return campaign_id


def _enqueue(ctx: SmsContext, campaign_id: int) -> None:
    enqueue_due(ctx, Queue(queue_name(SMS), connection=ctx.redis), campaign_id)


async def api_control(request: web.Request) -> web.Response:
    _authorised(request)
    ctx = _context(request.app)
    campaign_id = _campaign_id(request)
    status = {"pause": CampaignStatus.PAUSED, "resume": CampaignStatus.RUNNING,
              "cancel": CampaignStatus.CANCELLED}[request.match_info["action"]]
    try:
        await _blocking(request)(set_status, ctx.engine, campaign_id, status)
    except CampaignError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    if status == CampaignStatus.RUNNING:
        await _blocking(request)(_enqueue, ctx, campaign_id)
    current = await _blocking(request)(figures, ctx.engine, campaign_id)
    return web.json_response(current.to_json())
