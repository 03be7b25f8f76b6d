"""A call's log records, from the RQ worker through the backend, name its attempt and its job, in JSON
(LOG_FORMAT=json) with the number masked: what an operator greps for when a resident complains."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.models import CallAttempt, CallCampaign, Contact
from robocall.queues import CALLS, queue

ROOT_ENV = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}


def test_worker_records_of_a_call_carry_attempt_and_job_ids(migrated: Engine, campaign_env: dict[str, str]) -> None:
    with DbSession(migrated) as db:
        campaign = CallCampaign(name="F1", flow="f1_f2_followup", categories="F1")
        contact = Contact(phone="+84912000123", name="An", category="F1")
        db.add_all([campaign, contact])
        db.flush()
        attempt = CallAttempt(campaign_id=campaign.id, contact_id=contact.id, phone=contact.phone,
                              flow="f1_f2_followup", day=dt.date(2021, 8, 11))
        db.add(attempt)
        db.commit()
        attempt_id = attempt.id
    start = dt.datetime(2021, 8, 11, 2, tzinfo=dt.UTC).isoformat()
    job = queue(CALLS, Redis.from_url(campaign_env["REDIS_URL"])).enqueue(
        "robocall.campaigns.jobs.place_call_job", attempt_id, start)
    worker = subprocess.run([sys.executable, "-m", "robocall.worker_main", "--queue", CALLS, "--burst"],
                            env={**os.environ, **campaign_env, **ROOT_ENV}, capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    records = [json.loads(line) for line in worker.stderr.splitlines() if line.startswith("{")]
    call = [r for r in records if str(r["message"]).startswith(f"call {attempt_id} to ")]
    assert call, worker.stderr
    assert call[0]["attempt_id"] == str(attempt_id) and call[0]["job_id"] == job.id
    assert "+84912000123" not in worker.stderr and "+849******23" in call[0]["message"]
