"""Riding out Redis or the database restarting: which errors mean "not now", and waiting them out.

The database is the truth and every job is safe to run twice, so a loop that meets one of these errors
(a driver, a clock) waits and goes on where the database says it is, instead of ending: the SMS drills
(bench/sms_drills.py) restart Redis and PostgreSQL under a running campaign.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from robocall.queues import JobFailed

log = logging.getLogger(__name__)

# Redis unreachable or restarting, the database's connection cut or refused, or a job that failed
# (most often on their account: its work is still due in the database, and queued again).
OUTAGES = (RedisError, OperationalError, InterfaceError, JobFailed)


class Outage:
    """Waits between tries while something is unavailable: 0.5 s doubling to `longest` (a try every 2 s
    costs nothing, and a restart is over in seconds); one warning when it starts and one line when it
    ends, not one a try.  Job failures alone (Redis and the database answering) are a fault of the job,
    not an outage: after `job_failures` rounds in a row they are raised."""

    def __init__(self, who: str, longest: float = 2.0, job_failures: int = 10) -> None:
        self.who, self.longest, self.job_failures = who, longest, job_failures
        self.since: float | None = None
        self.tries = 0
        self.failed_jobs = 0

    def failed(self, error: BaseException) -> float:
        """Note one failed try; the seconds to wait before the next."""
        if isinstance(error, JobFailed):
            self.failed_jobs += 1
            if self.failed_jobs >= self.job_failures:
                raise error
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s: %s; trying again until it answers", self.who, str(error).splitlines()[0][:300])
        self.tries += 1
        return float(min(0.5 * 2.0 ** (self.tries - 1), self.longest))

    def over(self) -> None:
        """A try went through."""
        if self.since is not None:
            log.warning("%s: going on after %.1f s", self.who, time.monotonic() - self.since)
        self.since, self.tries, self.failed_jobs = None, 0, 0
