"""What a worker process builds once and reuses for every SMS job: database, gateways, pace, breakers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from redis import Redis
from sqlalchemy.engine import Engine

from robocall.config import Settings, get_settings
from robocall.db import make_engine
from robocall.queues import redis_connection
from robocall.sms_routing import Router, parse_routes
from sms.gateways.base import Gateway
from sms.gateways.http import HttpGateway
from sms.gateways.sim import SimGateway
from sms.gateways.smpp import SmppGateway
from sms.gateways.twilio import TWILIO_API, TwilioGateway, webhook_url
from sms.inbound import handle_inbound
from sms.policy import SmsPolicy, policy_from_settings
from sms.receipts import drain_receipts, queue_receipts
from sms.throttle import Breaker, Pace

DEFAULT_RATE = 100.0


@dataclass
class SmsContext:
    engine: Engine
    redis: Redis
    policy: SmsPolicy
    router: Router
    gateway_config: dict[str, dict[str, Any]]
    prefix: str
    _gateways: dict[str, Gateway] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def gateway(self, name: str) -> Gateway:
        with self._lock:
            if name not in self._gateways:
                self._gateways[name] = build_gateway(name, self.gateway_config[name], self)
            return self._gateways[name]

    def pace(self, name: str) -> Pace:
        return Pace(self.redis, name, float(self.gateway_config[name].get("rate", DEFAULT_RATE)))

    def breaker(self, name: str) -> Breaker:
        return Breaker(self.redis, name, self.policy.circuit_failures, self.policy.circuit_seconds)

    def drain_receipts(self) -> int:
        return drain_receipts(self.engine, self.redis, self.prefix)

    def close(self) -> None:
        for gateway in self._gateways.values():
            gateway.close()
        self._gateways.clear()


def build_gateway(name: str, config: dict[str, Any], ctx: SmsContext) -> Gateway:
    def on_receipts(gateway: str, receipts: list[Any]) -> None:
        queue_receipts(ctx.redis, ctx.prefix, gateway, receipts)

    def on_idle() -> None:
        drain_receipts(ctx.engine, ctx.redis, ctx.prefix)

    def on_inbound(gateway: str, phone: str, text: str) -> None:
        handle_inbound(ctx.engine, gateway, phone, text)

    kind = config.get("kind")
    if kind == "sim":
        return SimGateway(name, on_receipts)
    if kind == "smpp":
        return SmppGateway(name, config["host"], int(config["port"]), config.get("system_id", ""),
                           config.get("password", ""), window=int(config.get("window", 50)),
                           submit_timeout=float(config.get("submit_timeout", 30)),
                           enquire_seconds=float(config.get("enquire_link", 30)),
                           on_receipts=on_receipts, on_inbound=on_inbound, on_idle=on_idle)
    if kind == "http":
        return HttpGateway(name, config["url"], format=config.get("format", "json"),
                           auth_header=config.get("auth_header", "Authorization"),
                           auth_value=config.get("auth_value", ""), batch=int(config.get("batch", 100)),
                           timeout=float(config.get("timeout", 10)))
    if kind == "twilio":
        return TwilioGateway(name, config.get("account_sid", ""), config.get("auth_token", ""),
                             from_=config.get("from", ""),
                             messaging_service_sid=config.get("messaging_service_sid", ""),
                             status_callback=webhook_url(name, config, "status", get_settings().public_base_url),
                             api_base=config.get("api_base", TWILIO_API),
                             concurrency=int(config.get("concurrency", 50)),
                             timeout=float(config.get("timeout", 10)))
    raise ValueError(f"SMS gateway {name}: unknown kind {kind!r} (sim, smpp, http, twilio)")


def context_from_settings(settings: Settings, engine: Engine | None = None) -> SmsContext:
    return SmsContext(
        engine=engine or make_engine(settings.database_url),
        redis=redis_connection(),
        policy=policy_from_settings(settings),
        router=Router(parse_routes(settings.sms_routes), settings.sms_gateways),
        gateway_config=settings.sms_gateways,
        prefix=settings.queue_prefix,
    )


@lru_cache(maxsize=1)
def worker_context() -> SmsContext:
    return context_from_settings(get_settings())
