"""The voice webhooks Twilio calls while a call is on the line: an aiohttp sub-app under /twilio/voice.

    POST /twilio/voice/{attempt}/answer          the voice URL of an outbound call: the flow starts
    POST /twilio/voice/{attempt}/gather/{turn}   a Gather's keys (Digits)
    POST /twilio/voice/{attempt}/silence/{turn}  the Redirect after a Gather: nothing was pressed
    POST /twilio/voice/{attempt}/status          status callbacks (initiated, ringing, answered, completed...)
    POST /twilio/voice/{attempt}/amd             asynchronous answering-machine detection (AnsweredBy)
    POST /twilio/voice/inbound                   the hotline number's voice URL (TWILIO_HOTLINE_FLOW)
    POST /twilio/voice/inbound/status            the hotline number's status callback

Every request's `X-Twilio-Signature` is checked as Twilio signs it (signature.py: the library's
`RequestValidator` algorithm, its key prepared once) against the public URL (PUBLIC_BASE_URL + path
and query: behind a reverse proxy the URL this server sees is not the one Twilio signed); a missing or wrong signature gets 403 before anything is read or changed.
A replayed request, signed correctly, is harmless: the session in the database is the truth
(robocall/conversations/resumable.py), and a request for a turn already answered gets the current
TwiML again.  Database work and audio rendering run in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.engine import Engine
from twilio.twiml.voice_response import VoiceResponse

from robocall.audio.cache import url_path
from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.config import Settings
from robocall.conversations.group_commit import GroupCommit
from robocall.conversations.resumable import AfterSave, Pickup, ResumableCalls, Step, Turn
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.flows.engine import VOICEMAIL_NODE, Digits, Event, Say, Timeout
from robocall.flows.loader import Flow
from robocall.inputs import MAX_ID, BadInput
from robocall.models import CallState, utcnow
from robocall.telephony.twilio import api, backend, twiml
from robocall.telephony.twilio.signature import SignatureCheck, form_id, twilio_form
from robocall.text import bilingual, storable_text

log = logging.getLogger(__name__)

MACHINE_ANSWERS = {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
EARLY_ANSWERS = {"machine_start", "fax"}  # no voicemail: the greeting still plays (Enable), or a fax
PLAYED_CACHE_SIZE = 20_000
NO_AUDIO_RECHECK_SECONDS = 300.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class VoiceWebhooks:
    def __init__(self, settings: Settings, calls: ResumableCalls, flows: Mapping[str, Flow],
                 renderer: Renderer | None = None) -> None:
        self.settings = settings
        self.calls = calls
        # Pick-ups and Gathers' answers committed together (robocall/conversations/group_commit.py): each reply
        # leaves once its step is on disk, without one fsync per webhook.
        self.steps: GroupCommit[Step | Pickup, Turn] = GroupCommit(calls.events)
        self.flows = flows
        self.signature = SignatureCheck(settings.twilio_auth_token, settings.public_base_url)
        self.urls = api.Urls(settings.public_base_url)
        self.renderer = renderer if renderer is not None else Renderer(settings)
        self._nodes: dict[str, list[tuple[str, str, re.Pattern[str], str]]] = {}
        self._node_found: dict[tuple[str | None, ...], str] = {}
        # What each prompt plays, so a call's every turn does not look for files (or log that none
        # exists) again; a prompt without audio is looked up again after a while (a build may add it).
        self._played: dict[tuple[str | None, ...], tuple[str | None, float]] = {}

    # --- the routes ---

    async def answer(self, request: web.Request) -> web.Response:
        attempt_id = _attempt(request)
        turn = await self.steps.submit(Pickup(attempt_id, utcnow()))
        return await self._twiml(attempt_id, turn)

    async def gather(self, request: web.Request) -> web.Response:
        form = request[_FORM]
        digits = str(form.get("Digits", ""))
        event: Event = Digits(digits) if digits else Timeout()
        return await self._step(request, event)

    async def silence(self, request: web.Request) -> web.Response:
        return await self._step(request, Timeout())

    async def status(self, request: web.Request) -> web.Response:
        form = request[_FORM]
        await asyncio.to_thread(self._status, _attempt(request), form)
        return web.Response(status=204)

    async def amd(self, request: web.Request) -> web.Response:
        attempt_id = _attempt(request)
        form = request[_FORM]
        answered_by = str(form.get("AnsweredBy", ""))
        if answered_by in MACHINE_ANSWERS:
            first = await asyncio.to_thread(self.calls.machine, attempt_id, utcnow())
            sid = form_id(form, "CallSid")
            if first and sid:
                # After the greeting (DetectMessageEnd): the flow's voicemail, if it has one; else hang up.
                left = None if answered_by in EARLY_ANSWERS else await asyncio.to_thread(self.calls.voicemail_of,
                                                                                         attempt_id)
                try:
                    if left is not None:
                        await backend.leave_voicemail(self.settings, sid, await self._voicemail_twiml(*left))
                        await asyncio.to_thread(self.calls.voicemail_left, attempt_id)
                    else:
                        await backend.end_call(self.settings, sid)
                except Exception as exc:  # noqa: BLE001 - the status callback still closes the call
                    log.warning("call %s: a machine answered; hanging up failed: %s", attempt_id, exc)
        return web.Response(status=204)

    async def inbound(self, request: web.Request) -> web.Response:
        form = request[_FORM]
        phone, sid = form_id(form, "From"), form_id(form, "CallSid")
        if not phone or not sid:
            raise web.HTTPBadRequest(text=bilingual("cần trường From và CallSid", "From and CallSid are required"))
        attempt_id = await asyncio.to_thread(self.calls.inbound, phone, utcnow(), self.settings.twilio_hotline_flow, sid,
                                             form_id(form, "To"))
        if attempt_id is None:
            response = VoiceResponse()
            response.reject(reason="busy")
            return _xml(str(response))
        turn = await self.steps.submit(Pickup(attempt_id, utcnow()))
        return await self._twiml(attempt_id, turn)

    async def inbound_status(self, request: web.Request) -> web.Response:
        form = request[_FORM]
        sid, status = form_id(form, "CallSid"), str(form.get("CallStatus", ""))
        attempt_id = await asyncio.to_thread(self.calls.attempt_of, sid)
        if attempt_id is None and status in api.FINAL_STATUS and form_id(form, "From"):
            # Ended before our voice URL answered (the caller gave up while it rang): a missed call.
            attempt_id = await asyncio.to_thread(self.calls.inbound, form_id(form, "From"), utcnow(),
                                                 self.settings.twilio_hotline_flow, sid, form_id(form, "To"))
        if attempt_id is not None:
            await asyncio.to_thread(self._status, attempt_id, form)
        return web.Response(status=204)

    # --- inside ---

    async def _voicemail_twiml(self, flow_name: str, say: Say) -> str:
        flow = self.flows[flow_name]
        url = (await asyncio.to_thread(self._audio, flow, [say], VOICEMAIL_NODE))[0]
        response = VoiceResponse()
        if url:
            response.play(url)
        else:
            response.say(say.text, language=twiml.VOICES.get(say.language, say.language))
        response.hangup()
        return str(response)

    async def _step(self, request: web.Request, event: Event) -> web.Response:
        attempt_id = _attempt(request)
        turn_number = _number(request.match_info["turn"])
        if turn_number is None:
            raise web.HTTPNotFound(text=bilingual("không có lượt này", "no such turn"))
        turn = await self.steps.submit(Step(attempt_id, turn_number, event, utcnow()))
        return await self._twiml(attempt_id, turn)

    def _status(self, attempt_id: int, form: MultiDictProxy[Any]) -> None:
        status = str(form.get("CallStatus", ""))
        now = utcnow()
        if status == "ringing":
            self.calls.ringing(attempt_id, now)
        elif status in api.FINAL_STATUS:
            state = api.FINAL_STATUS[status]
            reason = ""  # busy, no answer: the line state says it all
            if state == CallState.FAILED:
                sip = storable_text(str(form.get("SipResponseCode", "")))[:20]
                reason = f"twilio {status}" + (f" (SIP {sip})" if sip else "")
            duration = _float(form.get("CallDuration"))
            self.calls.close(attempt_id, state, now, reason, duration)
        # initiated / in-progress: placing the call and the voice URL already moved the line on

    async def _twiml(self, attempt_id: int, turn: Turn) -> web.Response:
        flow = self.flows.get(turn.flow)
        urls: dict[int, str] = {}

        def audio_url(say: Say, node: str | None) -> str | None:
            return urls.get(id(say))

        if flow is not None:
            says = [a for a in turn.actions if isinstance(a, Say)]
            # What each prompt plays is known after its first call: then no thread (and no hop back).
            known = self._known_audio(flow, says, turn.node)
            for say, found in zip(says, known if known is not None
                                  else await asyncio.to_thread(self._audio, flow, says, turn.node)):
                if found:
                    urls[id(say)] = found
        body = twiml.render(turn, self.urls.gather(attempt_id, turn.turn, turn.flow, turn.node),
                            self.urls.silence(attempt_id, turn.turn, turn.flow, turn.node), audio_url)
        return _xml(body)

    def _known_audio(self, flow: Flow, says: list[Say], waiting_at: str | None) -> list[str | None] | None:
        """What `_audio` would find, when every prompt's answer is remembered and still fresh; else None."""
        found: list[str | None] = []
        now = time.monotonic()
        for say in says:
            key = (flow.name, flow.version, self._node_of(flow, say, waiting_at), say.kind, say.language, say.text,
                   say.audio)
            known = self._played.get(key)
            if known is None or (known[0] is None and now - known[1] >= NO_AUDIO_RECHECK_SECONDS):
                return None
            found.append(known[0])
        return found

    def _audio(self, flow: Flow, says: list[Say], waiting_at: str | None) -> list[str | None]:
        found: list[str | None] = []
        now = time.monotonic()
        for say in says:
            node = self._node_of(flow, say, waiting_at)
            key = (flow.name, flow.version, node, say.kind, say.language, say.text, say.audio)
            known = self._played.get(key)
            if known is not None and (known[0] is not None or now - known[1] < NO_AUDIO_RECHECK_SECONDS):
                found.append(known[0])
                continue
            path = self.renderer.playable(flow, node, say, "twilio")
            url = self.settings.public_base_url + url_path(path) if path else None
            if len(self._played) >= PLAYED_CACHE_SIZE:
                self._played.clear()
            self._played[key] = (url, now)
            found.append(url)
        return found

    def _node_of(self, flow: Flow, say: Say, waiting_at: str | None) -> str:
        """The node a Say comes from (the engine's actions do not name it): its text matched against
        the flow's prompts; a text no prompt makes is rendered on its own."""
        asked = (flow.name, flow.version, say.kind, say.language, say.text, waiting_at)
        known = self._node_found.get(asked)
        if known is not None:  # every turn of every call asks again: the prompts' patterns run once
            return known
        key = f"{flow.name}@{flow.version}"
        if key not in self._nodes:
            self._nodes[key] = [(p.kind, p.language, _pattern(p.text), p.node) for p in prompts_of(flow)]
        matches = [node for kind, language, pattern, node in self._nodes[key]
                   if kind == say.kind and language == say.language and pattern.fullmatch(say.text)]
        if not matches:
            found = f"{waiting_at or 'say'}:text"  # no such node: the text is rendered as it is
        else:
            found = waiting_at if waiting_at in matches else matches[0]
        if len(self._node_found) >= PLAYED_CACHE_SIZE:
            self._node_found.clear()
        self._node_found[asked] = found
        return found

    # --- the guard ---

    @web.middleware
    async def signed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """403 unless `X-Twilio-Signature` is Twilio's signature of the public URL and the form."""
        form = await twilio_form(request)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not self.signature.valid(str(request.rel_url), form.items(), signature):
            log.warning("twilio voice webhook %s: bad or missing X-Twilio-Signature, refused", request.path)
            return web.Response(status=403, text=bilingual("chữ ký X-Twilio-Signature sai hoặc thiếu",
                                                           "invalid X-Twilio-Signature"))
        request[_FORM] = form
        try:
            return await handler(request)
        except BadInput as exc:  # a field Twilio never sends so (a NUL, a book): named, Vietnamese first
            return web.Response(status=400, text=str(exc))
        except LookupError as exc:
            log.warning("twilio voice webhook %s: %s", request.path, exc)
            return web.Response(status=404, text=bilingual("không có cuộc gọi hoặc kịch bản này",
                                                           f"no such call or flow ({exc})"))


