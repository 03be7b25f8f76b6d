"""Load a flow file once: YAML -> typed objects -> semantic checks -> `Flow`.

Loading never stops at the first problem: it collects them all, so an
officer fixing a file sees every mistake in one run.
"""

from __future__ import annotations

import difflib
import hashlib
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from robocall.flows.problems import FlowError, Problem
from robocall.flows.schema import FlowFile, Rule
from robocall.flows.validate import check_flow, saved_answers
from robocall.flows.vocabulary import Vocabulary
from robocall.flows.yaml_source import MAX_FILE_BYTES, SourceMap, load_yaml, too_large
from robocall.text import bilingual

Loc = tuple[int | str, ...]  # where in the flow file, as pydantic reports it


@dataclass(frozen=True)
class Flow:
    """A validated flow, ready for the engine.  Immutable and safe to share between calls."""

    spec: FlowFile
    file: str
    version: str  # hash of the file's text: a session records which version it ran
    source: SourceMap = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def answers(self) -> frozenset[str]:
        """Every answer name a node saves (read on every prompt and rule: computed once)."""
        return frozenset(saved_answers(self.spec))

    def rule_name(self, index: int) -> str:
        rule: Rule = self.spec.escalations[index]
        return rule.name or f"{rule.level}_{index + 1}"


def parse_flow(text: str, file: str, audio_root: Path | None = None) -> Flow:
    """Build a Flow from YAML text; raises FlowError listing every problem."""
    loaded = load_yaml(text, file)
    if loaded.data is None and loaded.problems:
        raise FlowError(loaded.problems)
    problems = list(loaded.problems)
    if not isinstance(loaded.data, dict):  # `null`, `~`, a list, a lone text
        raise FlowError(problems + [Problem(file, 1, bilingual(
            "tệp kịch bản phải là một bảng khóa: giá trị (name:, title:, nodes:, ...)",
            "a flow file must be a mapping (name:, title:, nodes:, ...)"))])
    try:
        spec = FlowFile.model_validate(loaded.data)
    except ValidationError as error:
        raise FlowError(problems + _schema_problems(error, loaded.source)) from None
    problems += check_flow(spec, loaded.source, audio_root)
    if problems:
        raise FlowError(problems)
    return Flow(spec=spec, file=file, version=hashlib.sha256(text.encode()).hexdigest()[:16], source=loaded.source)


def load_flow(path: str | Path, audio_root: Path | None = None) -> Flow:
    path = Path(path)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a pipe or /dev/zero named *.yaml would hang or fill the memory
            raise FlowError([Problem(str(path), 1, bilingual("không phải một tệp thường", "not a regular file"))])
        if status.st_size > MAX_FILE_BYTES:  # refused before reading: a huge file must not fill the memory
            raise FlowError([Problem(str(path), 1, too_large(status.st_size))])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FlowError([Problem(str(path), 1, bilingual(f"không đọc được tệp: {error}",
                                                         f"cannot read the file: {error}"))]) from None
    return parse_flow(text, str(path), audio_root)


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their *.yaml / *.yml files, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            found.append(path)
    return found


def vocabulary_of(flows: Iterable[Flow]) -> Vocabulary:
    """The display names of flows that loaded together (load_flows refused any whose names clash)."""
    vocabulary = Vocabulary()
    for flow in flows:
        vocabulary.add(flow.spec, flow.source)
    return vocabulary


def load_flows(paths: Iterable[str | Path], audio_root: Path | None = None) -> tuple[dict[str, Flow], list[Problem]]:
    """Load every flow it can; broken ones are left out and their problems returned.  A flow that
    names an answer, a value or a level differently from a flow loaded before it (in file order) is
    refused too: staff must read one name per key."""
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    vocabulary = Vocabulary()
    for path in flow_files(paths):
        try:
            flow = load_flow(path, audio_root)
        except FlowError as error:
            problems += error.problems
            continue
        except Exception as error:  # noqa: BLE001 - one bad file must never stop the others loading
            # Every known way a file can fail is a FlowError; this is the last guard for a process
            # that serves many flows (the tests assert it is never reached).
            problems.append(Problem(str(path), 1, bilingual(
                f"không đọc được tệp (lỗi nội bộ {type(error).__name__}; hãy báo cho nhóm kỹ thuật)",
                f"cannot load the file (internal error {type(error).__name__}; please report it)")))
            continue
        if flow.name in flows:
            problems.append(Problem(str(path), flow.source.line_of(("name",)),
                                    bilingual(f"tên kịch bản '{flow.name}' đã được dùng ở {flows[flow.name].file}",
                                              f"flow name '{flow.name}' is already used by {flows[flow.name].file}")))
            continue
        clashes = vocabulary.add(flow.spec, flow.source)
        if clashes:
            problems += clashes
            continue
        flows[flow.name] = flow
    return flows, problems


# --- turning pydantic's errors into an officer's words --------------------------------------
def _schema_problems(error: ValidationError, source: SourceMap) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        problems.append(source.problem(loc, _describe(item, loc)))
    return problems


