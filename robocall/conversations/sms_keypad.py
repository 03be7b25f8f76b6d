"""What a person types by SMS, as the keys a flow's question expects.

On the phone a question is answered with keys (``1``, ``375#``, ``0508#``); by SMS people write
what they would say.  :func:`candidates` lists the keypad forms a reply may stand for, most
likely first; the dialogue (robocall/conversations/sms_declaration.py) keeps the first one the flow engine itself
accepts (robocall.flows.engine.accepts), so the engine stays the only judge of an answer, and a
reply that fits none gets the engine's own "invalid" message and retry.

- Choices (``keys:``): the key itself (``1``, ``1.``, ``1#``, ``*``); ``có``/``đúng``/``yes`` for the
  key whose value is yes and ``không``/``ko``/``sai``/``no`` for the one whose value is no.
- Numbers (``number:``): ``375``, ``375#``, ``37.5``, ``37,5``, ``37.5 độ``; with ``decimals: 1``
  a whole ``38`` also reads as 38.0 (``380``) when ``38`` alone is not an answer; more decimals
  than the question keeps are rounded half up (``37.55`` -> ``376``).
- Dates (``date:``): ``0508``, ``05/08``, ``5-8``, ``5/8/2021``, ``ngày 5 tháng 8``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from robocall.flows.schema import Node
from robocall.text import strip_accents

# Without accents, as people often type.  "DUNG" is "đúng" (right) here: "dừng" (stop) opts out before
# a reply is read (sms/inbound.py).
YES_WORDS = frozenset({"CO", "C", "YES", "Y", "ROI", "DUNG"})
NO_WORDS = frozenset({"KHONG", "KO", "K", "KG", "KHG", "NO", "N", "CHUA", "SAI"})
_TOKEN = re.compile(r"[0-9*#]+|[A-Z]+")
_NUMBER = re.compile(r"(\d+)(?:[.,](\d+))?")


def candidates(node: Node, text: str) -> list[str]:
    """Keypad forms of `text` as an answer to question `node`, most likely first (maybe none)."""
    plain = strip_accents(text).upper()
    if node.keys is not None:
        return _choice(node, plain)
    if node.number is not None:
        return _number(plain, node.number.decimals)
    if node.date is not None:
        return _date(plain)
    return []


def _choice(node: Node, plain: str) -> list[str]:
    tokens = _TOKEN.findall(plain)
    if not tokens:
        return []
    first = tokens[0]
    assert node.keys is not None
    if first in YES_WORDS or first in NO_WORDS:
        wanted = first in YES_WORDS
        return [key for key, choice in node.keys.items() if choice.value is wanted]
    if first[0].isalpha():
        return []
    return [first, first.rstrip("#")] if len(first) > 1 and first.endswith("#") else [first]


def _number(plain: str, decimals: int) -> list[str]:
    found = _NUMBER.search(plain)
    if found is None:
        return []
    whole, fraction = found.groups()
    if fraction is None:
        # "375" as keys first (37.5); then "38" as a whole number of degrees (38.0 -> 380).
        return [whole] + ([whole + "0" * decimals] if decimals else [])
    step = Decimal(1).scaleb(-decimals)
    value = Decimal(f"{whole}.{fraction}").quantize(step, rounding=ROUND_HALF_UP)
    return [format(value, "f").replace(".", "")]


def _date(plain: str) -> list[str]:
    numbers = re.findall(r"\d+", plain)
    if len(numbers) == 1 and len(numbers[0]) in (4, 8):
        return [numbers[0]]
    if len(numbers) in (2, 3) and all(len(n) <= 2 for n in numbers[:2]):
        day, month = (f"{int(n):02d}" for n in numbers[:2])
        if len(numbers) == 2:
            return [day + month]
        year = int(numbers[2])
        return [f"{day}{month}{year + 2000 if year < 100 else year:04d}"]
    return []