HOOKS = web.AppKey("twilio_voice_hooks", VoiceWebhooks)
_FORM = web.RequestKey("twilio_form", MultiDictProxy)


def _attempt(request: web.Request) -> int:
    attempt_id = _number(request.match_info["attempt"])
    if attempt_id is None:
        raise web.HTTPNotFound(text=bilingual("không có cuộc gọi này", "no such call"))
    return attempt_id


def _number(text: str) -> int | None:
    """A call id or turn from the path: 0..MAX_ID (a larger or negative one names no row, and overflowed
    the database's INTEGER: a 500), else None."""
    value = int(text) if text.isascii() and text.isdigit() else -1
    return value if 0 <= value <= MAX_ID else None


def _xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


def _float(value: object) -> float | None:
    """A duration Twilio sends (seconds); None for none, or for what no call lasts ("nan", "1e400", "-5"),
    which would spoil every sum of durations the reports make."""
    try:
        number = float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{\{.*?\}\}", template.strip(), flags=re.S)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.S)


def voice_webhooks(settings: Settings, after_outbound: AfterSave | None = None,
                   calls: ResumableCalls | None = None, renderer: Renderer | None = None,
                   engine: Callable[[], Engine] | None = None) -> web.Application:
    """The sub-app robocall/web/app.py mounts at api.PREFIX.  `after_outbound` runs in the transaction
    that writes an outbound call (the dialer moves the follow-up on).  `engine` gives the host's one
    database engine of the process at start-up (robocall/web/app.py); without it and without `calls`
    the sub-app opens an engine of its own for its life (tests, the benchmark)."""
    flows = flow_catalog(settings).flows
    app = web.Application()
    if calls is not None:
        _mount(app, VoiceWebhooks(settings, calls, flows, renderer))
        return app

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        own: Engine | None = None
        if engine is None:
            own = db = make_engine(settings.database_url)
        else:
            db = engine()
        made = ResumableCalls(db, flows, settings.tzinfo, after_outbound)
        app[HOOKS] = VoiceWebhooks(settings, made, flows, renderer)
        try:
            yield
        finally:
            if own is not None:
                own.dispose()

    app.cleanup_ctx.append(lifespan)
    _mount(app, None)
    return app


def _mount(app: web.Application, hooks: VoiceWebhooks | None) -> None:
    """The routes; each finds the webhooks' object in the app (made at start-up when not given now)."""
    if hooks is not None:
        app[HOOKS] = hooks

    def route(name: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await getattr(request.app[HOOKS], name)(request)  # type: ignore[no-any-return]
        return handle

    async def signed(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await request.app[HOOKS].signed(request, handler)

    app.middlewares.append(web.middleware(signed))
    app.router.add_post("/inbound", route("inbound"))
    app.router.add_post("/inbound/status", route("inbound_status"))
    app.router.add_post("/{attempt}/answer", route("answer"))
    app.router.add_post("/{attempt}/gather/{turn}", route("gather"))
    app.router.add_post("/{attempt}/silence/{turn}", route("silence"))
    app.router.add_post("/{attempt}/status", route("status"))
    app.router.add_post("/{attempt}/amd", route("amd"))
