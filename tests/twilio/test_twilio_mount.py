"""The dashboard app mounts the voice webhooks when Twilio is configured, outside its session guards."""

from __future__ import annotations

from aiohttp import web
from voicehelp import VoiceWorld

from robocall.telephony.twilio.webhooks import HOOKS
from robocall.web.app import create_app
from robocall.web.keys import ENGINE
from simulator.carriers import LoopThread, free_port


def test_robocall_serve_answers_twilio_signed_and_refuses_unsigned(voice: VoiceWorld) -> None:
    port = free_port()
    settings = voice.settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    loop = LoopThread()

    async def up() -> web.AppRunner:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    runner = loop.call(up())
    try:
        app = runner.app
        voice_app = next(r.get_info()["app"] for r in app.router.resources() if "app" in r.get_info()
                         and HOOKS in r.get_info()["app"])
        assert voice_app[HOOKS].calls.engine is app[ENGINE]  # the server's one engine, not one of its own
        url = f"http://127.0.0.1:{port}/twilio/voice/inbound"
        form = {"CallSid": "CA" + "d" * 32, "From": "+84911000400", "To": "+842436000000", "CallStatus": "ringing"}
        signed = voice.peer.post(url, form)
        assert signed.status == 200 and "<Gather" in signed.body  # no login, no CSRF token: Twilio's own check
        assert voice.peer.post(url, form, signature="").status == 403
    finally:
        loop.call(runner.cleanup())
        loop.stop()
