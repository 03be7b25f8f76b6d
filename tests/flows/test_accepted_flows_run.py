"""A flow that `flows check` accepts runs: whatever the caller does, the engine ends the call cleanly.

Random flows are built from the pieces officers write (questions, branches, prompts with fields and
filters, rules); most are refused, and every one accepted is played by callers who press random keys,
stay silent or hang up.  No exception, an end reason, JSON-safe answers; a caller who stays silent on
a flow without conditions is let go before the step limit.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from robocall.flows import FlowError
from robocall.flows.loader import Flow, parse_flow
from robocall.flows.script import run_script

PROMPTS = ["Xin chào", "Chào {{ name }}", "{{ name|upper }} ơi", "Nhiệt độ {{ temperature|default('?') }}",
           "Đã chọn {{ choice }}", "{{ name|replace('a', 'b') }}", "  ", "{{ name.x }}", "{{ range(3) }}"]
CONDITIONS = ["fever", "not fever", "temperature >= 38", "choice in name", "choice == 'a'",
              "category == 'F1'", "day != none", "fever and temperature < 37.5"]
KEY_VALUES = [True, False, "a", "b", 1, 2.5, None]
CALLER = st.lists(st.sampled_from(["1", "2", "3", "9", "#", "375#", "0508#", "99", "", "hangup"]), max_size=12)


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly a chain n0 -> n1 -> ... ending in a hang-up, with random keys, branches and give-ups
    jumping anywhere (back included), and now and then a bad prompt or an early hang-up."""
    languages = draw(st.sampled_from([["vi"], ["vi", "en"]]))
    count = draw(st.integers(2, 7))
    ids = [f"n{i}" for i in range(count)]
    anywhere = st.sampled_from(ids)
    kinds = [draw(st.sampled_from(["say", "keys", "keys", "number", "date", "say", "keys", "hangup"]))
             for _ in ids[:-1]] + ["hangup"]
    saves = {"keys": draw(st.sampled_from(["fever", "choice"])), "number": "temperature", "date": "day"}
    saved = {saves[kind] for kind in kinds if kind in saves}
    known = saved | {"name", "category"}

    def usable(texts: list[str]) -> list[str]:
        return [t for t in texts if all(a not in t or a in known for a in ("fever", "choice", "temperature", "day"))]

    good_prompts, conditions = usable(PROMPTS[:6]), usable(CONDITIONS)

    def text() -> dict[str, str]:
        prompts = st.sampled_from(PROMPTS) if draw(st.integers(0, 9)) == 0 else st.sampled_from(good_prompts)
        return {language: draw(prompts) for language in languages}

    nodes: dict[str, Any] = {}
    for index, (node_id, kind) in enumerate(zip(ids, kinds, strict=True)):
        node: dict[str, Any] = {"say": text()}
        nodes[node_id] = node
        if kind == "hangup":
            node["hangup"] = True
            continue
        following = ids[index + 1]
        if kind == "keys":
            node["keys"] = {key: {"value": draw(st.sampled_from(KEY_VALUES)),
                                  **({"next": draw(anywhere)} if draw(st.booleans()) else {})}
                            for key in draw(st.sets(st.sampled_from("123#"), min_size=1))}
        elif kind == "number":
            node["number"] = {"max_digits": 3, "decimals": 1, "min": 34.0, "max": 43.0}
        elif kind == "date":
            node["date"] = {}
        if kind != "say":
            node["save"] = saves[kind]
            node["label"] = {"vi": saves[kind].title(), "en": saves[kind]}  # staff's name for the answer
            for choice in node.get("keys", {}).values():
                if isinstance(choice["value"], str):
                    choice["label"] = {"vi": f"Giá trị {choice['value']}", "en": f"Value {choice['value']}"}
            node["give_up"] = draw(st.sampled_from([following, ids[-1], *ids]))
        if draw(st.booleans()):
            node["next"] = following
        else:
            node["next"] = [{"if": draw(st.sampled_from(conditions)), "go": draw(anywhere)}, {"go": following}]
    rules = [{"level": draw(st.sampled_from(["urgent", "watch"])), "reason": text(),
              "when": draw(st.sampled_from(conditions)), "do": ["notify_cdc", "sms"], "sms": text()}
             for _ in range(draw(st.integers(0, 2)))]
    return {"name": "ngau_nhien", "title": "Ngẫu nhiên", "languages": languages, "start": ids[0],
            "nodes": nodes, "escalations": rules,
            "levels": {"urgent": {"vi": "Khẩn cấp", "en": "Urgent"}, "watch": {"vi": "Theo dõi thêm", "en": "Watch"}}}


def accepted(data: dict[str, Any]) -> Flow | None:
    try:
        return parse_flow(yaml.safe_dump(data, allow_unicode=True), "ngau_nhien.yaml")
    except FlowError:
        return None


@settings(max_examples=300, deadline=None)
@given(data=flows(), callers=st.lists(CALLER, min_size=1, max_size=4))
def test_every_accepted_flow_ends_cleanly_whatever_the_caller_does(data: dict[str, Any], callers: list[list[str]]) -> None:
    flow = accepted(data)
    if flow is None:
        return
    for keys in callers:
        for language in flow.spec.languages:
            transcript = run_script(flow, keys, language=language)
            assert transcript.end_reason in ("completed", "gave_up", "caller_hangup", "step_limit")
            json.dumps(transcript.to_json(), allow_nan=False)  # answers fit a JSON column
            assert all("{{" not in line for line in transcript.lines)
    conditional = any(branch.when for node in flow.spec.nodes.values() for branch in node.next or [])
    if not conditional:
        assert run_script(flow, []).end_reason != "step_limit"
