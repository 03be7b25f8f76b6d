"""Group commit on an event loop: requests that arrive while a batch is being committed go together
in the next batch, and each request is answered only after the batch that holds it has committed.

A webhook's answer must survive a crash of the server once the caller has it, so its write is
committed (fsync'd) before the answer leaves.  One transaction per request makes the commit the
bottleneck (SQLite: one fsync at a time under its one-writer lock).  Here one batch is in flight at
a time per process: at low load a request goes alone at once (no added wait), under load the
requests that queued during a commit share the next one, so the commits per second stay bounded
while the requests per second grow.  Durability is unchanged: nothing is answered before it is
on disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
RunBlocking = Callable[..., Awaitable[object]]


class GroupCommit(Generic[T, R]):
    """`await submit(item)`: `run_batch(items)` in a thread, for this item and those that queued with it.

    `run_batch` returns one result per item, in order: its value, or the exception to raise for that
    item alone; an exception raised by `run_batch` itself is raised for every item of the batch."""

    def __init__(self, run_batch: Callable[[Sequence[T]], Sequence[R | Exception]],
                 run_blocking: RunBlocking | None = None, max_batch: int = 256) -> None:
        self.run_batch = run_batch
        self.run_blocking: RunBlocking = run_blocking or asyncio.to_thread
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._committing: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches committed, and the items in them (the benchmark reports them)
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit_pending())
        return await future

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                try:
                    results = await self.run_blocking(self.run_batch, [item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every request of the batch gets the error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                self.items += len(batch)
                assert isinstance(results, Sequence) and len(results) == len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the request was cancelled (the client went away): written all the same
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._committing = None
