"""The names staff read for what the flows store: answer keys, the text values of choices, and
escalation levels, each with a display name per dashboard language written in the flow file
(`label:` on a question and on a choice, `levels:` at the top).

The flows own these names because a health department writes a new flow with a new question or
level, which no catalogue in the code could know.  Staff see one name per key: two flows (or two
nodes of one flow) that give the same answer, value or level different names are refused at load,
naming the line of the second and where the first was written.

`Vocabulary.name` is the one lookup the dashboard, the report and its exports use; whatever is not a
flow's (call states, categories, roles, statuses, audit actions, yes/no) it takes from
`robocall.labels`.  The urgency order of levels is the province's triage policy, shared by every flow
and kept in `robocall.labels.LEVEL_ORDER`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from robocall import labels
from robocall.flows.problems import Problem
from robocall.flows.schema import FlowFile, Label
from robocall.flows.yaml_source import Path, SourceMap
from robocall.text import bilingual

Kind = Literal["answer", "value", "level"]
_KINDS: dict[str, Kind] = {"answer": "answer", "value": "value", "level": "level"}
_WHAT = {"answer": ("câu trả lời", "answer"), "value": ("giá trị", "value"), "level": ("mức", "level")}


def named(spec: FlowFile) -> Iterator[tuple[Kind, str, Label, Path]]:
    """Every display name a flow gives, with what it names and the path of its `label`.  A value is
    named within its answer (`zone=other` and `report_kind=other` may read differently)."""
    for node_id, node in spec.nodes.items():
        if not node.save:
            continue
        if node.label is not None:
            yield "answer", node.save, node.label, ("nodes", node_id, "label")
        for key, choice in (node.keys or {}).items():
            if choice.label is not None and isinstance(choice.value, str):
                yield "value", f"{node.save}={choice.value}", choice.label, ("nodes", node_id, "keys", key, "label")
    for level, label in spec.levels.items():
        yield "level", level, label, ("levels", level)


@dataclass(frozen=True)
class _Written:
    label: Label
    file: str
    line: int


def _system_levels() -> dict[tuple[Kind, str], _Written]:
    """The levels the code raises itself (a missed hotline call, a home visit), named in
    robocall/labels.py: a flow that raises one too must name it the same."""
    return {("level", level): _Written(Label(vi=vi, en=en), "robocall/labels.py", 0)
            for level, (vi, en) in labels.LABELS["level"].items()}


@dataclass
class Vocabulary:
    """Display names of the answers, values and levels of a set of flows (one name per key)."""

    entries: dict[tuple[Kind, str], _Written] = field(default_factory=_system_levels)

    def add(self, spec: FlowFile, source: SourceMap) -> list[Problem]:
        """Take a flow's names; when one differs from a name already given (by an earlier flow or an
        earlier node of the same flow), take none of them and say where each was written."""
        staged: dict[tuple[Kind, str], _Written] = {}
        problems = []
        for kind, key, label, path in named(spec):
            first = self.entries.get((kind, key)) or staged.get((kind, key))
            if first is None:
                staged[(kind, key)] = _Written(label, source.file, source.line_of(path))
            elif first.label != label:
                problems.append(source.problem(path, _differs(kind, key, label, first, source.file)))
        if not problems:
            self.entries.update(staged)
        return problems

    def label(self, kind: Kind, key: str) -> Label | None:
        written = self.entries.get((kind, key))
        return written.label if written else None

    def name(self, kind: str, value: object, lang: str, answer: str | None = None) -> str:
        """The display name of a stored `value` of `kind` in `lang`: answers, values (of `answer`) and
        levels from the flows, everything else from robocall.labels.  A name no flow gives any more
        (a level of a retired flow) reads with its underscores as spaces, never as an identifier."""
        text = "" if value is None else str(value)
        key = f"{answer}={text}" if kind == "value" and answer else text
        flow_kind = _KINDS.get(kind)
        found = self.label(flow_kind, key) if flow_kind else None
        if found is not None:
            return found.en if lang == "en" else found.vi
        return labels.label(kind, value, lang)


def _differs(kind: Kind, key: str, label: Label, first: _Written, here: str) -> str:
    what_vi, what = _WHAT[kind]
    answer, _, value = key.partition("=")
    thing_vi, thing = ((f"{what_vi} '{value}' của câu trả lời '{answer}'", f"{what} '{value}' of answer '{answer}'")
                       if kind == "value" else (f"{what_vi} '{key}'", f"{what} '{key}'"))
    if first.file == here:
        where_vi, where = f"ở dòng {first.line}", f"on line {first.line}"
    else:
        where = f"{first.file}:{first.line}" if first.line else first.file
        where_vi, where = f"ở {where}", f"at {where}"
    return bilingual(
        f"{thing_vi} đã có tên '{first.label.vi}' / '{first.label.en}' {where_vi};"
        f" tên '{label.vi}' / '{label.en}' ở đây khác (cán bộ chỉ thấy một tên cho mỗi {what_vi})",
        f"{thing} is already named '{first.label.vi}' / '{first.label.en}' {where};"
        f" '{label.vi}' / '{label.en}' here differs (staff see one name per {what})")
