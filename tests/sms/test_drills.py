"""Small versions of the SMS drills (bench/sms_drills.py runs them at 100,000 messages): a campaign through
real workers, a private Redis and database, and local carriers, while workers are killed, Redis and
PostgreSQL restart, and carriers fail.  The carriers count what they take by our message id."""

from __future__ import annotations

from simulator.sms_drills import Drill, DrillResult, run_drill

MESSAGES = 3000


def _nothing_lost_twice_or_stuck(result: DrillResult) -> None:
    assert result.stuck == 0 and result.lost == 0 and result.duplicates == 0
    assert sum(result.by_state.values()) == MESSAGES


def test_workers_killed_and_redis_and_postgresql_restarted_lose_nothing_and_send_nothing_twice() -> None:
    """3 workers killed at random moments, Redis restarted and PostgreSQL restarted, in one campaign (one
    set of workers and one private cluster: each of them costs seconds to start)."""
    result = run_drill(Drill("kills and restarts", messages=MESSAGES, workers=2, kills=3, redis_restarts=1,
                             postgres_restarts=1, lease_seconds=3, restart_delay=0.5, rate=1000))
    _nothing_lost_twice_or_stuck(result)
    assert result.by_state == {"delivered": MESSAGES} and result.taken == MESSAGES  # as undisturbed
    assert len(result.disruptions) == 5
    assert len(result.recoveries) == 2  # sending went on after each restart
    # A killed worker's chunk in doubt (500 at most) is sent again after the lease: the carrier knows it
    # by our id and takes it once (duplicates == 0 above).  What the carriers answered while Redis or
    # PostgreSQL restarted was written, not left to be sent again.
    assert result.resent <= 3 * 500


def test_a_flaky_carrier_and_one_switched_off_every_message_ends_with_a_reason() -> None:
    result = run_drill(Drill("carriers", messages=MESSAGES, flaky_share=0.2, carrier_down_seconds=3,
                             circuit_seconds=1, max_attempts=3, rate=600))
    _nothing_lost_twice_or_stuck(result)
    assert set(result.by_state) <= {"delivered", "failed"}
    assert result.by_state["delivered"] == result.taken
    assert all(reason.startswith("gave up after 3 tries: ") for reason in result.failed_reasons)
    assert sum(result.troubles.values()) > 0  # vnpt did misbehave
    assert result.pauses.get("mobifone", 0) >= 1  # paused while switched off...
    assert result.resumed_after is not None  # ...and resumed when it came back
    # Its messages waited for it without using up their tries (none failed "cannot bind").
    assert not any("cannot bind" in reason for reason in result.failed_reasons)
    assert all(count > 0 for count in result.sent_during_outage.values())  # the others went on
