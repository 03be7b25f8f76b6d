"""Log records carry the ids of what they are about (request, RQ job, call attempt), as JSON or text,
phone numbers masked in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from robocall.logging_setup import configure_logging, log_context


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = configure_logging("INFO", stream=out, fmt="json")
    yield out
    logging.getLogger().removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_records_carry_the_context_ids_and_masked_numbers(stream: io.StringIO) -> None:
    log = logging.getLogger("robocall.test")
    with log_context(request_id="r1"), log_context(attempt_id=12):
        log.info("gọi %s", "+84912345678")
        try:
            raise ValueError("số +84912345678")
        except ValueError:
            log.exception("lỗi")
    log.info("ngoài")
    first, failed, outside = lines(stream)
    assert first["message"] == "gọi +849******78"
    assert (first["request_id"], first["attempt_id"], first["level"]) == ("r1", "12", "INFO")
    assert "+84912345678" not in json.dumps(failed) and "+849******78" in str(failed["exc_info"])
    assert "attempt_id" not in outside and "request_id" not in outside


def test_text_lines_append_the_ids() -> None:
    out = io.StringIO()
    handler = configure_logging("INFO", stream=out)
    try:
        with log_context(attempt_id=7, call_id="1733.42"):
            logging.getLogger("robocall.test").warning("máy bận")
    finally:
        logging.getLogger().removeHandler(handler)
    assert out.getvalue().rstrip().endswith("máy bận [attempt=7 call=1733.42]")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="phone"), log_context(phone="+84912345678"):
        pass


def test_a_record_logged_inside_an_rq_job_names_the_job(stream: io.StringIO, redis_url: str) -> None:
    queue = Queue("robocall-test-logs", connection=Redis.from_url(redis_url))
    job = queue.enqueue(logging.warning, "trong việc %s", "+84912345678")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    record = next(line for line in lines(stream) if str(line["message"]).startswith("trong việc"))
    assert record["job_id"] == job.id and record["message"] == "trong việc +849******78"
