"""A real Asterisk per test module: configuration from the project's templates on free loopback ports."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from robocall.audio.build import build
from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.config import Settings
from robocall.flows.loader import Flow, load_flow
from robocall.telephony.asterisk.conf import AsteriskLayout
from robocall.telephony.asterisk.instance import AsteriskProcess, find_prefix, free_port
from robocall.telephony.asterisk.prompts import RenderedPrompts

ROOT = Path(__file__).parents[2]
SHARED = ROOT.parent / "shared" / "asterisk"
AMI_SECRET = "test-secret-12"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FLOW_FILE = Path(__file__).parent / "flows" / "asterisk_check.yaml"


def check_flow() -> Flow:
    return load_flow(FLOW_FILE)


def audio_settings(audio_dir: Path) -> Settings:
    # espeak-ng only: offline, and quick enough to render the test flow once per run.
    return Settings(audio_dir=audio_dir, audio_engine_order="espeak", espeak_speed=190)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test flow's prompts rendered by robocall.audio into Asterisk's format (as `robocall audio build`)."""
    path = tmp_path_factory.mktemp("audio")
    summary = build(Renderer(audio_settings(path)), prompts_of(check_flow()), ["asterisk"])
    assert not summary.failures, summary.failures
    return path


@pytest.fixture
def prompts(audio_dir: Path) -> RenderedPrompts:
    flow = check_flow()
    return RenderedPrompts(Renderer(audio_settings(audio_dir)), {flow.name: flow})


def asterisk_prefix() -> Path:
    prefix = find_prefix(ROOT)
    if prefix is None:
        if SHARED.is_dir():
            pytest.fail(f"{SHARED} exists but Asterisk is not unpacked in var/asterisk/: run `make setup`",
                        pytrace=False)
        pytest.skip("no Asterisk here (no ../shared/asterisk and no ASTERISK_PREFIX)")
    return prefix


def make_layout(base: Path, agi_port: int, extra: dict[str, str] | None = None, **options: Any) -> AsteriskLayout:
    rtp = random.randrange(20000, 29000, 2)
    return AsteriskLayout(
        prefix=asterisk_prefix(), etc=base / "etc", run=base / "run",
        ami_port=free_port(), ami_secret=AMI_SECRET, sip_port=free_port(2), rtp_start=rtp, rtp_end=rtp + 200,
        agi_url=f"agi://127.0.0.1:{agi_port}", extra=extra or {}, **options,
    )


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder (the control socket path must stay under 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ast", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def agi_port() -> int:
    return free_port()


@pytest.fixture
def asterisk_factory(short_tmp: Path, agi_port: int) -> Iterator[object]:
    started: list[AsteriskProcess] = []

    def start(extra: dict[str, str] | None = None, **options: Any) -> AsteriskProcess:
        base = short_tmp / f"s{len(started)}" if started else short_tmp  # a folder per instance
        process = AsteriskProcess(make_layout(base, agi_port, extra, **options))
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def asterisk(asterisk_factory) -> AsteriskProcess:  # type: ignore[no-untyped-def]
    return asterisk_factory()
