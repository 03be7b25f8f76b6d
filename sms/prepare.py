"""From raw recipients to messages: normalise, drop duplicates and opt-outs, route, render, measure.

One pass, streamed: the only thing kept for the whole list is the set of numbers
already seen (as integers, ~40 MB for a million) to send duplicates once.  The
dry run and the real campaign both consume :func:`prepare`, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from robocall.flows.templates import TemplateError, fields_in
from robocall.phones import InvalidPhone, normalize
from robocall.sms_routing import Router
from robocall.text import Measure, bilingual, measure, measure_nfc, nfc, strip_accents
from sms.recipients import Recipient, RecipientsError


# NamedTuples, not frozen dataclasses: one of each is made per message (a million a campaign), ~4x cheaper.
class Prepared(NamedTuple):
    row: int
    phone: str
    carrier: str
    gateway: str
    text: str | None  # None: the template as is (no per-recipient fields)
    encoding: str
    segments: int


class Rejected(NamedTuple):
    row: int
    value: str
    reason: str  # "duplicate" and "opted out" are counted, not listed


DUPLICATE = "duplicate"
OPTED_OUT = "opted out"


# Sandboxed like robocall/flows/templates.py; compiled once per campaign (a million renders).
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _refuse_repetition(source: str) -> None:
    """No `*` or `**` in an SMS template: reading its fields already folds constants (``'x' * 10**9`` is a
    gigabyte before anything is sent), and a notice has no use for arithmetic."""
    if "*" not in source:
        return
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError:
        return  # fields_in says what is wrong
    if next(tree.find_all((nodes.Mul, nodes.Pow)), None) is not None:
        raise RecipientsError("the operators * and ** are not allowed in an SMS template")


class Template:
    """The campaign text: NFC, accents stripped on request, fields checked against what the list has."""

    def __init__(self, text: str, strip: bool, available: Iterable[str] | None = None) -> None:
        self.source = nfc(text)
        self.strip = strip
        _refuse_repetition(self.source)
        try:
            self.fields = fields_in(self.source)
        except TemplateError as exc:
            raise RecipientsError(str(exc)) from None
        if available is not None:
            missing = sorted(self.fields - set(available))
            if missing:
                raise RecipientsError(bilingual(f"mẫu tin dùng các trường danh sách không có: {', '.join(missing)}",
                                                f"the template uses fields the list does not have: {', '.join(missing)}"))
        self._compiled = _ENV.from_string(self.source) if self.fields else None
        # No field: the same text for everyone, rendered once when it holds Jinja syntax ("{{ 'A' * 3 }}"
        # would otherwise go out as written).
        self.fixed = None if self.fields else self._finish(self._render_once(self.source))
        self.fixed_measure = measure(self.fixed) if self.fixed is not None else None
        # Text and fields only (the usual campaign text): filled by joining its pieces, the text pieces
        # finished once here.  Anything else (filters, conditions) is rendered by Jinja.
        pieces = _plain_pieces(self.source) if self.fields else None
        self._pieces = None if pieces is None else [(is_field, value if is_field else self._finish(value))
                                                    for is_field, value in pieces]

    @staticmethod
    def _render_once(source: str) -> str:
        if not any(mark in source for mark in ("{{", "{%", "{#")):
            return source
        try:
            return _ENV.from_string(source).render()
        except Exception as exc:  # the sandbox's refusals and template errors alike: the text cannot be sent
            raise RecipientsError(f"the template cannot be rendered: {exc}") from None

    def _finish(self, text: str) -> str:
        text = nfc(text)
        return strip_accents(text) if self.strip else text

    def for_recipient(self, values: dict[str, str]) -> tuple[str | None, Measure]:
        if self.fixed is not None:
            assert self.fixed_measure is not None
            return None, self.fixed_measure
        if self._pieces is not None:
            # Stripping is a character-by-character mapping (a mark left at a piece's edge is dropped
            # either way), so finishing each piece and joining gives what finishing the whole gives.
            finish = strip_accents if self.strip else str
            text = nfc("".join([finish(values.get(value) or "") if is_field else value
                                for is_field, value in self._pieces]))
            return text, measure_nfc(text)
        assert self._compiled is not None
        filled = {name: values.get(name) or "" for name in self.fields}
        # As Template.render does, but with shared=True: the context takes `filled` as it is instead of
        # copying Jinja's globals (range, lipsum...) into each of a million contexts.  A template can't
        # use those anyway: every name it uses must be a field of the list.
        text = self._finish(_ENV.concat(self._compiled.root_render_func(  # type: ignore[attr-defined]
            self._compiled.new_context(filled, shared=True))))
        return text, measure_nfc(text)


def _plain_pieces(source: str) -> list[tuple[bool, str]] | None:
    """(is a field, text or field name) for each piece of a template made only of text and ``{{ name }}``
    (as Jinja parses it); None for anything else.  Jinja outputs such a field as str(value)."""
    pieces: list[tuple[bool, str]] = []
    for node in _ENV.parse(source).body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append((False, child.data))
            elif isinstance(child, nodes.Name) and child.ctx == "load":
                pieces.append((True, child.name))
            else:
                return None
    return pieces


def prepare(recipients: Iterable[Recipient], template: Template, router: Router,
            opted_out: set[str], ported: dict[str, str] | None = None) -> Iterator[Prepared | Rejected]:
    """Each recipient as a message to send, or rejected with its reason, in list order."""
    seen: set[int] = set()
    ported = ported or {}
    for recipient in recipients:
        if recipient.error:
            yield Rejected(recipient.row, recipient.raw, recipient.error)
            continue
        try:
            number = normalize(recipient.raw)
        except InvalidPhone as exc:
            yield Rejected(recipient.row, recipient.raw, exc.reason)
            continue
        key = int(number.e164[1:])
        if key in seen:
            yield Rejected(recipient.row, recipient.raw, DUPLICATE)
            continue
        seen.add(key)
        if number.e164 in opted_out:
            yield Rejected(recipient.row, recipient.raw, OPTED_OUT)
            continue
        carrier = ported.get(number.e164, number.carrier)
        text, measured = template.for_recipient(recipient.fields)
        yield Prepared(recipient.row, number.e164, carrier, router.gateway_for(carrier), text,
                       measured.encoding, measured.segments)