def _describe(item: ErrorDetails, loc: Loc) -> str:
    kind = item["type"]
    where, where_vi = (_where(loc[:-1]), _where_vi(loc[:-1])) if loc else ("the file", "tệp")
    if kind == "extra_forbidden":
        key = loc[-1]
        close = _suggest(str(key), _allowed_keys(loc[:-1]))
        hint, hint_vi = (f" (did you mean '{close}'?)", f" (có phải '{close}'?)") if close else ("", "")
        return bilingual(f"khóa không rõ '{key}' trong {where_vi}{hint_vi}", f"unknown key '{key}' in {where}{hint}")
    if kind == "missing":
        return bilingual(f"thiếu khóa '{loc[-1]}' trong {where_vi}", f"missing key '{loc[-1]}' in {where}")
    if kind == "string_type" and item.get("input") is None:
        # `{vi: Xin lỗi, chưa nghe thấy}`: YAML splits at the comma and leaves an empty text.
        return bilingual(
            f"{_where_vi(loc[:-1])}: '{loc[-1]}' không có văn bản (trong {{ }}, đặt văn bản có dấu phẩy trong ngoặc kép)",
            f"{_where(loc[:-1])}: '{loc[-1]}' has no text (inside {{ }}, put text containing a comma in quotes)")
    if kind == "finite_number":
        return f"{_where(loc)}: " + bilingual("phải là một số hữu hạn (không được .nan hay .inf)",
                                             "must be a finite number (not .nan or .inf)")
    if kind == "string_pattern_mismatch":
        return bilingual(
            f"{_where_vi(loc)} '{item.get('input')}' chỉ được gồm chữ thường, số và _ (không dấu, không khoảng trắng)",
            f"{_where(loc)} '{item.get('input')}' must be lower-case letters, digits and _ (no accents or spaces)")
    said = _pydantic_vi(item)
    if said is None:  # a rare type: pydantic's English alone
        return f"{_where(loc)}: {item['msg']}"
    return bilingual(f"{_where_vi(loc)}: {said}", f"{_where(loc)}: {item['msg']}")


# pydantic's error types an officer meets (a word for a number, a typo in a choice...), in Vietnamese;
# the English beside it is pydantic's own message.  ``{name}`` is filled from the error's ctx.
_PYDANTIC_VI = {
    "int_type": "phải là một số nguyên",
    "int_parsing": "phải là một số nguyên, không đọc được thành số",
    "int_from_float": "phải là một số nguyên, không có phần thập phân",
    "float_type": "phải là một số",
    "float_parsing": "phải là một số, không đọc được thành số",
    "bool_type": "phải là có/không (true/false)",
    "bool_parsing": "phải là có/không (true/false), không hiểu giá trị này",
    "string_type": "phải là văn bản",
    "dict_type": "phải là một bảng khóa: giá trị",
    "list_type": "phải là một danh sách",
    "model_type": "phải là một bảng khóa: giá trị",
    "model_attributes_type": "phải là một bảng khóa: giá trị",
    "literal_error": "phải là một trong: {expected}",
    "enum": "phải là một trong: {expected}",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "greater_than": "phải lớn hơn {gt}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "less_than": "phải nhỏ hơn {lt}",
    "too_short": "cần ít nhất {min_length} phần tử, đang có {actual_length}",
    "too_long": "có tối đa {max_length} phần tử, đang có {actual_length}",
    "string_too_short": "cần ít nhất {min_length} ký tự",
    "string_too_long": "có tối đa {max_length} ký tự",
}


def _pydantic_vi(item: ErrorDetails) -> str | None:
    template = _PYDANTIC_VI.get(item["type"])
    if template is None:
        return None
    context = {key: str(value).replace(" or ", " hoặc ") for key, value in (item.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):  # a ctx without the value the words need: the words alone
        return template.split(":")[0].split("{")[0].rstrip()


def _where(loc: Loc, words: tuple[str, str, str] = ("the flow", "node", "escalation rule")) -> str:
    """Where `loc` points, in words: the flow, a node, an escalation rule (keys and node names stay as
    written in the file)."""
    flow, node, rule = words
    if not loc:
        return flow
    rest = ".".join(str(x) for x in loc[2:])
    if loc[0] == "nodes" and len(loc) >= 2:
        return f"{node} '{loc[1]}'" + (f" ({rest})" if rest else "")
    if loc[0] == "escalations" and len(loc) >= 2 and isinstance(loc[1], int):
        return f"{rule} {loc[1] + 1}" + (f" ({rest})" if rest else "")
    return ".".join(str(x) for x in loc)


def _where_vi(loc: Loc) -> str:
    return _where(loc, ("kịch bản", "nút", "quy tắc báo động"))


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the model found at `loc`, for 'did you mean' hints."""
    model: type[BaseModel] | None = FlowFile
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(str(part))
        if info is None:  # a dict key such as a node id or keypad key
            continue
        model = _inner_model(info.annotation)
    names = []
    for name, info in (model.model_fields.items() if model else []):
        names.append(info.alias or name)
    return names


def _inner_model(annotation: object) -> type[BaseModel] | None:
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            return current
        stack += list(getattr(current, "__args__", ()))
    return None


def _suggest(key: str, allowed: list[str]) -> str | None:
    """The allowed key closest to a misspelt one, if any is close."""
    close = difflib.get_close_matches(key, allowed, n=1)
    return close[0] if close else None
