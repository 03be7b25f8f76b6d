"""Telephony backends by the name TELEPHONY_BACKEND gives them, registered by the composition roots.

The dialer's jobs ask for "the configured backend"; which classes exist is decided at the edge
(robocall.wiring), so the jobs never import a particular backend, and the simulator stays out of
the product packages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.engine import Engine

from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.telephony.base import CallHandlers, PhoneBackend

BackendFactory = Callable[[Settings, Engine, Mapping[str, Flow], CallHandlers], PhoneBackend]
_factories: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _factories[name] = factory


def build_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                  handlers: CallHandlers) -> PhoneBackend:
    name = settings.telephony_backend
    factory = _factories.get(name)
    if factory is None:
        available = ", ".join(sorted(_factories)) or "none"
        raise LookupError(f"TELEPHONY_BACKEND={name}: no such backend in this process (available: {available})")
    return factory(settings, engine, flows, handlers)
