"""Fixtures for campaign tests: a migrated database and real RQ worker processes."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from robocall.config import reset_settings
from robocall.worker_main import spawn_workers, stop_workers

ROOT = Path(__file__).parents[2]


@pytest.fixture
def campaign_env(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings shared by the test process and its workers: same database, Redis DB and queues."""
    env = {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "TELEPHONY_BACKEND": "sim", "SIM_SEED": "7", "FLOWS_DIR": str(ROOT / "ivr_flows"),
        "AUDIO_DIR": str(ROOT / "audio"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    return env


@pytest.fixture
def start_workers(campaign_env: dict[str, str]) -> Iterator[Callable[..., list[subprocess.Popen[bytes]]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(count: int, **extra: str) -> list[subprocess.Popen[bytes]]:
        processes.extend(spawn_workers(count, {**os.environ, **campaign_env, **extra}, cwd=ROOT))
        return processes

    yield start
    stop_workers(processes)
