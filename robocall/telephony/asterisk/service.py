"""`robocall asterisk serve`: the AMI listener and the FastAGI server in one asyncio process.

Asterisk connects to the FastAGI server for every answered call (outbound and hotline) and the
AMI listener hears the outcome of calls that were never answered.  Workers place calls with
their own AMI connections (backend.AsteriskBackend); this process records everything that
happens on the line, through the handler source it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from robocall.telephony.asterisk.agi_app import AgiApplication
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import OutcomeListener
from robocall.telephony.asterisk.fastagi import FastAgiServer
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import Candidates, Reconciler
from robocall.telephony.base import CallHandlers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AmiEndpoint:
    name: str
    host: str
    port: int
    user: str
    secret: str


@dataclass(frozen=True)
class ServiceConfig:
    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    agi_host: str
    agi_port: int
    sounds_dir: str  # where Asterisk sees AUDIO_DIR/cache/asterisk ("" : the same path)
    hotline_flows: Mapping[str, str]
    ring_timeout: int = 30
    reconcile_every: float = 60.0
    name: str = "asterisk"  # of the first server (ami_host...)
    more_servers: tuple[AmiEndpoint, ...] = ()  # every other Asterisk server of the deployment
    max_calls: int = 0  # AGI sessions at once beyond which a hotline call is refused busy (0: no limit)

    @property
    def servers(self) -> tuple[AmiEndpoint, ...]:
        first = AmiEndpoint(self.name, self.ami_host, self.ami_port, self.ami_user, self.ami_secret)
        return (first, *self.more_servers)


class AsteriskService:
    def __init__(self, config: ServiceConfig, handlers: CallHandlers, prompts: RenderedPrompts,
                 candidates: Candidates | None = None) -> None:
        """`candidates` lists the open attempts to reconcile with Asterisk's channels (None: no reconciling)."""
        default = config.hotline_flows.get("default", "hotline")
        self.app = AgiApplication(handlers, prompts,
                                  {k: v for k, v in config.hotline_flows.items() if k != "default"}, default,
                                  max_calls=config.max_calls)
        self.agi = FastAgiServer(self.app, config.agi_host, config.agi_port)
        self.outcomes = OutcomeListener(handlers)
        self.amis = {server.name: AmiClient(server.host, server.port, server.user, server.secret,
                                            name=f"serve-{server.name}") for server in config.servers}
        for client in self.amis.values():
            client.subscribe(self.outcomes, OutcomeListener.wants)
        self.ami = self.amis[config.name]
        self.config = config
        self.reconciler = None if candidates is None else Reconciler(
            self.amis, handlers, candidates, lambda: self.app.active, dt.timedelta(seconds=config.ring_timeout + 60))
        self._reconciling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.agi.start()
        for client in self.amis.values():
            await client.start(wait=None)  # each reconnects in the background for as long as it runs
        if self.reconciler is not None:
            self._reconciling = asyncio.create_task(self.reconciler.run(self.config.reconcile_every))

    async def close(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciling
        for client in self.amis.values():
            await client.close()
        await self.agi.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()
