"""The small, safe expression language used by branches and escalation rules.

    shortness_of_breath or temperature >= 38.0 or (fever and cough)
    zone in ("hanoi", "hcm") and not tested

Evaluation is done by `simpleeval` (an AST walker, never Python's `eval`).  On
top of it we allow only names, constants, comparisons and `and`/`or`/`not`,
so a flow file cannot call functions or reach attributes.  An answer that was
never given is `None`, and ordering comparisons with `None` are simply false:
an unanswered temperature never counts as a fever.
"""

from __future__ import annotations

import ast
import operator
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

from robocall.text import bilingual

# `yes` / `no` read better than True / False for a health officer.
CONSTANTS: dict[str, Any] = {"yes": True, "no": False, "true": True, "false": False, "none": None}

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List,
)


def _none_safe(compare: Any) -> Any:
    def apply(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        try:
            return bool(compare(left, right))
        except TypeError:  # "37.5" < 38: a text answer is never ordered against a number
            return False

    return apply


def _safe_in(negate: bool) -> Any:
    """`x in answer` is false (and so is `not in`) when the answer is not a text or list to look in:
    an unanswered question, or a number, must not end a live call with a TypeError."""

    def apply(item: Any, container: Any) -> bool:
        if not isinstance(container, (str, list, tuple)):
            return False
        try:
            found = item in container
        except TypeError:  # 5 in "abc"
            return False
        return not found if negate else found

    return apply


_OPERATORS = dict(DEFAULT_OPERATORS)
for _node, _op in ((ast.Lt, operator.lt), (ast.LtE, operator.le), (ast.Gt, operator.gt), (ast.GtE, operator.ge)):
    _OPERATORS[_node] = _none_safe(_op)
_OPERATORS[ast.In] = _safe_in(negate=False)
_OPERATORS[ast.NotIn] = _safe_in(negate=True)

# Conditions are short; a longer one is a mistake, and thousands of nested `not`s exhaust the parser.
MAX_EXPRESSION_CHARS = 1000
MAX_EXPRESSION_DEPTH = 50


def _depth(tree: ast.AST) -> int:
    """How deep `tree` nests, counted without recursion (the tree may be deeper than the stack)."""
    deepest = 0
    todo = [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
    return deepest


class ExpressionError(ValueError):
    pass


@lru_cache(maxsize=4096)
def names_in(expression: str) -> frozenset[str]:
    """Check that `expression` uses only the allowed syntax; return the names it reads.
    Cached: the engine evaluates the same few rules on every call."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(bilingual(f"điều kiện quá dài ({len(expression)} ký tự, tối đa {MAX_EXPRESSION_CHARS})",
                                        f"the condition is too long ({len(expression)} characters, "
                                        f"at most {MAX_EXPRESSION_CHARS})"))
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(bilingual(f"không đọc được điều kiện '{expression}': {error.msg}",
                                        f"cannot read the expression '{expression}': {error.msg}")) from None
    except (RecursionError, MemoryError):  # CPython's parser gives up on very deep nesting this way
        raise ExpressionError(bilingual("điều kiện lồng nhau quá sâu", "the condition nests too deep")) from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:  # evaluation recurses once per level
        raise ExpressionError(bilingual("điều kiện lồng nhau quá sâu", "the condition nests too deep"))
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            shown = ast.unparse(node) if isinstance(node, ast.expr) else expression
            raise ExpressionError(bilingual(
                f"'{shown}' không được dùng trong điều kiện (chỉ dùng câu trả lời, số, văn bản trong ngoặc kép,"
                " phép so sánh, and/or/not)",
                f"'{shown}' is not allowed in an expression (use answers, numbers, quoted text, comparisons, and/or/not)"))
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)) - set(CONSTANTS)


def evaluate(expression: str, values: Mapping[str, Any]) -> bool:
    """Whether `expression` holds; names missing from `values` read as None."""
    names = dict(CONSTANTS)
    names.update({name: values.get(name) for name in names_in(expression)})
    # The compound-types evaluator is needed for `zone in ("ha_noi", "other")`; names_in has
    # already refused everything else it could do (comprehensions, dicts, calls).
    evaluator = _evaluator()
    evaluator.names = names
    return bool(evaluator.eval(expression.strip(), previously_parsed=_parsed(expression.strip())))


_EVALUATORS = threading.local()


def _evaluator() -> EvalWithCompoundTypes:
    """This thread's evaluator: making one builds its tables of nodes and operators, more than most
    conditions cost to evaluate (a webhook's step evaluates several); it keeps state while it
    evaluates, hence one a thread."""
    evaluator: EvalWithCompoundTypes | None = getattr(_EVALUATORS, "evaluator", None)
    if evaluator is None:
        evaluator = _EVALUATORS.evaluator = EvalWithCompoundTypes(operators=_OPERATORS, functions={}, names={})
    return evaluator


@lru_cache(maxsize=4096)
def _parsed(expression: str) -> ast.AST:
    """The expression's tree, parsed once (evaluating only reads it)."""
    tree: ast.AST = EvalWithCompoundTypes.parse(expression)
    return tree
