"""The IVR driver against a fake Asterisk: each AGI answer and failure mapped onto the recorded call."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy.engine import Engine

from robocall.conversations.calls import RecordedCalls
from robocall.models import CallState
from robocall.telephony.asterisk.agi_app import AgiApplication
from robocall.telephony.asterisk.fastagi import FastAgiServer
from robocall.telephony.asterisk.prompts import MISSING_PROMPTS, RenderedPrompts
from tests.asterisk.calls import VN_TZ, add_attempts, check_flow, outcomes

Responder = Callable[[str], bytes | None]  # the answer to a command; None closes the connection


def call(engine: Engine, prompts: RenderedPrompts, respond: Responder, attempt_id: int) -> list[str]:
    """One outbound call from the fake Asterisk; returns the commands the server sent."""
    flow = check_flow()
    app = AgiApplication(RecordedCalls(engine, {flow.name: flow}, VN_TZ), prompts, {})
    sent: list[str] = []

    async def fake(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_network_script: outbound\nagi_channel: SIP/trunk-1\n\n")
        while line := await reader.readline():
            command = line.decode().strip()
            sent.append(command)
            if command.startswith("GET VARIABLE ROBOCALL_ATTEMPT"):
                answer: bytes | None = f"200 result=1 ({attempt_id})\n".encode()
            elif command.startswith("GET VARIABLE ROBOCALL_FLOW"):
                answer = b"200 result=1 (asterisk_check)\n"
            else:
                answer = respond(command)
            if answer is None:
                break
            writer.write(answer)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = FastAgiServer(app, "127.0.0.1", 0, command_timeout=2)
        await server.start()
        try:
            await asyncio.wait_for(fake(server.port), 20)
            while server.active:
                await asyncio.sleep(0.01)
        finally:
            await server.close()

    asyncio.run(main())
    return sent


def human(command: str) -> bytes | None:
    if command.startswith("GET VARIABLE AMDSTATUS"):
        return b"200 result=1 (HUMAN)\n"
    if command.startswith("GET VARIABLE"):
        return b"200 result=0\n"
    return None


def one(engine: Engine) -> int:
    return add_attempts(engine, ["+84912000001"], "asterisk_check", dt.date.today())["+84912000001"]


def test_eof_during_the_number_question_records_the_answers_so_far_and_a_hang_up(migrated: Engine, prompts: RenderedPrompts) -> None:
    def respond(command: str) -> bytes | None:
        if command.startswith("STREAM FILE"):
            return b"200 result=0 endpos=8000\n"
        if command.startswith("GET DATA") and "3000 3" not in command:
            return b"200 result=1\n"  # fever: 1
        if command.startswith("GET DATA"):
            return None  # Asterisk drops the connection mid-question
        return human(command)

    attempt_id = one(migrated)
    sent = call(migrated, prompts, respond, attempt_id)
    found = outcomes(migrated, {"p": attempt_id})["p"]
    assert (found["state"], found["reason"], found["answers"]) == (CallState.COMPLETED, "caller_hangup", {"fever": True})
    assert sent[-1].startswith(f'GET DATA "{prompts.local_dir}/') and sent[-1].endswith(" 3000 3")


def test_a_hangup_line_during_a_prompt_ends_the_call_without_more_commands(migrated: Engine, prompts: RenderedPrompts) -> None:
    def respond(command: str) -> bytes | None:
        if command.startswith("STREAM FILE"):
            return b"HANGUP\n200 result=-1 endpos=1200\n"
        if command.startswith(("GET DATA", "CHANNEL STATUS", "HANGUP")):
            return b"511 Command Not Permitted on a dead channel\n"
        return human(command)

    attempt_id = one(migrated)
    sent = call(migrated, prompts, respond, attempt_id)
    found = outcomes(migrated, {"p": attempt_id})["p"]
    assert (found["state"], found["reason"], found["answered"]) == (CallState.COMPLETED, "caller_hangup", True)
    assert [c.split()[0] for c in sent[4:]] == ["STREAM"]


def test_keys_typed_during_the_greeting_answer_the_next_question_and_hash_ends_a_number(migrated: Engine, prompts: RenderedPrompts) -> None:
    keys = iter([b"200 result=49 endpos=100\n",  # "1" interrupts the greeting: the fever question is answered
                 b"200 result=389\n",  # GET DATA of the temperature returns at its 3 digits
                 b"200 result=35\n",  # the # pressed after them is read and dropped (WAIT FOR DIGIT)
                 b"200 result=0 endpos=100\n", b"200 result=1\n"])  # thanks, HANGUP

    def respond(command: str) -> bytes | None:
        if command.startswith(("STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "HANGUP")):
            return next(keys)
        return human(command)

    attempt_id = one(migrated)
    sent = call(migrated, prompts, respond, attempt_id)
    found = outcomes(migrated, {"p": attempt_id})["p"]
    assert found["answers"] == {"fever": True, "temperature": 38.9}
    assert found["escalations"] == ["sot_cao"] and found["reason"] == "completed"
    assert [c.split()[0] for c in sent[4:]] == ["STREAM", "GET", "WAIT", "STREAM", "HANGUP"]
    assert sent[6] == "WAIT FOR DIGIT 2000"
    assert sent[4].endswith('"0123456789*#"')  # keys may interrupt the greeting when a question follows


def test_a_missing_prompt_is_counted_and_the_keys_still_read(migrated: Engine, prompts: RenderedPrompts) -> None:
    def respond(command: str) -> bytes | None:
        if command.startswith(("STREAM FILE", "GET DATA")):
            return b"200 result=-1 endpos=0\n"  # Asterisk has no such file
        if command.startswith("CHANNEL STATUS"):
            return b"200 result=6\n"  # but the line is up
        if command.startswith("WAIT FOR DIGIT"):
            return b"200 result=50\n"  # "2"
        if command.startswith("HANGUP"):
            return b"200 result=1\n"
        return human(command)

    before = sum(MISSING_PROMPTS.values())
    attempt_id = one(migrated)
    call(migrated, prompts, respond, attempt_id)
    assert outcomes(migrated, {"p": attempt_id})["p"]["answers"] == {"fever": False}
    assert sum(MISSING_PROMPTS.values()) - before == 3  # greeting, question, thanks


def test_a_machine_is_recorded_without_playing_the_flow(migrated: Engine, prompts: RenderedPrompts) -> None:
    def respond(command: str) -> bytes | None:
        if command.startswith("GET VARIABLE AMDSTATUS"):
            return b"200 result=1 (MACHINE)\n"
        if command.startswith("HANGUP"):
            return b"200 result=1\n"
        return human(command)

    attempt_id = one(migrated)
    sent = call(migrated, prompts, respond, attempt_id)
    found = outcomes(migrated, {"p": attempt_id})["p"]
    assert (found["state"], found["answered"]) == (CallState.MACHINE, False)
    assert not any(c.startswith(("STREAM", "GET DATA")) for c in sent)


def test_garbage_from_asterisk_mid_call_ends_it_as_a_hang_up(migrated: Engine, prompts: RenderedPrompts) -> None:
    def respond(command: str) -> bytes | None:
        if command.startswith("STREAM FILE"):
            return b"this is not AGI\n"
        if command.startswith("HANGUP"):
            return b"200 result=1\n"
        return human(command)

    attempt_id = one(migrated)
    call(migrated, prompts, respond, attempt_id)
    found = outcomes(migrated, {"p": attempt_id})["p"]
    assert (found["state"], found["reason"]) == (CallState.COMPLETED, "caller_hangup")
