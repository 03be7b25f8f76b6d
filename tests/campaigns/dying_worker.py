"""A worker that kills itself with SIGKILL at a chosen point of its work (tests/campaigns/test_call_drills.py).

    python tests/campaigns/dying_worker.py after_tick_commit|mid_call

after_tick_commit: in the first dial tick that planned calls, after its transaction committed and
before any call job is queued (the follow-ups are `calling`, nothing behind them).
mid_call: in the first simulated call, after the job claimed it and the resident answered, before the
call is written.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from robocall.campaigns import jobs  # noqa: E402
from robocall.worker_main import run_worker  # noqa: E402
from simulator.backend import SimulatedBackend  # noqa: E402


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(point: str) -> None:
    if point == "after_tick_commit":
        enqueue = jobs.enqueue_calls

        def dying_enqueue(queue, calls):  # type: ignore[no-untyped-def]
            if calls:
                die()
            return enqueue(queue, calls)

        jobs.enqueue_calls = dying_enqueue  # type: ignore[assignment]
    elif point == "mid_call":
        def dying_call(self, request):  # type: ignore[no-untyped-def]
            handler = self.handlers.outbound(request.attempt_id, request.at)
            handler.answered(request.at)
            die()

        SimulatedBackend.place_call = dying_call  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}")
    run_worker()


if __name__ == "__main__":
    main(sys.argv[1])
