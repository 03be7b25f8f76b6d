"""Drawings of flows: every node, edge label and escalation rule reaches the picture.

Rendering needs Graphviz's `dot` program (Debian package `graphviz`, installed by `make setup`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

from robocall.flows import load_flow, parse_flow
from robocall.flows.draw import DrawError, draw_flow, flow_to_dot

F1_F2 = Path(__file__).parents[2] / "ivr_flows" / "f1_f2_followup.yaml"
SVG = "{http://www.w3.org/2000/svg}"

TINY = """
name: tiny
title: Tiny "quoted" <b>flow</b>
languages: [en, vi]
start: ask
defaults:
  give_up: bye
nodes:
  ask:
    say:
      en: Did you have a fever? Back\\slash, "quotes" and <b>tags</b> stay text. Press 1 for yes, 2 for no.
      vi: Quý vị có bị sốt không?
    keys:
      1: {value: yes, next: temp}
      2: {value: no, next: bye}
    save: fever
    label: {vi: Sốt, en: Fever}
  temp:
    say: {en: Your temperature, vi: Nhiệt độ}
    number: {min_digits: 3, max_digits: 3, decimals: 1}
    save: temperature
    label: {vi: Nhiệt độ, en: Temperature}
    next:
      - if: temperature >= 38.0
        go: bye
      - go: when
  when:
    say: {en: When did it start, vi: Từ ngày nào}
    date: {max_days_ago: 14}
    save: onset
    label: {vi: Ngày bắt đầu, en: Onset}
    next: bye
  bye:
    say: {en: Goodbye., vi: Xin chào.}
    hangup: true
levels:
  urgent: {vi: Khẩn cấp, en: Urgent}
  watch: {vi: Theo dõi thêm, en: Watch}
escalations:
  - level: urgent
    reason: {en: High fever}
    when: temperature >= 38.0
  - name: symptomatic
    level: watch
    reason: {en: Fever}
    when: fever
    unless: [urgent]
"""


def svg_titles(path: Path) -> tuple[set[str], set[str], str]:
    """(node titles, edge titles, all text) of a rendered SVG; parsing fails if it is not valid XML."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    nodes, edges = set(), set()
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        if title is None or title.text is None:
            continue
        if group.get("class") == "node":
            nodes.add(title.text)
        elif group.get("class") == "edge":
            edges.add(title.text)
    text = "\n".join(t.text or "" for t in root.iter(f"{SVG}text"))
    return nodes, edges, text


def test_shipped_flow_draws_every_node_edge_and_rule(tmp_path: Path) -> None:
    flow = load_flow(F1_F2)
    written = draw_flow(flow, tmp_path / "f1.svg")
    assert written == tmp_path / "f1.svg"
    nodes, edges, text = svg_titles(written)

    for node_id in flow.spec.nodes:
        assert node_id in nodes
    for index, rule in enumerate(flow.spec.escalations):
        assert f"escalation-{index + 1}" in nodes
        assert f"{index + 1}. {rule.level.upper()} · {flow.rule_name(index)}" in text

    assert "xac_nhan->gioi_thieu" in edges and "can_ho_tro->ket_thuc" in edges
    assert "1: yes" in text and "otherwise" in text
    assert "if shortness_of_breath" in text  # the branch condition of can_ho_tro, wrapped over lines
    assert "hết lượt hỏi lại" in text  # give_up, in the flow's first language
    assert "✎ temperature" in text and "number 3 digits #, 1 decimal, 34.0–43.0" in text
    assert "“Trong 24 giờ qua, quý vị có bị" in text  # Vietnamese prompt excerpt
    # An answer feeds each rule that reads it: temperature -> urgent, needs_help -> callback.
    assert "nhiet_do->escalation-1" in edges and "can_ho_tro->escalation-4" in edges
    assert "nhiet_do->escalation-2" not in edges


def test_png_and_other_language(tmp_path: Path) -> None:
    flow = load_flow(F1_F2)
    written = draw_flow(flow, tmp_path / "sub" / "f1.png", language="en")
    assert written.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "give up" in flow_to_dot(flow, language="en")
    assert "Hello, this is an automated" in flow_to_dot(flow, language="en")


def test_flow_to_dot_of_a_tiny_flow() -> None:
    flow = parse_flow(TINY, "tiny.yaml")
    dot = flow_to_dot(flow)
    assert dot.startswith("digraph tiny {")
    assert "rankdir=TB" in dot and '"DejaVu Sans"' in dot

    # Prompts are cut to about 60 characters, with the flow's text escaped, never read as DOT or HTML.
    assert r'▶ ask\n“Did you have a fever?\nBack\\slash, \"quotes\" and\n<b>tags</b>…”' in dot
    assert "Press 1" not in dot
    assert r"keys: 1 yes · 2 no\n✎ fever" in dot
    assert r"number 3 digits #, 1 decimal\n✎ temperature" in dot
    assert r"date DDMM # (≤14 days ago)\n✎ onset" in dot
    assert 'label="Tiny \\"quoted\\" <b>flow</b>' in dot

    assert 'ask -> temp [label="1: yes"]' in dot
    assert 'ask -> bye [label="2: no"]' in dot
    assert 'temp -> bye [label="if temperature >= 38.0"]' in dot
    assert "temp -> when [label=otherwise]" in dot
    assert "when -> bye\n" in dot  # a lone plain `next` needs no label
    assert "ask -> bye [label=\"give up\"" in dot and "style=dashed" in dot
    assert "bye -> " not in dot  # hangs up: no way out, and no give_up since it asks nothing

    # hang-up nodes are double rounded boxes; the start node stands out
    assert "peripheries=2" in dot and 'style="rounded,filled"' in dot
    assert 'ask [label="▶ ask' in dot and "penwidth=2.5" in dot

    # escalation rules: a cluster, in order, fed by the nodes saving the answers they read
    assert "subgraph cluster_escalations" in dot
    assert r"1. URGENT · urgent_1\nwhen temperature >= 38.0" in dot
    assert r"2. WATCH · symptomatic\nwhen fever\nunless urgent already raised" in dot
    assert 'temp -> "escalation-1" [arrowhead=vee color="#d62728"' in dot
    assert 'ask -> "escalation-2" [arrowhead=vee color="#ff7f0e"' in dot
    assert 'ask -> "escalation-1"' not in dot and 'when -> "escalation' not in dot


def test_vietnamese_labels_and_no_escalations() -> None:
    text = TINY.split("escalations:")[0]
    flow = parse_flow(text, "tiny.yaml")
    dot = flow_to_dot(flow, language="vi")
    assert "Quý vị có bị sốt không?" in dot and "hết lượt hỏi lại" in dot
    assert "cluster_escalations" not in dot


def test_unknown_language_is_refused(tmp_path: Path) -> None:
    flow = parse_flow(TINY, "tiny.yaml")
    with pytest.raises(DrawError, match="no language 'fr'.*en, vi"):
        draw_flow(flow, tmp_path / "tiny.svg", language="fr")


def test_missing_dot_says_to_install_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dot(*args: object, **kwargs: object) -> bytes:
        raise graphviz.ExecutableNotFound(("dot", "-Kdot", "-Tsvg"))

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    with pytest.raises(DrawError, match="install the `graphviz` system package"):
        draw_flow(parse_flow(TINY, "tiny.yaml"), tmp_path / "tiny.svg")
    assert not (tmp_path / "tiny.svg").exists()
