"""A real Asterisk with the simulated residents on it, and the robocall side that calls them.

`AsteriskWorld` starts the Asterisk unpacked in var/asterisk (`make setup`) with the project's own
configuration templates on free loopback ports, plus the residents' dialplan made from their scripts
(`asterisk_residents.py`); runs the serve process's `AsteriskService` (FastAGI server and AMI
listener) on a loop thread; and gives the dialer an `AsteriskBackend` whose dial template sends
every number to its resident (``Local/{national}@residents``).  `close()` stops all of it, Asterisk
by its pid.  Used by `robocall demo --backend asterisk`, the campaign test and the benchmark.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.flows.loader import Flow
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend
from robocall.telephony.asterisk.conf import AsteriskLayout
from robocall.telephony.asterisk.instance import AsteriskProcess, find_prefix, free_port
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.telephony.base import CallHandlers
from simulator.asterisk_residents import CONTEXT, TonePrompts, make_sounds, residents_dialplan
from simulator.scripts import CallScript


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now: a day of calls on the wall clock never crosses
    midnight."""
    hours = (12 - dt.datetime.now(dt.UTC).hour + 12) % 24 - 12  # UTC offset, -12..+11
    return "Etc/GMT" + (f"{-hours:+d}" if hours else "")  # POSIX sign: Etc/GMT-7 is UTC+7

class NoAsterisk(RuntimeError):
    """var/asterisk has no unpacked Asterisk."""


def asterisk_prefix(root: Path) -> Path:
    prefix = find_prefix(root)
    if prefix is None:
        raise NoAsterisk(f"no Asterisk unpacked in {root / 'var' / 'asterisk'}: run `make setup` "
                         "(it unpacks the prebuilt Asterisk from ../shared/asterisk)")
    return prefix


class AsteriskWorld:
    def __init__(self, root: Path, engine: Engine, flows: Mapping[str, Flow], handlers: CallHandlers,
                 scripts: Mapping[str, Sequence[CallScript]], ring_timeout: int = 5, amd: bool = True,
                 time_scale: float = 0.1, serve: bool = True, agi_url: str = "",
                 prompts: RenderedPrompts | None = None) -> None:
        """`serve`: run the serve side here (False: the caller runs it, e.g. in another process, from
        `config` and `prompts`); `agi_url`: where the dialplan's AGI() goes (default: that FastAGI server);
        `prompts`: what the robot plays (default: a short tone for every prompt)."""
        self.prefix = asterisk_prefix(root)
        self.base = Path(tempfile.mkdtemp(prefix="ast", dir="/tmp"))  # short: the control socket's path
        self.sounds = sounds = make_sounds(self.base / "sounds")
        self.prompts = prompts or TonePrompts(sounds, flows)
        secret = secrets.token_hex(12)
        agi_port = free_port()
        rtp = random.randrange(20000, 29000, 2)
        self.layout = AsteriskLayout(
            prefix=self.prefix, etc=self.base / "etc", run=self.base / "run", ami_port=free_port(),
            ami_secret=secret, sip_port=free_port(2), rtp_start=rtp, rtp_end=rtp + 200,
            agi_url=agi_url or f"agi://127.0.0.1:{agi_port}",
            extra={"extensions_residents.conf": residents_dialplan(scripts, sounds, ring_timeout, time_scale)})
        self.asterisk = AsteriskProcess(self.layout)
        self.config = ServiceConfig("127.0.0.1", self.layout.ami_port, self.layout.ami_user, secret,
                                    "127.0.0.1", agi_port, "", {"default": "hotline"}, ring_timeout)
        self.handlers = handlers
        self.engine = engine
        self.ring_timeout = ring_timeout
        self.amd = amd
        self.serve = serve
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="asterisk-serve", daemon=True)
        self.service: AsteriskService | None = None
        self.backend: AsteriskBackend | None = None

    def start(self) -> AsteriskBackend:
        """Asterisk booted, the serve side listening and logged in; the dialer's backend."""
        self.asterisk.start()
        if self.serve:
            self._serve()
        ami = AmiThread(AmiClient("127.0.0.1", self.layout.ami_port, self.layout.ami_user, self.layout.ami_secret,
                                  name="dialer"))
        self.backend = AsteriskBackend(self.handlers, ami, {"default": f"Local/{{national}}@{CONTEXT}"},
                                       ring_timeout=self.ring_timeout, amd=self.amd, engine=self.engine)
        return self.backend

    def _serve(self) -> None:
        self.thread.start()

        async def up() -> AsteriskService:
            service = AsteriskService(self.config, self.handlers, self.prompts)  # its tasks live on this loop
            self.service = service
            await service.start()
            await service.ami.wait_ready(30)
            return service

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(60)

    @property
    def agi_calls(self) -> int:
        return self.service.app.calls if self.service else 0

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        if self.service is not None and self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.service.close(), self.loop).result(30)
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.asterisk.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> AsteriskBackend:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
