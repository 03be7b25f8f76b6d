"""Typed keys for what the dashboard keeps on the aiohttp application."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.engine import Engine

from robocall.config import Settings

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", Settings)
# Seconds between the live queue's checks for new escalations (tests make it short).
SSE_POLL_SECONDS = web.AppKey("sse_poll_seconds", float)
# Rendered flow diagrams, by (flow name, version, language): drawing takes Graphviz a moment.
DIAGRAM_CACHE = web.AppKey("diagram_cache", dict)
