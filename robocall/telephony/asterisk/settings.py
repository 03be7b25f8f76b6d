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


@dataclass(frozen=True)
class ServerSettings:
    endpoint: AmiEndpoint
    channel_limit: int


def servers(settings: Settings) -> list[ServerSettings]:
    """ASTERISK_SERVERS, or the single server of ASTERISK_HOST; ValueError naming a missing secret."""
    if not settings.asterisk_servers:
        return [ServerSettings(AmiEndpoint("asterisk", settings.asterisk_host, settings.asterisk_ami_port,
                                           settings.asterisk_ami_user, settings.asterisk_ami_secret),
                               settings.asterisk_channel_limit)]
    return [server_settings(settings, name) for name in settings.asterisk_servers]


def server_settings(settings: Settings, name: str) -> ServerSettings:
    """The server `name` of ASTERISK_SERVERS; ValueError naming its variable when its secret is empty."""
    spec = settings.asterisk_servers[name]
    # Secrets stay in the environment, each server's in a variable of its own, read when needed.
    default = settings.asterisk_ami_secret if spec.secret_env == "ASTERISK_AMI_SECRET" else ""
    secret = os.environ.get(spec.secret_env, default)
    if not secret:
        raise ValueError(f"ASTERISK_SERVERS[{name!r}]: the AMI secret in {spec.secret_env} is empty")
    return ServerSettings(AmiEndpoint(name, spec.host, spec.ami_port, spec.ami_user or settings.asterisk_ami_user,
                                      secret), spec.channel_limit)


def service_config(settings: Settings) -> ServiceConfig:
    host, port = settings.asterisk_agi_listen
    found = servers(settings)
    first, *more = [server.endpoint for server in found]
    return ServiceConfig(first.host, first.port, first.user, first.secret, host, port, settings.asterisk_sounds_dir,
                         settings.asterisk_hotline_flows, settings.asterisk_ring_timeout,
                         name=first.name, more_servers=tuple(more),
                         max_calls=sum(server.channel_limit for server in found))  # every server's calls at once


def asterisk_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                     handlers: CallHandlers) -> AsteriskBackend:
    """The registry's factory for TELEPHONY_BACKEND=asterisk (robocall.wiring)."""
    return backend_from_settings(settings, handlers, engine)


def backend_from_settings(settings: Settings, handlers: CallHandlers, engine: Engine | None = None) -> AsteriskBackend:
    """The worker's PhoneBackend; keeps one AMI connection open on a background thread."""
    if not settings.asterisk_servers and not settings.asterisk_ami_secret:
        raise ValueError("TELEPHONY_BACKEND=asterisk needs ASTERISK_AMI_SECRET")
    templates = settings.asterisk_dial_templates
    pool = [Server(s.endpoint.name, AmiThread(AmiClient(s.endpoint.host, s.endpoint.port, s.endpoint.user,
                                                        s.endpoint.secret, name=f"dialer-{s.endpoint.name}")),
                   s.channel_limit) for s in servers(settings)]
    return AsteriskBackend(handlers, pool, templates, settings.asterisk_ring_timeout, settings.asterisk_amd, engine)
