"""Fixtures for SMS tests: a migrated database, SMS settings, real RQ workers, local carriers."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from robocall.config import get_settings, reset_settings
from robocall.queues import SMS
from robocall.worker_main import spawn_workers, stop_workers
from simulator.carriers import LocalHttpCarrier, LocalSmsc
from sms.context import SmsContext, context_from_settings

ROOT = Path(__file__).parents[2]


@pytest.fixture
def sms_env(migrated: Engine, db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings shared by the test process and its workers."""
    env = {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "SMS_QUIET_HOURS": "", "SMS_GATEWAYS": json.dumps({"sim": {"kind": "sim", "rate": 50000}}),
        "SMS_ROUTES": "default=sim", "SMS_RETRY_SECONDS": "0", "SMS_BATCH_SIZE": "100",
        "SMS_WEBHOOK_SECRET": "s3cret", "SMS_API_TOKEN": "api-token",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    return env


@pytest.fixture
def configure(sms_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, str]]:
    """Change settings (for this process and workers started after)."""
    def apply(**values: Any) -> dict[str, str]:
        for key, value in values.items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            sms_env[key] = text
            monkeypatch.setenv(key, text)
        reset_settings()
        return sms_env
    return apply


@pytest.fixture
def ctx(sms_env: dict[str, str], migrated: Engine) -> Iterator[Callable[[], SmsContext]]:
    made: list[SmsContext] = []

    def make() -> SmsContext:
        made.append(context_from_settings(get_settings(), migrated))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def start_workers(sms_env: dict[str, str]) -> Iterator[Callable[..., list[subprocess.Popen[bytes]]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(count: int = 1) -> list[subprocess.Popen[bytes]]:
        new = spawn_workers(count, {**os.environ, **sms_env}, queues=[SMS], cwd=ROOT)
        processes.extend(new)
        return new

    yield start
    stop_workers(processes)


@pytest.fixture
def smsc(request: pytest.FixtureRequest) -> Iterator[LocalSmsc]:
    server = LocalSmsc(engine=getattr(request, "param", "smpp34")).start()
    yield server
    server.stop()


@pytest.fixture
def http_carrier() -> Iterator[LocalHttpCarrier]:
    server = LocalHttpCarrier().start()
    yield server
    server.stop()


def write_csv(path: Path, rows: list[list[str]], header: tuple[str, ...] = ("Họ và tên", "Số điện thoại")) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def phones(count: int, prefix: str = "091", start: int = 0) -> list[str]:
    """Distinct valid mobile numbers of one carrier prefix (091: Vinaphone, 098: Viettel, 090: MobiFone)."""
    return [f"{prefix}{start + i:07d}" for i in range(count)]
