"""Read YAML while remembering where every key and list item came from.

PyYAML builds plain Python data but forgets line numbers, and it silently
keeps the last of two equal keys.  Flow authors need `file:line` in every
error, semantic ones included, so we compose the node tree once, build the
data from it with PyYAML's own constructor, and record the line of each path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from robocall.flows.problems import Problem
from robocall.text import bilingual

Path = tuple[str | int, ...]

# Bounds on what a flow file may make the loader do.  The shipped flows are ~14 KB, nest 6 deep
# and use no aliases; these leave ample room for real flows and none for a file that would take
# exponential time or memory (an alias bomb), blow the stack (deep nesting, a recursive alias) or
# make Python refuse a number (ints over 4300 digits raise ValueError).
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 40  # nested mappings and lists, aliases expanded
MAX_ALIAS_NODES = 5_000  # nodes that aliases may add once expanded, for the whole file
MAX_NUMBER_CHARS = 32


@dataclass
class SourceMap:
    """Maps a path into the loaded data (`("nodes", "sot", "keys", "1")`) to a 1-based line."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), message)


@dataclass
class LoadedYaml:
    data: Any
    source: SourceMap
    problems: list[Problem]


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse `text`; syntax errors and duplicate keys come back as problems, never raised."""
    source = SourceMap(file)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return LoadedYaml(None, source, [Problem(file, 1, too_large(size))])
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as error:  # a control character (\x07, \x00): checked before parsing
        return LoadedYaml(None, source, [_unprintable(error, text, file)])
    try:
        root = loader.get_single_node()
        if root is None:
            return LoadedYaml(None, source, [Problem(file, 1, bilingual("tệp trống", "the file is empty"))])
        problems: list[Problem] = []
        _record_lines(root, (), source, problems)
        data = _stringify_keys(loader.construct_document(root))
        return LoadedYaml(data, source, problems)
    except _LimitError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        return LoadedYaml(None, source, [Problem(file, line, str(error.problem))])
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = error.problem or str(error)
        hint_vi, hint_en = _hint(what)
        return LoadedYaml(None, source, [Problem(file, line, bilingual(f"lỗi cú pháp YAML: {what}{hint_vi}",
                                                                       f"YAML syntax error: {what}{hint_en}"))])
    except yaml.reader.ReaderError as error:
        return LoadedYaml(None, source, [_unprintable(error, text, file)])
    except yaml.YAMLError as error:
        return LoadedYaml(None, source, [Problem(file, 1, bilingual(f"lỗi cú pháp YAML: {error}",
                                                                    f"YAML syntax error: {error}"))])
    finally:
        loader.dispose()


def too_large(size: int) -> str:
    return bilingual(f"tệp quá lớn ({size} byte, tối đa {MAX_FILE_BYTES})",
                     f"the file is too large ({size} bytes, at most {MAX_FILE_BYTES})")


def _unprintable(error: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    character = error.character if isinstance(error.character, str) else chr(error.character or 0)
    line = text.count("\n", 0, max(error.position, 0)) + 1
    code = f"U+{ord(character):04X}"
    return Problem(file, line, bilingual(
        f"ký tự điều khiển {code} không được phép (xóa nó đi; thường do sao chép từ nơi khác)",
        f"control character {code} is not allowed (delete it; it usually comes from copy and paste)"))


class _LimitError(yaml.MarkedYAMLError):  # type: ignore[misc]  # PyYAML ships no type hints
    """A bound of the loader was passed; reported like a syntax error, at its line."""


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader with the bounds above, checked while composing, before any expansion.

    Aliases share one composed node; what is costly is everything after that walks the tree as
    data (line recording, key conversion, validation), so each alias is charged the size of what it
    stands for, computed once per anchor.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._alias_nodes = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                self._refuse(event, f"bí danh *{event.anchor} nằm trong chính nó",
                             f"alias *{event.anchor} refers to itself (a recursive alias)")
            node = super().compose_node(parent, index)  # raises on an undefined alias
            nodes, height = self._size(node)
            self._alias_nodes += nodes
            if self._alias_nodes > MAX_ALIAS_NODES:
                self._refuse(event, f"bí danh (alias) mở rộng quá lớn (hơn {MAX_ALIAS_NODES} phần tử)",
                             f"aliases expand to too much (over {MAX_ALIAS_NODES} items)")
            if self._depth + height > MAX_DEPTH:
                self._refuse(event, f"lồng nhau quá sâu (hơn {MAX_DEPTH} cấp)", f"nested too deep (over {MAX_DEPTH} levels)")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._refuse(event, f"lồng nhau quá sâu (hơn {MAX_DEPTH} cấp)", f"nested too deep (over {MAX_DEPTH} levels)")
        anchor = event.anchor if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)) else None
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor or "")

    def _size(self, node: yaml.Node) -> tuple[int, int]:
        """(nodes, height) of `node` with aliases expanded; recursion is bounded by MAX_DEPTH."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        nodes, height = 1, 1
        for child in children:
            child_nodes, child_height = self._size(child)
            nodes += child_nodes
            height = max(height, child_height + 1)
        self._sizes[id(node)] = (nodes, height)
        return nodes, height

    def _refuse(self, event: yaml.Event, vi: str, en: str) -> None:
        raise _LimitError(problem=bilingual(vi, en), problem_mark=event.start_mark)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        self._check_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        self._check_number(node)
        return super().construct_yaml_float(node)

    def _check_number(self, node: yaml.ScalarNode) -> None:
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise _LimitError(problem=bilingual(
                f"số quá dài ({len(str(node.value))} ký tự, tối đa {MAX_NUMBER_CHARS})",
                f"number too long ({len(str(node.value))} characters, at most {MAX_NUMBER_CHARS})"),
                problem_mark=node.start_mark)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _BoundedLoader.construct_yaml_float)


def _hint(problem: str) -> tuple[str, str]:
    """Plain words for the YAML mistakes flow authors actually make (Vietnamese, English)."""
    if "'\\t'" in problem or "\\t" in problem:
        return " (thụt lề bằng dấu cách, không dùng tab)", " (indent with spaces, not tabs)"
    if "but got '?'" in problem or "but got ':'" in problem:
        return (" (văn bản có '?' hoặc ':' trong { } phải đặt trong ngoặc kép)",
                " (text containing '?' or ':' inside { } must be put in quotes)")
    if "found character '*'" in problem or "found undefined alias" in problem:
        return " (viết phím * trong ngoặc kép: \"*\")", " (write the key * in quotes: \"*\")"
    return "", ""


def _record_lines(node: yaml.Node, path: Path, source: SourceMap, problems: list[Problem]) -> None:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(source.file, line, bilingual(f"khóa '{key}' bị lặp (đã viết ở dòng {seen[key]})",
                                                         f"duplicate key '{key}' (first written on line {seen[key]})"))
                )
                continue
            seen[key] = line
            source.lines[path + (key,)] = line
            _record_lines(value_node, path + (key,), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), source, problems)


def _stringify_keys(data: Any) -> Any:
    """Mapping keys become strings: `1:` and `"1":` both mean keypad key "1"."""
    if isinstance(data, dict):
        return {_key_text(k): _stringify_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_stringify_keys(item) for item in data]
    return data


def _key_text(key: Any) -> str:
    if isinstance(key, bool):  # `yes:` would otherwise become "True"
        return "yes" if key else "no"
    return str(key)
