"""Checks that need the whole flow: targets, reachability, dead ends, answers, languages, keys.

Every check reports through the source map so each message names its line.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path as FsPath

from robocall.flows.expressions import ExpressionError, names_in
from robocall.flows.problems import Problem
from robocall.flows.schema import KEYPAD, FlowFile, Label, Node, Text
from robocall.flows.templates import CONTACT_FIELDS, TemplateError, fields_in, problems_in
from robocall.flows.vocabulary import Vocabulary
from robocall.flows.yaml_source import Path, SourceMap
from robocall.text import bilingual

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_LEVEL_CHARS = 32
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


def _control_character(text: str) -> str | None:
    """The first control character in `text` (a YAML escape such as "\\x07" lets one in), if any."""
    for character in text:
        if character not in "\t\n\r" and unicodedata.category(character) == "Cc":
            return f"U+{ord(character):04X}"
    return None


def _undeclared(language: str) -> str:
    return bilingual(f"ngôn ngữ '{language}' chưa được khai báo trong languages",
                     f"language '{language}' is not declared in languages")


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
            self.report(("start",), bilingual(f"nút bắt đầu '{flow.start}' không tồn tại",
                                                f"start node '{flow.start}' does not exist"))
        if flow.defaults.give_up and flow.defaults.give_up not in flow.nodes:
            self.report(("defaults", "give_up"), bilingual(
                f"nút give_up '{flow.defaults.give_up}' không tồn tại",
                f"give_up node '{flow.defaults.give_up}' does not exist"))
        self.check_text(("defaults", "no_input"), flow.defaults.no_input)
        self.check_text(("defaults", "invalid"), flow.defaults.invalid)
        for node_id, node in flow.nodes.items():
            self.check_node(node_id, node)
        self.check_reachable()
        self.check_rules()
        self.check_voicemail()
        self.check_labels()

    # --- nodes -------------------------------------------------------------------------
    def check_node(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id)
        if not _NAME.match(node_id):
            self.report(here, bilingual(
                f"tên nút '{node_id}' chỉ được gồm chữ thường, số và _ (không dấu, không khoảng trắng)",
                f"node name '{node_id}' must be lower-case letters, digits and _ (no accents or spaces)"))
        inputs = [kind for kind in ("keys", "number", "date") if getattr(node, kind) is not None]
        if len(inputs) > 1:
            self.report(here, bilingual(f"nút '{node_id}' hỏi bằng cả {' và '.join(inputs)}; mỗi nút chỉ dùng một",
                                        f"node '{node_id}' asks with both {' and '.join(inputs)}; use one per node"))
        for path, target in edges(node, self.flow.defaults.give_up):
            if target not in self.flow.nodes:
                self.report(here + path, bilingual(f"nút '{node_id}' đi tới '{target}', nút này không tồn tại",
                                                   f"node '{node_id}' goes to '{target}', which does not exist"))
        self.check_prompt(node_id, node)
        self.check_text(here + ("no_input",), node.no_input)
        self.check_text(here + ("invalid",), node.invalid)
        if node.save is not None:
            if not node.is_question:
                self.report(here + ("save",), bilingual(f"nút '{node_id}' lưu câu trả lời nhưng không hỏi gì",
                                                        f"node '{node_id}' saves an answer but asks no question"))
            elif not _NAME.match(node.save):
                self.report(here + ("save",), bilingual(
                    f"tên câu trả lời '{node.save}' chỉ được gồm chữ thường, số và _",
                    f"answer name '{node.save}' must be lower-case letters, digits and _"))
        if node.keys is not None:
            self.check_keys(node_id, node)
        if node.number is not None:
            number = node.number
            if number.min_digits > number.max_digits:
                self.report(here + ("number",), bilingual("min_digits lớn hơn max_digits",
                                                          "min_digits is larger than max_digits"))
            if number.min is not None and number.max is not None and number.min > number.max:
                self.report(here + ("number",), bilingual(f"min {number.min} lớn hơn max {number.max}",
                                                          f"min {number.min} is larger than max {number.max}"))
            largest = (10**number.max_digits - 1) / 10**number.decimals
            if number.min is not None and number.min > largest:
                # No answer could ever be accepted: every caller would end at the give-up.
                self.report(here + ("number",), bilingual(
                    f"không thể nhập được: {number.max_digits} chữ số cho tối đa {largest:g}, nhỏ hơn min {number.min:g}",
                    f"no answer is possible: {number.max_digits} digits give at most {largest:g}, "
                    f"less than min {number.min:g}"))
        self.check_ending(node_id, node)
        self.check_branches(node_id, node)

    def check_prompt(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id)
        self.check_text(here + ("say",), node.say, required=False)
        for language, file in (node.play or {}).items():
            if language not in self.flow.languages:
                self.report(here + ("play", language), _undeclared(language))
            elif self.audio_root is not None and not (self.audio_root / file).is_file():
                if not (node.say and node.say.get(language)):
                    self.report(here + ("play", language), bilingual(
                        f"không tìm thấy tệp âm thanh '{file}' và không có văn bản để đọc thay",
                        f"audio file '{file}' not found and no text to speak instead"))
        if node.say is None and node.play is None:
            if node.is_question or node.hangup:
                self.report(here, bilingual(f"nút '{node_id}' không có gì để nói",
                                            f"node '{node_id}' has nothing to say"))
            return
        for language in self.flow.languages:
            spoken = (node.say or {}).get(language) or (node.play or {}).get(language)
            if not spoken:
                self.report(here + ("say",), bilingual(f"nút '{node_id}' không có câu nói bằng ngôn ngữ '{language}'",
                                                       f"node '{node_id}' has no prompt in language '{language}'"))

    def check_voicemail(self) -> None:
        """A message for answering machines: outbound flows only, every language, short, and without
        fields: whoever plays the box hears it, so it names nobody and says nothing about health."""
        if self.flow.voicemail is None:
            return
        if self.flow.direction == "inbound":
            self.report(("voicemail",), bilingual(
                "voicemail chỉ dành cho cuộc gọi đi: kịch bản gọi đến không gọi cho ai",
                "voicemail is for outbound calls: an inbound flow calls nobody"))
            return
        self.check_text(("voicemail",), self.flow.voicemail)
        for language, text in self.flow.voicemail.items():
            try:
                used = fields_in(text)
            except TemplateError:
                continue  # reported by check_text
            if used:
                shown = ", ".join(f"{{{{ {f} }}}}" for f in sorted(used))
                self.report(("voicemail", language), bilingual(
                    f"voicemail không được dùng trường ({shown}): ai mở hộp thư cũng nghe được",
                    f"a voicemail may not use fields ({shown}): anyone who plays the box hears it"))
            if len(text) > VOICEMAIL_MAX_CHARS:
                self.report(("voicemail", language), bilingual(
                    f"voicemail dài {len(text)} ký tự; hãy giữ dưới {VOICEMAIL_MAX_CHARS} (khoảng 20 giây):"
                    " máy trả lời có thể cắt lời nhắn dài",
                    f"voicemail is {len(text)} characters; keep it under "
                    f"{VOICEMAIL_MAX_CHARS} (about 20 seconds): a machine may cut a long one"))

    def check_text(self, path: Path, text: Text | None, required: bool = True) -> None:
        if text is None:
            return
        for language, value in text.items():
            if language not in self.flow.languages:
                self.report(path + (language,), _undeclared(language))
                continue
            control = _control_character(value)
            if control:
                self.report(path + (language,), bilingual(f"văn bản có ký tự điều khiển {control}",
                                                          f"the text holds the control character {control}"))
                continue
            template_problems = problems_in(value)
            for message in template_problems:
                self.report(path + (language,), message)
            if template_problems:
                continue
            try:
                used = fields_in(value)
            except TemplateError as error:
                self.report(path + (language,), str(error))
                continue
            for field in sorted(used - CONTACT_FIELDS - self.answers):
                self.report(path + (language,), bilingual(f"câu nói dùng trường không rõ '{{{{ {field} }}}}'",
                                                          f"unknown field '{{{{ {field} }}}}' in the prompt"))
            if self.flow.direction == "inbound":
                for field in sorted(used & (CONTACT_FIELDS - {"today"})):
                    self.report(path + (language,), bilingual(
                        f"'{{{{ {field} }}}}' để trống khi có cuộc gọi đến: người gọi không phải liên hệ đã biết",
                        f"'{{{{ {field} }}}}' is empty on an inbound call: the caller is not a known contact"))
        for language, value in text.items():
            if value and not value.strip():
                self.report(path + (language,), bilingual("văn bản chỉ có khoảng trắng", "the text is only blanks"))
        if required:
            for language in self.flow.languages:
                if not text.get(language):
                    self.report(path, bilingual(f"thiếu văn bản bằng ngôn ngữ '{language}'",
                                                f"missing text in language '{language}'"))

    def check_keys(self, node_id: str, node: Node) -> None:
        here: Path = ("nodes", node_id, "keys")
        assert node.keys is not None
        if not node.keys:
            self.report(here, bilingual(f"nút '{node_id}' có danh sách phím trống",
                                        f"node '{node_id}' has an empty key map"))
        for key, choice in node.keys.items():
            if key not in KEYPAD:
                self.report(here + (key,), bilingual(f"'{key}' không phải phím trên bàn phím điện thoại (dùng 0-9, * hoặc #)",
                                                     f"'{key}' is not a key on a phone keypad (use 0-9, * or #)"))
            if choice.next is None and not node.next:
                self.report(here + (key,), bilingual(f"phím '{key}' của nút '{node_id}' không dẫn tới đâu: thêm next",
                                                     f"key '{key}' of node '{node_id}' leads nowhere: add next"))
            value = choice.value
            if not (value is None or isinstance(value, (bool, str, int))
                    or (isinstance(value, float) and math.isfinite(value))):
                self.report(here + (key,), bilingual(
                    f"giá trị của phím '{key}' phải là có/không, văn bản hoặc một số hữu hạn",
                    f"the value of key '{key}' must be yes/no, text or a finite number"))

    def check_ending(self, node_id: str, node: Node) -> None:
        if node.hangup:
            if node.next or node.is_question:
                self.report(("nodes", node_id, "hangup"), bilingual(
                    f"nút '{node_id}' gác máy nên không thể hỏi tiếp hay đi tiếp",
                    f"node '{node_id}' hangs up, so it cannot also ask or go on"))
            return
        if node.keys is not None:
            return  # keys without a target are reported by check_keys
        if node.is_question:
            if not node.next:
                kind, kind_vi = ("a number", "một số") if node.number is not None else ("a date", "một ngày")
                self.report(("nodes", node_id), bilingual(f"nút '{node_id}' hỏi {kind_vi} nhưng không có next",
                                                          f"node '{node_id}' asks for {kind} but has no next"))
            return
        if not node.next:
            self.report(("nodes", node_id), bilingual(f"ngõ cụt: nút '{node_id}' không có next và không gác máy",
                                                      f"dead end: node '{node_id}' has no next and does not hang up"))

    def check_branches(self, node_id: str, node: Node) -> None:
        branches = node.next or []
        for index, branch in enumerate(branches):
            path: Path = ("nodes", node_id, "next", index)
            if branch.when is None:
                if index != len(branches) - 1:
                    self.report(path, bilingual(
                        "nhánh không có 'if' phải đứng cuối (các nhánh sau nó không bao giờ chạy)",
                        "a branch without 'if' must come last (the ones after it could never run)"))
                continue
            self.check_expression(path + ("if",), branch.when, what=(f"nút '{node_id}'", f"node '{node_id}'"))
        if branches and branches[-1].when is not None:
            self.report(("nodes", node_id, "next"), bilingual(
                "nhánh cuối cùng không cần 'if' (đi đâu trong các trường hợp còn lại)",
                "the last branch needs no 'if' (where to go otherwise)"))

    def check_expression(self, path: Path, expression: str, what: tuple[str, str]) -> None:
        """`what` names the node or rule, in Vietnamese and in English."""
        try:
            names = names_in(expression)
        except ExpressionError as error:
            self.report(path, str(error))
            return
        for name in sorted(names - self.answers - CONTACT_FIELDS):
            self.report(path, bilingual(f"{what[0]} dùng câu trả lời '{name}' mà không nút nào hỏi (save: {name})",
                                        f"{what[1]} uses answer '{name}', which no node asks (save: {name})"))

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
                self.report(("nodes", node_id), bilingual(
                    f"nút '{node_id}' không bao giờ tới được từ '{flow.start}'",
                    f"node '{node_id}' can never be reached from '{flow.start}'"))
        self.check_exits(seen)
        for node_id, node in flow.nodes.items():
            if node.is_question and not (node.give_up or flow.defaults.give_up):
                self.report(("nodes", node_id), bilingual(
                    f"nút '{node_id}' không có give_up (đặt ở đây hoặc trong defaults)",
                    f"node '{node_id}' has no give_up (set one here or in defaults)"))

    def check_exits(self, reachable: set[str]) -> None:
        """Every reachable node must have some way to a hang-up: a loop with no way out would only end
        at max_steps, on a live call.  One problem per closed group of nodes, at its first node."""
        flow = self.flow
        can_end = self._can_end(lambda node: [target for _, target in edges(node, flow.defaults.give_up)])
        stuck = [node_id for node_id in flow.nodes if node_id in reachable and node_id not in can_end]
        self.report_groups(stuck, lambda names: bilingual(
            f"vòng lặp không có lối ra: từ {names} không bao giờ tới được nút gác máy (hangup: true)",
            f"loop with no way out: from {names} no node that hangs up can be reached"))
        # A silent line (a phone left off the hook, a voicemail) follows only the give-ups of questions:
        # that path must end too, or the call runs to max_steps.
        # (A question with no give_up is reported already: it is not judged here.)
        silent_end = self._can_end(lambda node: [target for path, target in edges(node, flow.defaults.give_up)
                                                 if not node.is_question or path == ("give_up",)],
                                   lambda node: node.is_question and not (node.give_up or flow.defaults.give_up))
        silent_stuck = [node_id for node_id in flow.nodes  # (the stuck ones are reported once, above)
                        if node_id in reachable and node_id in can_end and node_id not in silent_end]
        self.report_groups(silent_stuck, lambda names: bilingual(
            f"người nghe im lặng thì cuộc gọi không bao giờ kết thúc: từ {names}, các give_up dẫn vòng lại",
            f"a silent caller is never let go: from {names} the give-ups lead round in a loop"))

    def _can_end(self, leads: Callable[[Node], list[str]],
                 also_end: Callable[[Node], bool] = lambda node: False) -> set[str]:
        """The nodes from which a hang-up (or a node `also_end` accepts) can be reached along `leads`."""
        before: dict[str, set[str]] = {node_id: set() for node_id in self.flow.nodes}
        for node_id, node in self.flow.nodes.items():
            for target in leads(node):
                if target in before:
                    before[target].add(node_id)
        can_end = {node_id for node_id, node in self.flow.nodes.items() if node.hangup or also_end(node)}
        todo = list(can_end)
        while todo:
            for earlier in before[todo.pop()]:
                if earlier not in can_end:
                    can_end.add(earlier)
                    todo.append(earlier)
        return can_end

    def report_groups(self, stuck: list[str], message: Callable[[str], str]) -> None:
        """One problem per group of `stuck` nodes linked together (either way), at its first node."""
        members = set(stuck)
        linked: dict[str, set[str]] = {node_id: set() for node_id in stuck}
        for node_id in stuck:
            for _, target in edges(self.flow.nodes[node_id], self.flow.defaults.give_up):
                if target in members:
                    linked[node_id].add(target)
                    linked[target].add(node_id)
        grouped: set[str] = set()
        for first in stuck:  # in file order
            if first in grouped:
                continue
            group = {first}
            todo = [first]
            while todo:
                for other in linked[todo.pop()] - group:
                    group.add(other)
                    todo.append(other)
            grouped |= group
            names = [node_id for node_id in stuck if node_id in group]
            shown = ", ".join(names[:10]) + (f" (+{len(names) - 10})" if len(names) > 10 else "")
            self.report(("nodes", first), message(shown))

    # --- display names ----------------------------------------------------------------
    def check_labels(self) -> None:
        """What staff read: every saved answer, every text value a saving node keeps and every level a
        rule raises has a name in both dashboard languages; one name per answer, value and level."""
        for node_id, node in self.flow.nodes.items():
            self.check_node_labels(node_id, node)
        self.check_level_labels()
        self.problems += Vocabulary().add(self.flow, self.source)

    def check_node_labels(self, node_id: str, node: Node) -> None:
        label_hint = "label: {vi: ..., en: ...}"
        here: Path = ("nodes", node_id)
        if node.save is None:
            if node.label is not None:
                self.report(here + ("label",), bilingual(
                    f"nút '{node_id}' có label nhưng không lưu câu trả lời nào (save)",
                    f"node '{node_id}' has a label but saves no answer (save)"))
        elif node.label is None and _NAME.match(node.save):  # (a bad name is reported already)
            self.report(here + ("save",), bilingual(
                f"câu trả lời '{node.save}' cần tên hiển thị cho cán bộ: thêm {label_hint} vào nút '{node_id}'",
                f"answer '{node.save}' needs a display name for staff: add {label_hint} to node '{node_id}'"))
        self.check_label(here + ("label",), node.label)
        for key, choice in (node.keys or {}).items():
            path = here + ("keys", key)
            shown = node.save is not None and isinstance(choice.value, str)
            if shown and choice.label is None:
                self.report(path, bilingual(
                    f"giá trị '{choice.value}' (phím '{key}') cần tên hiển thị cho cán bộ: "
                    f"viết {key}: {{value: {choice.value}, {label_hint}}}",
                    f"value '{choice.value}' (key '{key}') needs a display name for staff: "
                    f"write {key}: {{value: {choice.value}, {label_hint}}}"))
            elif choice.label is not None and not shown:
                # yes/no show as ✔/✘ and numbers as numbers; an unsaved key is never shown.
                self.report(path + ("label",), bilingual(
                    f"phím '{key}': label chỉ dành cho giá trị văn bản của một câu trả lời được lưu (save)",
                    f"key '{key}': a label is only for a text value of a saved answer (save)"))
            self.check_label(path + ("label",), choice.label)

    def check_level_labels(self) -> None:
        for level, label in self.flow.levels.items():
            if not _NAME.match(level):
                self.report(("levels", level), bilingual(
                    f"mức '{level}' chỉ được gồm chữ thường, số và _", f"level '{level}' must be lower-case letters, digits and _"))
            self.check_label(("levels", level), label)
        for index, rule in enumerate(self.flow.escalations):
            if _NAME.match(rule.level) and rule.level not in self.flow.levels:
                self.report(("escalations", index, "level"), bilingual(
                    f"mức '{rule.level}' cần tên hiển thị cho cán bộ: thêm vào khối levels: "
                    f"{rule.level}: {{vi: ..., en: ...}}",
                    f"level '{rule.level}' needs a display name for staff: add it to the levels: block as "
                    f"{rule.level}: {{vi: ..., en: ...}}"))

    def check_label(self, path: Path, label: Label | None) -> None:
        for language, text in (label.model_dump().items() if label else ()):
            control = _control_character(text)
            if not text.strip():
                self.report(path + (language,), bilingual("tên hiển thị để trống", "the display name is blank"))
            elif control:
                self.report(path + (language,), bilingual(f"tên hiển thị có ký tự điều khiển {control}",
                                                          f"the display name holds the control character {control}"))

    # --- escalation rules -------------------------------------------------------------
    def check_rules(self) -> None:
        levels_before: set[str] = set()
        names: set[str] = set()
        for index, rule in enumerate(self.flow.escalations):
            here: Path = ("escalations", index)
            name = rule.name or f"{rule.level}_{index + 1}"
            if name in names:
                self.report(here + ("name",), bilingual(f"hai quy tắc báo động cùng tên '{name}'",
                                                        f"two escalation rules are named '{name}'"))
            names.add(name)
            self.check_expression(here + ("when",), rule.when, what=(f"quy tắc '{name}'", f"rule '{name}'"))
            if not rule.level.strip():
                self.report(here + ("level",), bilingual(f"quy tắc '{name}' cần một mức (level) không để trống",
                                                         f"rule '{name}' needs a level that is not blank"))
            elif not _NAME.match(rule.level) or len(rule.level) > MAX_LEVEL_CHARS:
                # Levels are filtered on, indexed and configured (ESCALATION_SLA=urgent=30,...) by name.
                self.report(here + ("level",), bilingual(
                    f"mức '{rule.level}' chỉ được gồm chữ thường, số và _ (tối đa {MAX_LEVEL_CHARS} ký tự)",
                    f"level '{rule.level}' must be lower-case letters, digits and _ (at most {MAX_LEVEL_CHARS})"))
            for level in rule.unless:
                if level not in levels_before:
                    self.report(here + ("unless",), bilingual(
                        f"quy tắc '{name}' có unless '{level}' nhưng không quy tắc nào trước nó có mức này",
                        f"rule '{name}' is unless '{level}', but no earlier rule has that level"))
            self.check_text(here + ("reason",), rule.reason, required=False)
            if self.flow.languages[0] not in rule.reason:
                self.report(here + ("reason",), bilingual(
                    f"quy tắc '{name}' cần lý do (reason) bằng '{self.flow.languages[0]}'",
                    f"rule '{name}' needs a reason in '{self.flow.languages[0]}'"))
            if "sms" in rule.do:
                if rule.sms is None:
                    self.report(here + ("do",), bilingual(f"quy tắc '{name}' gửi SMS nhưng không có nội dung sms",
                                                          f"rule '{name}' sends an SMS but has no sms text"))
                else:
                    self.check_text(here + ("sms",), rule.sms)
            elif rule.sms is not None:
                self.report(here + ("sms",), bilingual(f"quy tắc '{name}' có nội dung sms nhưng 'sms' không có trong do",
                                                       f"rule '{name}' has sms text but 'sms' is not in do"))
            levels_before.add(rule.level)
