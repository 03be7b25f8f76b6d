"""The shape of a flow file, as typed objects.

Pydantic checks the shape (unknown keys, wrong types, missing keys); the
cross-references (targets, reachability, answers used by rules, languages)
are checked afterwards in `validate.py`, where the whole flow is known.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What a flow author writes for a prompt: language code -> text to speak.
Text = dict[str, str]
KEYPAD = frozenset("0123456789*#")
ACTIONS = ("notify_cdc", "sms", "callback")


RuleAction = Literal["notify_cdc", "sms", "callback"]

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Defaults(_Strict):
    """Flow-wide behaviour of questions; each node may override the first five."""

    timeout: int = Field(6, ge=1, le=60, description="seconds to wait for a key press")
    retries: int = Field(2, ge=0, le=9, description="times a question is asked again after silence or a wrong key")
    no_input: Text | None = Field(None, description="said after silence, before asking again")
    invalid: Text | None = Field(None, description="said after a wrong key, before asking again")
    give_up: str | None = Field(None, description="node to go to when the retries are used up")
    max_steps: int = Field(100, ge=5, le=10_000, description="nodes a call may pass through before it is ended")


class Label(_Strict):
    """What staff read for a name a flow stores (an answer, a choice's value, a level), in each language
    of the dashboard: the flow's call languages do not matter here, staff read both."""

    vi: str
    en: str


class KeyChoice(_Strict):
    value: Any = None
    next: str | None = None
    label: Label | None = Field(None, description="the value's display name, for a text value the node saves")


class NumberInput(_Strict):
    """Several digits ending in `#`; `decimals: 1` reads 375 as 37.5."""

    min_digits: int = Field(1, ge=1, le=20)
    max_digits: int = Field(..., ge=1, le=20)
    decimals: int = Field(0, ge=0, le=4)
    min: float | None = Field(None, allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)


class DateInput(_Strict):
    """A day and month as DDMM then `#`; the year is the one that puts the date nearest to today."""

    max_days_ago: int = Field(60, ge=0, le=3650)
    max_days_ahead: int = Field(0, ge=0, le=3650)


class Branch(_Strict):
    when: str | None = Field(None, alias="if")
    go: str


class Node(_Strict):
    say: Text | None = None
    play: Text | None = Field(None, description="language -> audio file, preferred over text-to-speech")
    keys: dict[str, KeyChoice] | None = None
    number: NumberInput | None = None
    date: DateInput | None = None
    save: str | None = None
    label: Label | None = Field(None, description="the saved answer's display name")
    next: list[Branch] | None = None
    hangup: bool = False
    timeout: int | None = Field(None, ge=1, le=60)
    retries: int | None = Field(None, ge=0, le=9)
    no_input: Text | None = None
    invalid: Text | None = None
    give_up: str | None = None

    @field_validator("keys", mode="before")
    @classmethod
    def _short_key_values(cls, keys: Any) -> Any:
        # `"1": yes` is short for `"1": {value: yes}`.
        if isinstance(keys, dict):
            return {k: v if isinstance(v, dict) else {"value": v} for k, v in keys.items()}
        return keys

    @field_validator("next", mode="before")
    @classmethod
    def _plain_next(cls, value: Any) -> Any:
        # `next: sot` is short for `next: [{go: sot}]`.
        return [{"go": value}] if isinstance(value, str) else value

    @property
    def is_question(self) -> bool:
        return any(x is not None for x in (self.keys, self.number, self.date))


class Rule(_Strict):
    """An escalation: when `when` holds over the answers, raise `level` for `reason` and do `do`."""

    name: str | None = None
    level: str
    reason: Text
    when: str
    unless: list[str] = Field(default_factory=list)
    do: list[RuleAction] = Field(default_factory=lambda: list[RuleAction](["notify_cdc"]))
    sms: Text | None = None


class FlowFile(_Strict):
    name: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str | None = None
    direction: Literal["outbound", "inbound"] = "outbound"
    languages: list[str] = Field(..., min_length=1)
    start: str
    defaults: Defaults = Defaults()
    nodes: dict[str, Node] = Field(..., min_length=1)
    escalations: list[Rule] = Field(default_factory=list)
    levels: dict[str, Label] = Field(default_factory=dict, description="level -> display name, for every level "
                                                                      "the rules raise")
    voicemail: Text | None = Field(None, description="a short message left when an answering machine takes "
                                                      "an outbound call; no fields (anyone may play the box)")
