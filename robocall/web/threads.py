"""Blocking work off the event loop, in a bounded pool of threads that the app owns.

Database calls are synchronous (SQLAlchemy sessions); run on the event loop, each one stalls every
other request of the process meanwhile: the live queue's event stream, the carrier callbacks.
Handlers hand such work to `in_thread`; the SMS sub-app is given the same helper when the server
mounts it, so the whole app runs its blocking work one way.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.web.keys import ENGINE, THREADS

T = TypeVar("T")

# No more threads than the engine's pool has connections (SQLAlchemy's default: 5, plus 10 overflow),
# so that a thread never waits for a connection while another request could use it.
DB_THREADS = 10


def thread_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="web-blocking")


async def in_thread(where: web.Request | web.Application, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the app's pool; the caller's context variables go along (as asyncio.to_thread)."""
    pool = (where.config_dict if isinstance(where, web.Request) else where)[THREADS]
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def in_session(request: web.Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(db, *args, **kwargs)` in the app's pool, `db` a database session of its own for the call."""
    return await in_thread(request, _with_session, request.config_dict[ENGINE], fn, *args, **kwargs)


def _with_session(engine: Engine, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with DbSession(engine) as db:
        return fn(db, *args, **kwargs)
