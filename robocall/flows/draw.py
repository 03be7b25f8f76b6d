"""Draw a flow as a diagram: nodes, keys, branches, give-ups and where escalations fire.

`flow_to_dot` builds Graphviz DOT source with the `graphviz` package (which
quotes and escapes every label); `draw_flow` renders it to SVG or PNG with
Graphviz's `dot` program, which comes from the `graphviz` system package
(`apt-get install graphviz`), not from PyPI.

Questions are pale yellow boxes showing their input and the answer they save
(`✎ fever`); hang-ups are double rounded boxes; the start node is green.
Solid edges are keys and branches, dashed grey ones give-ups, and dotted ones
run from the nodes saving an answer to the escalation rules that read it
(red urgent, orange watch, blue any other level).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

import graphviz

from robocall.flows.expressions import ExpressionError, names_in
from robocall.flows.loader import Flow
from robocall.flows.schema import Node

FONT = "DejaVu Sans"  # has every Vietnamese glyph and the symbols used below (✎ ▶ ⏎)
PROMPT_CHARS = 60  # prompt excerpt length
WRAP = 32  # characters per line inside a node box
CONDITION_WRAP = 40  # characters per line of an edge or rule condition

LEVEL_COLOURS = {"urgent": "#d62728", "watch": "#ff7f0e"}
OTHER_LEVEL_COLOUR = "#1f77b4"
GIVE_UP_COLOUR = "#8c8c8c"
GIVE_UP_LABEL = {"vi": "hết lượt hỏi lại"}  # other languages: "give up"

_TEMPLATE_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

_CONDITION_BREAK = re.compile(r"(?<=\S) (?=(?:or|and) )")

_STYLE = {
    "start": {"fillcolor": "#d9f2d9", "color": "#2ca02c", "penwidth": "2.5"},
    "question": {"fillcolor": "#fff7d6"},
    "say": {"fillcolor": "#ffffff"},
    "hangup": {"fillcolor": "#eeeeee", "style": "rounded,filled", "peripheries": "2"},
}


class DrawError(Exception):
    """The flow cannot be drawn (unknown language, Graphviz missing or failing, unwritable output)."""


def flow_to_dot(flow: Flow, language: str | None = None) -> str:
    """The flow as Graphviz DOT source; prompts are quoted in `language` (default: the flow's first)."""
    return str(_graph(flow, _language(flow, language)).source)


def draw_flow(flow: Flow, output: Path, language: str | None = None) -> Path:
    """Render the flow to `output`: PNG if it ends in .png, SVG otherwise.  Returns `output`."""
    output = Path(output)
    graph = _graph(flow, _language(flow, language))
    fmt = "png" if output.suffix.lower() == ".png" else "svg"
    if fmt == "png":
        graph.attr(dpi="96")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise DrawError(
            "Graphviz's `dot` program was not found: install the `graphviz` system package "
            "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz)"
        ) from None
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode("utf-8", "replace").strip()
        raise DrawError(f"Graphviz's `dot` failed to draw flow '{flow.name}': {detail or error}") from None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as error:
        raise DrawError(f"cannot write {output}: {error}") from None
    return output


# --- building the graph ------------------------------------------------------------------
def _language(flow: Flow, language: str | None) -> str:
    languages = flow.spec.languages
    if language is None:
        return languages[0]
    if language not in languages:
        raise DrawError(f"flow '{flow.name}' has no language '{language}' (it has: {', '.join(languages)})")
    return language


def _graph(flow: Flow, language: str) -> graphviz.Digraph:
    spec = flow.spec
    graph = graphviz.Digraph(name=spec.name, engine="dot")
    graph.attr(
        label=_label([spec.title, f"{spec.name} · {spec.direction} · {language}"]),
        labelloc="t", fontname=FONT, fontsize="18", rankdir="TB", nodesep="0.35", ranksep="0.45",
        newrank="true", bgcolor="white",
    )
    graph.attr("node", shape="box", style="filled", fontname=FONT, fontsize="11", margin="0.15,0.06")
    graph.attr("edge", fontname=FONT, fontsize="10", arrowsize="0.7")

    for node_id, node in spec.nodes.items():
        kind = "start" if node_id == spec.start else "hangup" if node.hangup else "question" if node.is_question else "say"
        style = dict(_STYLE[kind])
        if kind == "start" and node.hangup:
            style.update(style="rounded,filled", peripheries="2")
        graph.node(node_id, _label(_node_lines(node_id, node, language, start=node_id == spec.start)), **style)

    give_up_label = GIVE_UP_LABEL.get(language, "give up")
    for node_id, node in spec.nodes.items():
        for target, label in _flow_edges(node):
            graph.edge(node_id, target, label=_label(_wrap_condition(label, CONDITION_WRAP)) if label else None)
        give_up = node.give_up or spec.defaults.give_up
        if node.is_question and give_up:
            graph.edge(node_id, give_up, label=_label([give_up_label]), style="dashed",
                       color=GIVE_UP_COLOUR, fontcolor=GIVE_UP_COLOUR, fontsize="9", weight="0",
                       samehead="give_up")

    if spec.escalations:
        _escalations(graph, flow, language)
    return graph


def _node_lines(node_id: str, node: Node, language: str, start: bool) -> list[str]:
    lines = [f"▶ {node_id}" if start else node_id]
    prompt = _prompt(node, language)
    if prompt:
        lines += _wrap(prompt, WRAP)
    if node.is_question:
        lines.append(_input_kind(node))
    if node.save:
        lines.append(f"✎ {node.save}")
    if node.hangup:
        lines.append("⏎ hang up")
    return lines


def _prompt(node: Node, language: str) -> str:
    text = (node.say or {}).get(language)
    audio = (node.play or {}).get(language)
    if not text and audio:
        text = f"♪ {audio}"  # recorded audio only: show the file
    if not text:
        return ""
    text = _TEMPLATE_FIELD.sub(r"{{\1}}", " ".join(text.split()))  # keep `{{ name }}` in one piece
    if len(text) > PROMPT_CHARS:
        text = text[:PROMPT_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return f"“{text}”"


def _input_kind(node: Node) -> str:
    if node.keys is not None:
        choices = [key if choice.value is None else f"{key} {_value(choice.value)}" for key, choice in node.keys.items()]
        return "keys: " + " · ".join(choices)
    if node.number is not None:
        number = node.number
        digits = (f"{number.max_digits}" if number.min_digits == number.max_digits
                  else f"{number.min_digits}–{number.max_digits}")
        parts = [f"number {digits} digit{'s' if number.max_digits > 1 else ''} #"]
        if number.decimals:
            parts.append(f"{number.decimals} decimal{'s' if number.decimals > 1 else ''}")
        if number.min is not None or number.max is not None:
            parts.append(f"{_value(number.min) if number.min is not None else '…'}–"
                         f"{_value(number.max) if number.max is not None else '…'}")
        return ", ".join(parts)
    assert node.date is not None
    date = node.date
    span = f"≤{date.max_days_ago} days ago"
    if date.max_days_ahead:
        span += f", ≤{date.max_days_ahead} ahead"
    return f"date DDMM # ({span})"


def _flow_edges(node: Node) -> Iterable[tuple[str, str]]:
    """(target, label) for each key with its own `next` and each `next` branch."""
    key_edges = [(choice.next, _key_label(key, choice.value)) for key, choice in (node.keys or {}).items() if choice.next]
    branches = node.next or []
    conditional = any(branch.when for branch in branches)
    yield from key_edges
    for branch in branches:
        if branch.when:
            yield branch.go, f"if {' '.join(branch.when.split())}"
        else:
            yield branch.go, "otherwise" if (conditional or key_edges) else ""


def _key_label(key: str, value: object) -> str:
    return key if value is None else f"{key}: {_value(value)}"


def _value(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _escalations(graph: graphviz.Digraph, flow: Flow, language: str) -> None:
    """A cluster with one box per rule, in the order they are checked, fed by the answers they use."""
    spec = flow.spec
    savers: dict[str, list[str]] = {}
    for node_id, node in spec.nodes.items():
        if node.save and node.is_question:
            savers.setdefault(node.save, []).append(node_id)

    rule_ids = [f"escalation-{index + 1}" for index in range(len(spec.escalations))]
    with graph.subgraph(name="cluster_escalations") as cluster:
        cluster.attr(label=_label(["Escalations (checked top to bottom)"]), fontsize="13", style="rounded,dashed",
                     color="#999999", margin="12")
        for index, rule in enumerate(spec.escalations):
            colour = LEVEL_COLOURS.get(rule.level, OTHER_LEVEL_COLOUR)
            lines = [f"{index + 1}. {rule.level.upper()} · {flow.rule_name(index)}"]
            lines += _wrap_condition(f"when {' '.join(rule.when.split())}", CONDITION_WRAP)
            if rule.unless:
                lines.append(f"unless {', '.join(rule.unless)} already raised")
            reason = rule.reason.get(language) or rule.reason.get(spec.languages[0])
            if reason:
                lines += _wrap(f"“{' '.join(reason.split())}”", CONDITION_WRAP)
            lines.append("→ " + (", ".join(rule.do) or "record only"))
            cluster.node(rule_ids[index], _label(lines), shape="box", style="rounded,filled,bold",
                         color=colour, fillcolor="white", fontcolor="#222222")
        for upper, lower in zip(rule_ids, rule_ids[1:]):
            cluster.edge(upper, lower, style="invis")

    for index, rule in enumerate(spec.escalations):
        colour = LEVEL_COLOURS.get(rule.level, OTHER_LEVEL_COLOUR)
        try:
            used = names_in(rule.when)
        except ExpressionError:  # a loaded flow has valid rules; draw what we can anyway
            used = frozenset()
        sources = sorted({node_id for name in used for node_id in savers.get(name, [])},
                         key=list(spec.nodes).index)
        for node_id in sources:
            graph.edge(node_id, rule_ids[index], style="dotted", color=colour, penwidth="1.3",
                       arrowhead="vee", weight="0")


# --- labels ------------------------------------------------------------------------------
def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False) or [text]


def _wrap_condition(text: str, width: int) -> list[str]:
    """Wrap an expression before its `or` / `and`, so no comparison is cut in two."""
    lines: list[str] = []
    for chunk in _CONDITION_BREAK.split(text):
        if lines and len(lines[-1]) + 1 + len(chunk) <= width:
            lines[-1] += " " + chunk
        else:
            lines += _wrap(chunk, width)
    return lines


def _label(lines: list[str]) -> str:
    r"""Lines joined by DOT's `\n`; each line escaped so backslashes and `<...>` in flow text stay literal."""
    return str(graphviz.nohtml("\\n".join(graphviz.escape(line) for line in lines)))
