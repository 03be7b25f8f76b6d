"""The Asterisk backend's pieces built from the settings (ASTERISK_* variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend, Server
from robocall.telephony.asterisk.service import AmiEndpoint, ServiceConfig
from robocall.telephony.base import CallHandlers


def pairs(text: str, variable: str) -> dict[str, str]:
    """``a=1,b=2`` -> {"a": "1", "b": "2"}; ValueError naming the variable otherwise."""
    found = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{variable}: '{item}' should be NAME=VALUE")
        found[key.strip()] = value.strip()
    return found


def listen_address(settings: Settings) -> tuple[str, int]:
    host, sep, port = settings.asterisk_agi_listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"ASTERISK_AGI_LISTEN '{settings.asterisk_agi_listen}' should be host:port")
    return host or "0.0.0.0", int(port)


@dataclass(frozen=True)
class ServerSettings:
    endpoint: AmiEndpoint
    channel_limit: int


def servers(settings: Settings) -> list[ServerSettings]:
    """ASTERISK_SERVERS, or the single server of ASTERISK_HOST; ValueError naming what is wrong."""
    if not settings.asterisk_servers:
        return [ServerSettings(AmiEndpoint("asterisk", settings.asterisk_host, settings.asterisk_ami_port,
                                           settings.asterisk_ami_user, settings.asterisk_ami_secret),
                               settings.asterisk_channel_limit)]
    found = []
    for name, spec in settings.asterisk_servers.items():
        where = f"ASTERISK_SERVERS[{name!r}]"
        unknown = set(spec) - {"host", "ami_port", "ami_user", "secret_env", "channel_limit"}
        if unknown or "host" not in spec:
            raise ValueError(f"{where}: needs `host`; unknown keys: {', '.join(sorted(unknown)) or 'none'}")
        secret_env = str(spec.get("secret_env", "ASTERISK_AMI_SECRET"))
        secret = os.environ.get(secret_env, settings.asterisk_ami_secret if secret_env == "ASTERISK_AMI_SECRET" else "")
        if not secret:
            raise ValueError(f"{where}: the AMI secret in {secret_env} is empty")
        try:
            port, limit = int(spec.get("ami_port", 5038)), int(spec.get("channel_limit", 30))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: ami_port and channel_limit must be whole numbers") from None
        if limit < 1:
            raise ValueError(f"{where}: channel_limit must be at least 1")
        found.append(ServerSettings(AmiEndpoint(name, str(spec["host"]), port,
                                                str(spec.get("ami_user", settings.asterisk_ami_user)), secret), limit))
    return found


def service_config(settings: Settings) -> ServiceConfig:
    host, port = listen_address(settings)
    first, *more = [server.endpoint for server in servers(settings)]
    return ServiceConfig(first.host, first.port, first.user, first.secret, host, port, settings.asterisk_sounds_dir,
                         pairs(settings.asterisk_hotline_flows, "ASTERISK_HOTLINE_FLOWS"), settings.asterisk_ring_timeout,
                         name=first.name, more_servers=tuple(more))


def asterisk_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                     handlers: CallHandlers) -> AsteriskBackend:
    """The registry's factory for TELEPHONY_BACKEND=asterisk (robocall.wiring)."""
    return backend_from_settings(settings, handlers, engine)


def backend_from_settings(settings: Settings, handlers: CallHandlers, engine: Engine | None = None) -> AsteriskBackend:
    """The worker's PhoneBackend; keeps one AMI connection open on a background thread."""
    if not settings.asterisk_servers and not settings.asterisk_ami_secret:
        raise ValueError("TELEPHONY_BACKEND=asterisk needs ASTERISK_AMI_SECRET")
    templates = pairs(settings.asterisk_dial_templates, "ASTERISK_DIAL_TEMPLATES")
    pool = [Server(s.endpoint.name, AmiThread(AmiClient(s.endpoint.host, s.endpoint.port, s.endpoint.user,
                                                        s.endpoint.secret, name=f"dialer-{s.endpoint.name}")),
                   s.channel_limit) for s in servers(settings)]
    return AsteriskBackend(handlers, pool, templates, settings.asterisk_ring_timeout, settings.asterisk_amd, engine)
