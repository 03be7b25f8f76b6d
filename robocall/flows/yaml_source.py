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

Path = tuple[str | int, ...]


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
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return LoadedYaml(None, source, [Problem(file, 1, "the file is empty")])
        problems: list[Problem] = []
        _record_lines(root, (), source, problems)
        data = _stringify_keys(loader.construct_document(root))
        return LoadedYaml(data, source, problems)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = error.problem or str(error)
        return LoadedYaml(None, source, [Problem(file, line, f"YAML syntax error: {what}{_hint(what)}")])
    except yaml.YAMLError as error:
        return LoadedYaml(None, source, [Problem(file, 1, f"YAML syntax error: {error}")])
    finally:
        loader.dispose()


def _hint(problem: str) -> str:
    """Plain words for the YAML mistakes flow authors actually make."""
    if "'\\t'" in problem or "\\t" in problem:
        return " (indent with spaces, not tabs)"
    if "but got '?'" in problem or "but got ':'" in problem:
        return " (text containing '?' or ':' inside { } must be put in quotes)"
    if "found character '*'" in problem or "found undefined alias" in problem:
        return " (write the key * in quotes: \"*\")"
    return ""


def _record_lines(node: yaml.Node, path: Path, source: SourceMap, problems: list[Problem]) -> None:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(source.file, line, f"duplicate key '{key}' (first written on line {seen[key]})")
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
