"""The pure flow engine: a call session steps on events and returns actions.

    session = new_session(flow, contact_fields(...), language="vi")
    session, actions = advance(flow, session, Answered())
    session, actions = advance(flow, session, Digits("1"))
    ...

No I/O, no clock, no randomness: the host passes `today` in the contact
fields and carries out the actions (speak, gather keys, store answers,
escalate, send SMS, hang up).  A session is plain data that round-trips
through JSON, so any worker or web process can take the next event.
Retries on silence and wrong keys, and the step limit that stops loops, live
here so every telephony backend behaves the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from robocall.flows.expressions import evaluate
from robocall.flows.loader import Flow
from robocall.flows.schema import DateInput, Node, NumberInput, Text
from robocall.flows.templates import render

# --- events: what happened on the line --------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """The call was answered (outbound) or picked up by the server (inbound)."""


@dataclass(frozen=True)
class Digits:
    """Keys pressed for the current question, as the backend collected them (`"1"`, `"375#"`)."""

    digits: str


@dataclass(frozen=True)
class Timeout:
    """The caller pressed nothing before the gather timed out."""


@dataclass(frozen=True)
class Hangup:
    """The caller hung up (or the line dropped)."""


Event = Answered | Digits | Timeout | Hangup

# --- actions: what the host must do -------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    language: str
    audio: str | None = None  # a recorded file to play instead of text-to-speech, when present
    kind: Literal["prompt", "no_input", "invalid"] = "prompt"


@dataclass(frozen=True)
class Gather:
    """Collect keys: up to `max_digits`, ended early by `finish_on_key`, silence after `timeout` s."""

    node: str
    max_digits: int
    timeout: int
    finish_on_key: str | None = None


@dataclass(frozen=True)
class RecordAnswer:
    name: str
    value: Any
    node: str
    keys: str


@dataclass(frozen=True)
class Escalate:
    rule: str
    level: str
    reason: str
    notify_cdc: bool
    callback: bool


@dataclass(frozen=True)
class SendSms:
    rule: str
    text: str
    language: str


EndReason = Literal["completed", "gave_up", "caller_hangup", "step_limit"]


@dataclass(frozen=True)
class HangUp:
    reason: EndReason


Action = Say | Gather | RecordAnswer | Escalate | SendSms | HangUp

# --- the session ----------------------------------------------------------------------------------


@dataclass
class Session:
    flow: str
    flow_version: str
    language: str
    fields: dict[str, Any]
    status: Literal["new", "active", "ended"] = "new"
    node: str | None = None
    waiting: bool = False  # a Gather is out and the next Digits/Timeout is for `node`
    attempts: int = 0  # failed tries at the current question
    steps: int = 0
    answers: dict[str, Any] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    end_reason: EndReason | None = None

    def to_json(self) -> dict[str, Any]:
        # What `asdict` gives, by hand: asdict deep-copies through its generic recursion, a tenth of
        # a webhook's step (docs/performance.md).
        return {"flow": self.flow, "flow_version": self.flow_version, "language": self.language,
                "fields": _json_copy(self.fields), "status": self.status, "node": self.node, "waiting": self.waiting,
                "attempts": self.attempts, "steps": self.steps, "answers": _json_copy(self.answers),
                "fired": list(self.fired), "end_reason": self.end_reason}

    def copy(self) -> Session:
        """A copy sharing nothing mutable with this one."""
        return Session(**self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(**data)

    @property
    def ended(self) -> bool:
        return self.status == "ended"


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts and lists of immutable values), without deepcopy's memo."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def contact_fields(
    *, today: dt.date, name: str = "", category: str = "", district: str = "", commune: str = "",
    exposure_date: dt.date | None = None, phone: str = "",
) -> dict[str, Any]:
    """The template fields a host passes for a contact; all JSON-safe."""
    days = (today - exposure_date).days if exposure_date else None
    return {
        "name": name, "category": category, "district": district, "commune": commune,
        "exposure_date": exposure_date.strftime("%d/%m/%Y") if exposure_date else "",
        "days_since_exposure": days, "phone_last_digits": phone[-4:], "today": today.isoformat(),
    }


VOICEMAIL_NODE = "_voicemail"  # not a node name (those start with a letter): the voicemail's prompt and recording


def voicemail(flow: Flow, language: str | None = None) -> Say | None:
    """The message to leave on an answering machine, in `language` (else the flow's first), or None
    when the flow leaves none.  Played by the backend after the machine's greeting, never by the engine."""
    texts = flow.spec.voicemail
    if not texts:
        return None
    chosen = language if language in flow.spec.languages else flow.spec.languages[0]
    text = texts.get(chosen) or texts.get(flow.spec.languages[0], "")
    return Say(text, chosen if chosen in texts else flow.spec.languages[0]) if text else None


def new_session(flow: Flow, fields: dict[str, Any], language: str | None = None) -> Session:
    """A session waiting for `Answered`.  An undeclared language falls back to the flow's first."""
    languages = flow.spec.languages
    chosen = language if language in languages else languages[0]
    if "today" not in fields:
        raise ValueError("fields must include 'today' (ISO date): the engine never reads the clock")
    return Session(flow=flow.name, flow_version=flow.version, language=chosen, fields=dict(fields))


def start(flow: Flow, fields: dict[str, Any], language: str | None = None) -> tuple[Session, list[Action]]:
    """Shortcut for a call that is already answered: new session + `Answered`."""
    return advance(flow, new_session(flow, fields, language), Answered())


def advance(flow: Flow, session: Session, event: Event) -> tuple[Session, list[Action]]:
    """Apply one event; return the new session and the actions to carry out.  Never raises on input."""
    if session.flow != flow.name:
        raise ValueError(f"session belongs to flow '{session.flow}', not '{flow.name}'")
    run = _Run(flow, session.copy())
    run.handle(event)
    return run.session, run.actions


def accepts(flow: Flow, session: Session, digits: str) -> bool:
    """Whether the question the session waits at would take `digits` as an answer.

    For hosts that read free text (the SMS declaration): they try what a person typed in its
    possible keypad forms and keep the one the engine itself accepts.
    """
    if session.flow != flow.name or not session.waiting or session.node is None or digits == "":
        return False
    node = flow.spec.nodes[session.node]
    return _interpret(node, digits, dt.date.fromisoformat(session.fields["today"]))[0]


class _Run:
    """One `advance` call: mutates its private copy of the session and collects actions."""

    def __init__(self, flow: Flow, session: Session) -> None:
        self.flow = flow
        self.spec = flow.spec
        self.session = session
        self.actions: list[Action] = []
        self.gave_up = False  # this event used up a question's retries

    # --- dispatch ---
    def handle(self, event: Event) -> None:
        s = self.session
        if s.ended:
            return
        if isinstance(event, Hangup):
            self.end("caller_hangup")
        elif isinstance(event, Answered):
            if s.status == "new":
                s.status = "active"
                self.enter(self.spec.start)
        elif s.status == "active" and s.waiting:
            self.answer(event.digits if isinstance(event, Digits) else "")

    # --- moving through nodes ---
    def enter(self, node_id: str) -> None:
        s = self.session
        while True:
            s.steps += 1
            if s.steps > self.spec.defaults.max_steps:
                self.end("step_limit")
                return
            node = self.spec.nodes[node_id]
            s.node, s.attempts, s.waiting = node_id, 0, False
            self.prompt(node)
            if node.hangup:
                self.end("completed")
                return
            if node.is_question:
                self.gather(node_id, node)
                return
            node_id = self.next_of(node)

    def next_of(self, node: Node, key_target: str | None = None) -> str:
        if key_target:
            return key_target
        values = self.values()
        for branch in node.next or []:
            if branch.when is None or evaluate(branch.when, values):
                return branch.go
        raise AssertionError("validated flows always end their branches with a default")

    def answer(self, digits: str) -> None:
        s = self.session
        assert s.node is not None
        node = self.spec.nodes[s.node]
        if digits == "":
            self.retry(node, "no_input")
            return
        ok, value, target = _interpret(node, digits, dt.date.fromisoformat(s.fields["today"]))
        if not ok:
            self.retry(node, "invalid")
            return
        if node.save:
            s.answers[node.save] = value
            self.actions.append(RecordAnswer(node.save, value, s.node, digits))
        self.enter(self.next_of(node, target))

    def retry(self, node: Node, why: Literal["no_input", "invalid"]) -> None:
        s = self.session
        defaults = self.spec.defaults
        s.attempts += 1
        s.steps += 1
        if s.steps > defaults.max_steps:
            self.end("step_limit")
            return
        retries = node.retries if node.retries is not None else defaults.retries
        if s.attempts > retries:
            give_up = node.give_up or defaults.give_up
            assert give_up is not None, "validated flows always have a give_up"
            self.gave_up = True
            self.enter(give_up)
            return
        message = getattr(node, why) or getattr(defaults, why)
        if message:
            self.say(message, None, kind=why)
        assert s.node is not None
        self.prompt(node)
        self.gather(s.node, node)

    # --- actions ---
    def prompt(self, node: Node) -> None:
        if node.say or node.play:
            self.say(node.say or {}, node.play)

    def say(self, text: Text, play: Text | None, kind: Literal["prompt", "no_input", "invalid"] = "prompt") -> None:
        language = self.session.language
        audio = (play or {}).get(language)
        self.actions.append(Say(render(text.get(language, ""), self.values()), language, audio, kind))

    def gather(self, node_id: str, node: Node) -> None:
        timeout = node.timeout or self.spec.defaults.timeout
        if node.keys is not None:
            gather = Gather(node_id, max_digits=1, timeout=timeout)
        elif node.number is not None:
            gather = Gather(node_id, max_digits=node.number.max_digits, timeout=timeout, finish_on_key="#")
        else:
            gather = Gather(node_id, max_digits=8, timeout=timeout, finish_on_key="#")
        self.session.waiting = True
        self.actions.append(gather)

    def end(self, reason: EndReason) -> None:
        s = self.session
        if reason == "completed" and self.gave_up:
            reason = "gave_up"
        s.status, s.waiting, s.end_reason = "ended", False, reason
        self.escalate()
        if reason != "caller_hangup":
            self.actions.append(HangUp(reason))

    def escalate(self) -> None:
        """Check the rules once, when the call ends, top to bottom."""
        values = self.values()
        fired_levels: set[str] = set()
        language = self.session.language
        first = self.spec.languages[0]
        for index, rule in enumerate(self.spec.escalations):
            if any(level in fired_levels for level in rule.unless):
                continue
            if not evaluate(rule.when, values):
                continue
            name = self.flow.rule_name(index)
            fired_levels.add(rule.level)
            self.session.fired.append(name)
            reason = render(rule.reason.get(first, ""), values)
            self.actions.append(Escalate(name, rule.level, reason, "notify_cdc" in rule.do, "callback" in rule.do))
            if "sms" in rule.do and rule.sms:
                self.actions.append(SendSms(name, render(rule.sms.get(language, ""), values), language))

    def values(self) -> dict[str, Any]:
        values = dict(self.session.fields)
        for answer in self.flow.answers:
            values[answer] = self.session.answers.get(answer)
        return values


# --- reading key presses ------------------------------------------------------------------------


def _interpret(node: Node, digits: str, today: dt.date) -> tuple[bool, Any, str | None]:
    """(ok, value, key's own next) for the keys pressed at a question."""
    if node.keys is not None:
        choice = node.keys.get(digits)
        if choice is None:
            return False, None, None
        return True, digits if choice.value is None else choice.value, choice.next
    typed = digits[:-1] if digits.endswith("#") else digits
    if not typed.isdigit():
        return False, None, None
    if node.number is not None:
        return _read_number(node.number, typed)
    assert node.date is not None
    return _read_date(node.date, typed, today)


def _read_number(spec: NumberInput, typed: str) -> tuple[bool, Any, None]:
    if not spec.min_digits <= len(typed) <= spec.max_digits:
        return False, None, None
    value: float | int = int(typed) / 10**spec.decimals if spec.decimals else int(typed)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        return False, None, None
    return True, value, None


def _read_date(spec: DateInput, typed: str, today: dt.date) -> tuple[bool, Any, None]:
    if len(typed) not in (4, 8):
        return False, None, None
    day, month = int(typed[:2]), int(typed[2:4])
    years = [int(typed[4:])] if len(typed) == 8 else [today.year, today.year - 1, today.year + 1]
    allowed = []
    for year in years:
        try:
            date = dt.date(year, month, day)
        except ValueError:
            continue
        if -spec.max_days_ahead <= (today - date).days <= spec.max_days_ago:
            allowed.append(date)
    if not allowed:
        return False, None, None
    # DDMM alone: the year that puts the date nearest to today (as schema.DateInput documents).
    return True, min(allowed, key=lambda date: abs((today - date).days)).isoformat(), None
