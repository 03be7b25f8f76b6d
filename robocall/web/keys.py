"""Typed keys for what the server keeps on its aiohttp application (routes import them from here)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from redis import Redis
from sqlalchemy.engine import Engine

from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.flows.problems import Problem
from robocall.flows.vocabulary import Vocabulary

SETTINGS = web.AppKey("settings", Settings)
# The one database engine of the process, opened and closed by the app's cleanup context.
ENGINE = web.AppKey("engine", Engine)
# The process's Redis client (REDIS_URL): login throttling per client address, shared by every server process.
REDIS = web.AppKey("redis", Redis)
# The bounded pool that runs blocking work (database, Graphviz) off the event loop: robocall.web.threads.
THREADS = web.AppKey("threads", ThreadPoolExecutor)
# The flows loaded at start-up (robocall.flows.catalog) and why the refused ones were refused.
FLOWS = web.AppKey("flows", dict[str, Flow])
FLOW_PROBLEMS = web.AppKey("flow_problems", list[Problem])
# What staff read for the loaded flows' answers, values and levels (robocall.flows.vocabulary).
VOCABULARY = web.AppKey("vocabulary", Vocabulary)
# Seconds between the live queue's checks for new escalations (tests make it short).
SSE_POLL_SECONDS = web.AppKey("sse_poll_seconds", float)
# Rendered flow diagrams, by (flow name, version, language): drawing takes Graphviz a moment.
DIAGRAM_CACHE = web.AppKey("diagram_cache", dict)
# Pause, resume or cancel an SMS campaign: `(engine, campaign id, status) -> campaign`, raising ValueError
# when refused.  sms.campaigns.set_status, the CLI's own, handed in by app.py: the routes stay clear of sms/.
SMS_SET_STATUS = web.AppKey("sms_set_status", Callable[[Engine, int, str], Any])
