"""Garbage-collector settings for the long-running, allocation-heavy processes (RQ workers, the web
server, the SMS driver).

A batch of SMS creates hundreds of thousands of short-lived objects (rows, results, receipts).  With
CPython's defaults the cyclic collector runs every 700 allocations and, now and then, walks every
object the process holds, most of them the modules and caches loaded at start-up (a large share of
these processes' CPU on the SMS benchmark: docs/performance.md).  Freezing what exists once the
process is ready takes those objects out of every collection, and a larger first threshold makes
collections rarer.  Reference counting still frees almost everything at once; only cycles wait.
"""

from __future__ import annotations

import gc

FIRST_GENERATION_THRESHOLD = 50_000  # allocations between young collections (CPython default: 700)


_frozen = False


def freeze_startup_objects() -> None:
    """Call once the process has imported and built what it keeps (its modules, engine, gateways);
    later calls in the same process do nothing."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(FIRST_GENERATION_THRESHOLD, second, third)
