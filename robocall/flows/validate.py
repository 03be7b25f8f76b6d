"""Checks that need the whole flow: targets, reachability, dead ends, answers, languages, keys.

Every check reports through the source map so each message names its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path as FsPath

from robocall.flows.expressions import ExpressionError, names_in
from robocall.flows.problems import Problem
from robocall.flows.schema import KEYPAD, FlowFile, Node, Text
from robocall.flows.templates import CONTACT_FIELDS, TemplateError, fields_in
from robocall.flows.yaml_source import Path, SourceMap

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VOICEMAIL_MAX_CHARS = 300


def check_flow(flow: FlowFile, source: SourceMap, audio_root: FsPath | None = None) -> list[Problem]:
    checker = _Checker(flow, source, audio_root)
    checker.run()
    return checker.problems


def edges(node: Node, defaults_give_up: str | None) -> Iterator[tuple[Path, str]]:
    """Every node this node can lead to, with the path of the key that names it."""
    for index, branch in enumerate(node.next or []):
        yield ("next", index, "go"), branch.go
    for key, choice in (node.keys or {}).items():
        if choice.next:
            yield ("keys", key, "next"), choice.next
    if node.is_question:
        give_up = node.give_up or defaults_give_up
        if give_up:
            yield ("give_up",), give_up


def saved_answers(flow: FlowFile) -> set[str]:
    return {node.save for node in flow.nodes.values() if node.save}


class _Checker:
    def __init__(self, flow: FlowFile, source: SourceMap, audio_root: FsPath | None) -> None:
        self.flow = flow
        self.source = source
        self.audio_root = audio_root
        self.problems: list[Problem] = []
        self.answers = saved_answers(flow)

    def report(self, path: Path, message: str) -> None:
        self.problems.append(self.source.problem(path, message))

    def run(self) -> None:
        flow = self.flow
        if flow.start not in flow.nodes:
            self.report(("start",), f"start node '{flow.start}' does not exist")
        if flow.defaults.give_up and flow.defaults.give_up not in flow.nodes:
            self.report(("defaults", "give_up"), f"give_up node '{flow.defaults.give_up}' does not exist")
        self.check_text(("defaults", "no_input"), flow.defaults.no_input)
        self.check_text(("defaults", "invalid"), flow.defaults.invalid)
        for node_id, node in flow.nodes.items():
            self.check_node(node_id, node)
        self.check_reachable()
        self.check_rules()
        self.check_voicemail()

    # --- nodes -------------------------------------------------------------------------
    def check_node(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id)
        if not _NAME.match(node_id):
            self.report(here, f"node name '{node_id}' must be lower-case letters, digits and _ (no accents or spaces)")
        inputs = [kind for kind in ("keys", "number", "date") if getattr(node, kind) is not None]
        if len(inputs) > 1:
            self.report(here, f"node '{node_id}' asks with both {' and '.join(inputs)}; use one per node")
        for path, target in edges(node, self.flow.defaults.give_up):
            if target not in self.flow.nodes:
                self.report(here + path, f"node '{node_id}' goes to '{target}', which does not exist")
        self.check_prompt(node_id, node)
        self.check_text(here + ("no_input",), node.no_input)
        self.check_text(here + ("invalid",), node.invalid)
        if node.save is not None:
            if not node.is_question:
                self.report(here + ("save",), f"node '{node_id}' saves an answer but asks no question")
            elif not _NAME.match(node.save):
                self.report(here + ("save",), f"answer name '{node.save}' must be lower-case letters, digits and _")
        if node.keys is not None:
            self.check_keys(node_id, node)
        if node.number is not None:
            number = node.number
            if number.min_digits > number.max_digits:
                self.report(here + ("number",), "min_digits is larger than max_digits")
            if number.min is not None and number.max is not None and number.min > number.max:
                self.report(here + ("number",), f"min {number.min} is larger than max {number.max}")
        self.check_ending(node_id, node)
        self.check_branches(node_id, node)

    def check_prompt(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id)
        self.check_text(here + ("say",), node.say, required=False)
        for language, file in (node.play or {}).items():
            if language not in self.flow.languages:
                self.report(here + ("play", language), f"language '{language}' is not declared in languages")
            elif self.audio_root is not None and not (self.audio_root / file).is_file():
                if not (node.say and node.say.get(language)):
                    self.report(here + ("play", language), f"audio file '{file}' not found and no text to speak instead")
        if node.say is None and node.play is None:
            if node.is_question or node.hangup:
                self.report(here, f"node '{node_id}' has nothing to say")
            return
        for language in self.flow.languages:
            spoken = (node.say or {}).get(language) or (node.play or {}).get(language)
            if not spoken:
                self.report(here + ("say",), f"node '{node_id}' has no prompt in language '{language}'")

    def check_voicemail(self) -> None:
        """A message for answering machines: outbound flows only, every language, short, and without
        fields: whoever plays the box hears it, so it names nobody and says nothing about health."""
        if self.flow.voicemail is None:
            return
        if self.flow.direction == "inbound":
            self.report(("voicemail",), "voicemail is for outbound calls: an inbound flow calls nobody")
            return
        self.check_text(("voicemail",), self.flow.voicemail)
        for language, text in self.flow.voicemail.items():
            try:
                used = fields_in(text)
            except TemplateError:
                continue  # reported by check_text
            if used:
                self.report(("voicemail", language), "a voicemail may not use fields ("
                            + ", ".join(f"{{{{ {f} }}}}" for f in sorted(used))
                            + "): anyone who plays the box hears it")
            if len(text) > VOICEMAIL_MAX_CHARS:
                self.report(("voicemail", language), f"voicemail is {len(text)} characters; keep it under "
                            f"{VOICEMAIL_MAX_CHARS} (about 20 seconds): a machine may cut a long one")

    def check_text(self, path: Path, text: Text | None, required: bool = True) -> None:
        if text is None:
            return
        for language, value in text.items():
            if language not in self.flow.languages:
                self.report(path + (language,), f"language '{language}' is not declared in languages")
                continue
            try:
                used = fields_in(value)
            except TemplateError as error:
                self.report(path + (language,), str(error))
                continue
            for field in sorted(used - CONTACT_FIELDS - self.answers):
                self.report(path + (language,), f"unknown field '{{{{ {field} }}}}' in the prompt")
            if self.flow.direction == "inbound":
                for field in sorted(used & (CONTACT_FIELDS - {"today"})):
                    self.report(path + (language,), f"'{{{{ {field} }}}}' is empty on an inbound call: the caller "
                                "is not a known contact")
        if required:
            for language in self.flow.languages:
                if not text.get(language):
                    self.report(path, f"missing text in language '{language}'")

    def check_keys(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id, "keys")
        assert node.keys is not None
        if not node.keys:
            self.report(here, f"node '{node_id}' has an empty key map")
        for key, choice in node.keys.items():
            if key not in KEYPAD:
                self.report(here + (key,), f"'{key}' is not a key on a phone keypad (use 0-9, * or #)")
            if choice.next is None and not node.next:
                self.report(here + (key,), f"key '{key}' of node '{node_id}' leads nowhere: add next")

    def check_ending(self, node_id: str, node: Node) -> None:
        if node.hangup:
            if node.next or node.is_question:
                self.report(("nodes", node_id, "hangup"), f"node '{node_id}' hangs up, so it cannot also ask or go on")
            return
        if node.keys is not None:
            return  # keys without a target are reported by check_keys
        if node.is_question:
            if not node.next:
                kind = "a number" if node.number is not None else "a date"
                self.report(("nodes", node_id), f"node '{node_id}' asks for {kind} but has no next")
            return
        if not node.next:
            self.report(("nodes", node_id), f"dead end: node '{node_id}' has no next and does not hang up")

    def check_branches(self, node_id: str, node: Node) -> None:
        branches = node.next or []
        for index, branch in enumerate(branches):
            path: Path = ("nodes", node_id, "next", index)
            if branch.when is None:
                if index != len(branches) - 1:
                    self.report(path, "a branch without 'if' must come last (the ones after it could never run)")
                continue
            self.check_expression(path + ("if",), branch.when, what=f"node '{node_id}'")
        if branches and branches[-1].when is not None:
            self.report(("nodes", node_id, "next"), "the last branch needs no 'if' (where to go otherwise)")

    def check_expression(self, path: Path, expression: str, what: str) -> None:
        try:
            names = names_in(expression)
        except ExpressionError as error:
            self.report(path, str(error))
            return
        for name in sorted(names - self.answers - CONTACT_FIELDS):
            self.report(path, f"{what} uses answer '{name}', which no node asks (save: {name})")

    # --- reachability ------------------------------------------------------------------
    def check_reachable(self) -> None:
        flow = self.flow
        if flow.start not in flow.nodes:
            return
        seen = {flow.start}
        todo = [flow.start]
        while todo:
            node = flow.nodes[todo.pop()]
            for _, target in edges(node, flow.defaults.give_up):
                if target in flow.nodes and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for node_id in flow.nodes:
            if node_id not in seen:
                self.report(("nodes", node_id), f"node '{node_id}' can never be reached from '{flow.start}'")
        for node_id, node in flow.nodes.items():
            if node.is_question and not (node.give_up or flow.defaults.give_up):
                self.report(("nodes", node_id), f"node '{node_id}' has no give_up (set one here or in defaults)")

    # --- escalation rules -------------------------------------------------------------
    def check_rules(self) -> None:
        levels_before: set[str] = set()
        names: set[str] = set()
        for index, rule in enumerate(self.flow.escalations):
            here: Path = ("escalations", index)
            name = rule.name or f"{rule.level}_{index + 1}"
            if name in names:
                self.report(here + ("name",), f"two escalation rules are named '{name}'")
            names.add(name)
            self.check_expression(here + ("when",), rule.when, what=f"rule '{name}'")
            for level in rule.unless:
                if level not in levels_before:
                    self.report(here + ("unless",), f"rule '{name}' is unless '{level}', but no earlier rule has that level")
            self.check_text(here + ("reason",), rule.reason, required=False)
            if self.flow.languages[0] not in rule.reason:
                self.report(here + ("reason",), f"rule '{name}' needs a reason in '{self.flow.languages[0]}'")
            if "sms" in rule.do:
                if rule.sms is None:
                    self.report(here + ("do",), f"rule '{name}' sends an SMS but has no sms text")
                else:
                    self.check_text(here + ("sms",), rule.sms)
            elif rule.sms is not None:
                self.report(here + ("sms",), f"rule '{name}' has sms text but 'sms' is not in do")
            levels_before.add(rule.level)
