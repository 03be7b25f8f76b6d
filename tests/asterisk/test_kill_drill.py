"""A worker killed with SIGKILL while it works a campaign on the real Asterisk (issue 18): the campaign
completes through the other worker, every call recorded as the residents' scripts say, none twice and
none left open.  Short: six contacts, their calls a few seconds each (bench/call_drill.py --asterisk
runs a bigger one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robocall.config import Settings
from robocall.worker_main import spawn_workers, stop_workers
from simulator.drills import WorkerProcesses, asterisk_campaign
from tests.asterisk.conftest import ROOT, asterisk_prefix
from tests.conftest import TEST_REDIS_DB, make_url_with_redis_db


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_campaign_on_asterisk_loses_no_call(tmp_path: Path, redis_url: str) -> None:
    asterisk_prefix()  # fails with `make setup` to run when the Asterisk is not unpacked
    workers = WorkerProcesses(lambda count, env: spawn_workers(count, env, cwd=ROOT),
                              lambda processes: stop_workers(processes, patience=10))
    result = asterisk_campaign(workers, f"sqlite:///{tmp_path / 'drill.db'}",
                               make_url_with_redis_db(Settings().redis_url, TEST_REDIS_DB), contacts=6, kills=1)
    assert result.kills == 1
    assert result.wrong == {}
    assert result.attempts == result.expected  # every call the scripts say, none twice
    assert result.stuck == 0
