"""The Asterisk backend's pieces built from the settings (ASTERISK_* variables)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import Engine

from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend
from robocall.telephony.asterisk.service import ServiceConfig
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


def service_config(settings: Settings) -> ServiceConfig:
    host, port = listen_address(settings)
    return ServiceConfig(settings.asterisk_host, settings.asterisk_ami_port, settings.asterisk_ami_user,
                         settings.asterisk_ami_secret, host, port, settings.asterisk_sounds_dir,
                         pairs(settings.asterisk_hotline_flows, "ASTERISK_HOTLINE_FLOWS"), settings.asterisk_ring_timeout)


def asterisk_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                     handlers: CallHandlers) -> AsteriskBackend:
    """The registry's factory for TELEPHONY_BACKEND=asterisk (robocall.wiring)."""
    return backend_from_settings(settings, handlers, engine)


def backend_from_settings(settings: Settings, handlers: CallHandlers, engine: Engine | None = None) -> AsteriskBackend:
    """The worker's PhoneBackend; keeps one AMI connection open on a background thread."""
    if not settings.asterisk_ami_secret:
        raise ValueError("TELEPHONY_BACKEND=asterisk needs ASTERISK_AMI_SECRET")
    templates = pairs(settings.asterisk_dial_templates, "ASTERISK_DIAL_TEMPLATES")
    client = AmiClient(settings.asterisk_host, settings.asterisk_ami_port, settings.asterisk_ami_user,
                       settings.asterisk_ami_secret, name="dialer")
    return AsteriskBackend(handlers, AmiThread(client), templates, settings.asterisk_ring_timeout,
                           settings.asterisk_amd, engine)
