"""Session.to_json and Session.copy: what dataclasses.asdict and copy.deepcopy give, sharing nothing."""

from __future__ import annotations

import copy
import dataclasses

from robocall.flows.engine import Session


def _session() -> Session:
    return Session(flow="f", flow_version="3", language="vi",
                   fields={"name": "Người thử", "today": "2021-08-15", "nested": {"a": [1, {"b": None}]}},
                   status="active", node="q1", waiting=True, attempts=2, steps=5,
                   answers={"q0": 1, "q9": ["x", {"y": 2.5}]}, fired=["r1"], end_reason=None)


def test_to_json_is_asdict_with_every_field() -> None:
    session = _session()
    assert session.to_json() == dataclasses.asdict(session)
    assert list(session.to_json()) == [f.name for f in dataclasses.fields(Session)]
    assert Session.from_json(session.to_json()) == session


def test_copy_equals_a_deep_copy_and_shares_nothing_mutable() -> None:
    session = _session()
    copied = session.copy()
    assert copied == copy.deepcopy(session)
    copied.fields["nested"]["a"][1]["b"] = 1
    copied.answers["q9"][1]["y"] = 0
    copied.fired.append("r2")
    assert session == _session()
