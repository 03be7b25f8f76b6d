"""What a worker process builds once and reuses for every SMS job: database, gateways, pace, breakers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from redis import Redis
from sqlalchemy.engine import Engine

from robocall.config import (
    GatewayConfig,
    HttpGatewayConfig,
    Settings,
    SimGatewayConfig,
    SmppGatewayConfig,
    TwilioGatewayConfig,
    get_settings,
)
from robocall.conversations.sms_declaration import DeclarationRules
from robocall.db import make_engine
from robocall.queues import redis_connection
from robocall.sms_routing import Router
from sms.gateways.base import Gateway
from sms.gateways.http import HttpGateway
from sms.gateways.sim import SimGateway
from sms.gateways.smpp import SmppGateway
from sms.gateways.twilio import TwilioGateway
from sms.inbound import handle_inbound
from sms.policy import SmsPolicy, policy_from_settings
from sms.receipts import drain_receipts, queue_receipts
from sms.throttle import Breaker, Pace


@dataclass
class SmsContext:
    engine: Engine
    redis: Redis
    policy: SmsPolicy
    router: Router
    gateway_config: dict[str, GatewayConfig]
    prefix: str
    public_base_url: str
    declarations: DeclarationRules
    _gateways: dict[str, Gateway] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def gateway(self, name: str) -> Gateway:
        with self._lock:
            if name not in self._gateways:
                self._gateways[name] = build_gateway(name, self.gateway_config[name], self)
            return self._gateways[name]

    def pace(self, name: str) -> Pace:
        return Pace(self.redis, name, self.gateway_config[name].rate)

    def breaker(self, name: str) -> Breaker:
        return Breaker(self.redis, name, self.policy.circuit_failures, self.policy.circuit_seconds)

    def drain_receipts(self) -> int:
        return drain_receipts(self.engine, self.redis, self.prefix)

    def close(self) -> None:
        for gateway in self._gateways.values():
            gateway.close()
        self._gateways.clear()


def build_gateway(name: str, config: GatewayConfig, ctx: SmsContext) -> Gateway:
    def on_receipts(gateway: str, receipts: list[Any]) -> None:
        queue_receipts(ctx.redis, ctx.prefix, gateway, receipts)

    def on_idle() -> None:
        drain_receipts(ctx.engine, ctx.redis, ctx.prefix)

    def on_inbound(gateway: str, phone: str, text: str) -> None:
        handle_inbound(ctx.engine, ctx.declarations, gateway, phone, text)

    match config:
        case SimGatewayConfig():
            return SimGateway(name, on_receipts)
        case SmppGatewayConfig():
            return SmppGateway(name, config.host, config.port, config.system_id, config.password,
                               window=config.window, submit_timeout=config.submit_timeout,
                               enquire_seconds=config.enquire_link,
                               on_receipts=on_receipts, on_inbound=on_inbound, on_idle=on_idle)
        case HttpGatewayConfig():
            return HttpGateway(name, config.url, format=config.format, auth_header=config.auth_header,
                               auth_value=config.auth_value, batch=config.batch, timeout=config.timeout)
        case TwilioGatewayConfig():
            return TwilioGateway(name, config.account_sid, config.auth_token, from_=config.from_,
                                 messaging_service_sid=config.messaging_service_sid,
                                 status_callback=config.webhook_url(name, "status", ctx.public_base_url),
                                 api_base=config.api_base, concurrency=config.concurrency, timeout=config.timeout)


def context_from_settings(settings: Settings, engine: Engine | None = None) -> SmsContext:
    """The one way a process builds its SMS context (worker, web server, `robocall sms`)."""
    return SmsContext(
        engine=engine or make_engine(settings.database_url),
        redis=redis_connection(),
        policy=policy_from_settings(settings),
        router=Router.from_settings(settings),
        gateway_config=settings.sms_gateways,
        prefix=settings.queue_prefix,
        public_base_url=settings.public_base_url,
        declarations=DeclarationRules.from_settings(settings),
    )


@lru_cache(maxsize=1)
def worker_context() -> SmsContext:
    return context_from_settings(get_settings())
