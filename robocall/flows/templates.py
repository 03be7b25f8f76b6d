"""Contact fields and answers inside prompt text: `Xin chào {{ name }}`.

Jinja2's sandbox renders the text (no attribute tricks, no code), and its
`meta` module tells at load time which fields a prompt uses, so a typo in a
field name is a validation error rather than a silent blank on a live call.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

# Fields every host passes for a contact (see engine.contact_fields).
CONTACT_FIELDS = frozenset(
    {"name", "category", "district", "commune", "exposure_date", "days_since_exposure", "phone_last_digits", "today"}
)

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateError(ValueError):
    pass


@lru_cache(maxsize=4096)
def fields_in(text: str) -> frozenset[str]:
    """The fields `text` uses (cached: every prompt is rendered on every call)."""
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(text)))
    except TemplateSyntaxError as error:
        raise TemplateError(f"cannot read the prompt text: {error.message}") from None


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
