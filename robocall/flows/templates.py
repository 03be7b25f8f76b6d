"""Contact fields and answers inside prompt text: `Xin chào {{ name }}`.

Jinja2's sandbox renders the text, and its `meta` module tells at load time
which fields a prompt uses, so a typo in a field name is a validation error
rather than a silent blank on a live call.  A prompt is text, fields and a few
filters, nothing else: `problems_in` checks that statically when a flow loads
(no attribute access, calls, loops or statements), and the environment has no
globals (`range`, `lipsum`) and only those filters, so a prompt can neither
fail at run time nor say something random (the engine promises no randomness).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from robocall.text import bilingual

# Fields every host passes for a contact (see engine.contact_fields).
CONTACT_FIELDS = frozenset(
    {"name", "category", "district", "commune", "exposure_date", "days_since_exposure", "phone_last_digits", "today"}
)

# Filter name -> the constant arguments it accepts (types, in order; fewer may be given).  Each
# works on any field value (text, number, yes/no, empty) and cannot grow the text unboundedly.
FILTERS: dict[str, tuple[type, ...]] = {
    "upper": (), "lower": (), "capitalize": (), "title": (), "trim": (),
    "default": ((str, int, float),), "d": ((str, int, float),),  # type: ignore[dict-item]
    "replace": (str, str),
}
_REQUIRED_ARGS = {"replace": 2}

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.globals.clear()
_ENV.tests.clear()
_ENV.filters = {name: function for name, function in _ENV.filters.items() if name in FILTERS}


class TemplateError(ValueError):
    pass


@lru_cache(maxsize=4096)
def fields_in(text: str) -> frozenset[str]:
    """The fields `text` uses (cached: every prompt is rendered on every call)."""
    return frozenset(meta.find_undeclared_variables(_parse(text)))


def _parse(text: str) -> nodes.Template:
    try:
        return _ENV.parse(text)
    except TemplateSyntaxError as error:
        raise TemplateError(bilingual(f"không đọc được câu nói: {error.message}",
                                      f"cannot read the prompt text: {error.message}")) from None
    except RecursionError:  # `{{ ((((...` thousands deep: Jinja's parser recurses
        raise TemplateError(bilingual("câu nói lồng ngoặc quá sâu", "the prompt nests brackets too deep")) from None


def problems_in(text: str) -> list[str]:
    """What in `text` is more than text, `{{ field }}` and whitelisted filters (empty when fine)."""
    if "{" not in text:
        return []
    try:
        tree = _parse(text)
    except TemplateError as error:
        return [str(error)]
    problems: list[str] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            problems.append(bilingual(
                "câu nói chỉ được chứa văn bản và {{ tên_trường }}, không có {% ... %}",
                "a prompt holds only text and {{ field }}, no {% ... %} statements"))
            continue
        for part in statement.nodes:
            if not isinstance(part, nodes.TemplateData):
                problems += _expression_problems(part)
    return problems


def _expression_problems(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Name) and node.name == "self":  # Jinja's own reference, not a field
        return [bilingual("'{{ self }}' không phải là một trường", "'{{ self }}' is not a field")]
    if isinstance(node, (nodes.Name, nodes.Const)):
        return []
    if isinstance(node, nodes.Filter):
        return _filter_problems(node) + _expression_problems(node.node) if node.node is not None else []
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return [bilingual("không được truy cập thuộc tính ({{ a.b }}, {{ a[0] }}): chỉ dùng {{ tên_trường }}",
                          "attribute access ({{ a.b }}, {{ a[0] }}) is not allowed: use {{ field }} alone")]
    if isinstance(node, nodes.Call):
        return [bilingual("không được gọi hàm trong câu nói (chỉ dùng bộ lọc: " + _filter_list() + ")",
                          "calls are not allowed in a prompt (only the filters " + _filter_list() + ")")]
    return [bilingual("câu nói chỉ được dùng {{ tên_trường }} và bộ lọc " + _filter_list(),
                      "a prompt may use only {{ field }} and the filters " + _filter_list())]


def _filter_problems(node: nodes.Filter) -> list[str]:
    accepted = FILTERS.get(node.name)
    if accepted is None:
        return [bilingual(f"không có bộ lọc '{node.name}' (dùng: {_filter_list()})",
                          f"there is no filter '{node.name}' (use: {_filter_list()})")]
    args = node.args
    good = (not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None
            and _REQUIRED_ARGS.get(node.name, 0) <= len(args) <= len(accepted)
            and all(isinstance(arg, nodes.Const) and isinstance(arg.value, kind) and not isinstance(arg.value, bool)
                    for arg, kind in zip(args, accepted, strict=False)))
    if good:
        return []
    wanted_vi = ", ".join("văn bản" if kind is str else "văn bản hoặc số" for kind in accepted) or "không có"
    wanted_en = ", ".join("text" if kind is str else "text or number" for kind in accepted) or "none"
    return [bilingual(f"bộ lọc '{node.name}' chỉ nhận tham số cố định: {wanted_vi}",
                      f"filter '{node.name}' takes only fixed arguments: {wanted_en}")]


def _filter_list() -> str:
    return ", ".join(name for name in FILTERS if name != "d")


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Any:
    return _ENV.from_string(text)


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill the fields of `text`; a field with no value reads as an empty string."""
    if "{" not in text:
        return text
    needed = fields_in(text)
    filled = {name: ("" if values.get(name) is None else values[name]) for name in needed}
    return str(_compiled(text).render(filled))
