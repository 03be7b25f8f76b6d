"""Phone numbers: the one way a number written by a person becomes an E.164 number.

Calls, SMS and contact imports all go through :func:`normalize`, so a number is
the same string (``+84912345678``) wherever it is stored, compared or dialled.

What people write, and what it becomes (region ``VN``)::

    0912 345 678 / 0912.345.678 / 0912-345-678     -> +84912345678
    +84 912 345 678 / (+84) 912 345 678 / +84 (0) 912 345 678
    84912345678 / 0084912345678
    912345678 / 912345678.0 / 84912345678          (Excel dropped the 0, or made it a float)
    01623 456 789 / +84 1623 456 789 / 1623456789  -> +84323456789 (pre-2018 11-digit number)

Pre-2018 11-digit mobile numbers (``01xy`` + 7 digits) were renumbered to
10 digits in 2018; phonenumbers rejects the old form, so they are remapped
before anything else (:data:`OLD_MOBILE_PREFIXES`).

Rejections raise :class:`InvalidPhone` whose ``reason`` is short and meant for
the CDC staff who own the list, Vietnamese first ("quá ngắn / too short"); ``vi``
and ``en`` hold each language alone, for messages that wrap it. Neither the
reason nor anything else here logs the number.

Speed: clean mobile numbers (the vast majority) take a fast path that checks
phonenumbers' own mobile pattern for Vietnam and skips its parser, formatter
and carrier lookup (carrier names are cached per 3-digit prefix, which is as
long as phonenumbers' Vietnamese carrier prefixes get). Everything else takes
the full path. Both give the same results (tests/contacts/test_phones.py
checks that).
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult, carrier

from robocall.logging_setup import mask_phone
from robocall.text import bilingual

__all__ = ["OLD_MOBILE_PREFIXES", "InvalidPhone", "PhoneNumber", "mask", "normalize", "numbers_in", "type_name_vi"]

VN_COUNTRY_CODE = 84

# Pre-2018 11-digit mobile prefixes -> today's 10-digit ones, both without the leading 0
# (0162 345 6789 -> 032 345 6789).
OLD_MOBILE_PREFIXES: dict[str, str] = {
    **{f"16{d}": f"3{d}" for d in "23456789"},  # Viettel 0162-0169 -> 032-039
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",  # MobiFone
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",  # Vinaphone
    "186": "56", "188": "58",  # Vietnamobile
    "199": "59",  # Gmobile
}

# What phonenumbers calls a number's type, in Vietnamese (the English is _TYPE_NAMES).
_TYPE_NAMES_VI = {
    PhoneNumberType.MOBILE: "di động",
    PhoneNumberType.FIXED_LINE: "cố định",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "cố định hoặc di động",
    PhoneNumberType.TOLL_FREE: "miễn cước",
    PhoneNumberType.PREMIUM_RATE: "dịch vụ thu cước cao",
    PhoneNumberType.SHARED_COST: "chia sẻ cước",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "số cá nhân",
    PhoneNumberType.PAGER: "nhắn tin (pager)",
    PhoneNumberType.UAN: "dịch vụ",
    PhoneNumberType.VOICEMAIL: "hộp thư thoại",
}

_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline or mobile",
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "service number",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def type_name_vi(type_name: str) -> str:
    """A :attr:`PhoneNumber.type` (``toll-free``...) in Vietnamese."""
    return _TYPE_NAMES_VI_BY_NAME.get(type_name, type_name)


_TYPE_NAMES_VI_BY_NAME = {_TYPE_NAMES[kind]: name for kind, name in _TYPE_NAMES_VI.items()}


class InvalidPhone(ValueError):
    """A number that can't be used; ``reason`` says why, in a few words (never the number), Vietnamese
    then English; ``vi`` and ``en`` are each alone."""

    def __init__(self, vi: str, en: str) -> None:
        self.vi = vi
        self.en = en
        self.reason = bilingual(vi, en)
        super().__init__(self.reason)


def _not_a_number() -> InvalidPhone:
    return InvalidPhone("không phải số điện thoại", "not a phone number")


def _too_short() -> InvalidPhone:
    return InvalidPhone("quá ngắn", "too short")


def _too_long() -> InvalidPhone:
    return InvalidPhone("quá dài", "too long")


def _not_valid() -> InvalidPhone:
    return InvalidPhone("không phải số điện thoại hợp lệ", "not a valid phone number")


def _not_valid_vietnamese() -> InvalidPhone:
    return InvalidPhone("không phải số Việt Nam hợp lệ", "not a valid Vietnamese number")


class PhoneNumber(NamedTuple):
    # A NamedTuple: immutable and compared by value like a frozen dataclass, and much cheaper to make;
    # a list loads a million of them (docs/performance.md).
    e164: str
    """``+84912345678``: what is stored, compared and dialled."""
    national: str
    """``0912 345 678``: how people in the country write it."""
    carrier: str
    """Network the prefix was allocated to (``Viettel``, ``Vinaphone``...), ``""`` if unknown.
    Only a hint: numbers can be ported to another network."""
    type: str
    """``mobile``, ``landline``, ``toll-free``..."""
    remapped: bool = False
    """Written in the pre-2018 11-digit form and renumbered."""

    @property
    def masked(self) -> str:
        return mask(self.e164)

    def __str__(self) -> str:
        return self.e164


mask = mask_phone
"""Mask a number for logs: ``+84912345678`` -> ``+849******78`` (robocall.logging_setup.mask_phone)."""


# --- fast path -----------------------------------------------------------------

_VN = phonenumbers.PhoneMetadata.metadata_for_region("VN")
assert _VN is not None and _VN.mobile is not None and _VN.mobile.national_number_pattern
# phonenumbers' own definition of a Vietnamese mobile national number.
_VN_MOBILE = re.compile(_VN.mobile.national_number_pattern)
# A clean-ish mobile number once spaces, dots and dashes are removed: optional
# +84 / 0084 / 84 / 0, then 9 digits. Anything else takes the full path.
_FAST_FORM = re.compile(r"(?:\+84|0084|84|0)?([35789]\d{8})")
_FAST_DROP = str.maketrans("", "", " .-")
_CARRIER_PREFIX_DIGITS = 3
_carrier_by_prefix: dict[str, str] = {}


def _carrier_for(nsn: str) -> str:
    prefix = nsn[:_CARRIER_PREFIX_DIGITS]
    name = _carrier_by_prefix.get(prefix)
    if name is None:
        number = phonenumbers.PhoneNumber(country_code=VN_COUNTRY_CODE, national_number=int(nsn))
        name = _carrier_by_prefix[prefix] = carrier.name_for_number(number, "en")
    return name


def _fast(raw: str) -> PhoneNumber | None:
    match = _FAST_FORM.fullmatch(raw) or _FAST_FORM.fullmatch(raw.translate(_FAST_DROP))
    if match is None:
        return None
    nsn = match.group(1)
    if not _VN_MOBILE.fullmatch(nsn):
        return None
    return PhoneNumber(
        e164=f"+84{nsn}",
        national=f"0{nsn[:3]} {nsn[3:6]} {nsn[6:]}",
        carrier=_carrier_for(nsn),
        type="mobile",
    )


# --- full path -----------------------------------------------------------------

# Invisible characters that come along with copy-paste from Word, Zalo or the web.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_EXCEL_FLOAT = re.compile(r"(\+?\d+)[.,]0+")
_SCIENTIFIC = re.compile(r"(\d)(?:[.,](\d*))?[eE]\+?(\d{1,2})")
_LETTER = re.compile(r"[^\W\d_]")
# Excel's "this is text" apostrophe, as typed or as autocorrect and other tools turn it.
_TEXT_MARKERS = "'\u2019\u2018`\u00b4"
# A note in brackets beside a number: "(Zalo)", "[chồng]" (brackets holding a letter; "+84 (0)" stays).
_ANNOTATION = re.compile(r"\([^)]*[^\W\d_][^)]*\)|\[[^\]]*[^\W\d_][^\]]*\]")
_WORDS = re.compile(r"[^\W\d_]+[.:]?")
# Only these may surround the digits of one number.
_ALLOWED = re.compile(r"[\d\s.\-()+]*")
# What separates two numbers written in one cell.
_BETWEEN_NUMBERS = re.compile(r"[/;,|&\\\n–—]+|\s+-\s*|\s*-\s+|\s{2,}")


def numbers_in(raw: Any) -> list[Any]:
    """The numbers a person wrote in one cell, notes dropped: ``"0912345678 (Zalo)"`` -> one,
    ``"0912.345.678 / 0987 654 321"`` or ``"ĐT: 0912345678, nhà 0987654321"`` -> two, in their order.
    A cell that is not text is one number; a cell without two numbers in it comes back whole."""
    if not isinstance(raw, str):
        return [raw]
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE).strip()
    if _SCIENTIFIC.fullmatch(text):
        return [raw]  # 8.4912345678E+10: the E is no note
    text = _WORDS.sub(" ", _ANNOTATION.sub(" ", text)).strip().lstrip(_TEXT_MARKERS).strip()
    if not any(c.isdigit() for c in text):
        return [raw]  # nothing to salvage: normalize says why
    parts = [p.strip() for p in _BETWEEN_NUMBERS.split(text) if sum(c.isdigit() for c in p) >= 9]
    return parts if len(parts) > 1 else [text]


def normalize(raw: Any, region: str = "VN", require_mobile: bool = True, allow_foreign: bool = False) -> PhoneNumber:
    """The number ``raw`` means, or :class:`InvalidPhone` saying why there is none.

    ``raw`` is what was typed or read from a file: a string, or an int/float
    from a spreadsheet cell. ``region`` is the country numbers without a
    country code belong to; numbers of other countries are refused. With
    ``require_mobile`` (the default: robot calls and SMS go to mobiles)
    landlines and service numbers are refused too. With ``allow_foreign`` a number written with
    another country code is kept (contact lists store them, flagged; the dialer calls them only
    where international calls are allowed).
    """
    text = raw if isinstance(raw, str) else _from_number(raw)
    if region == "VN":
        fast = _fast(text)
        if fast is not None:
            return fast
    return _full(text, region, require_mobile, allow_foreign)


def _from_number(raw: Any) -> str:
    """A spreadsheet cell that isn't text: digits as a string."""
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real | Decimal):
        raise _not_a_number()
    if isinstance(raw, float | Decimal) and math.isnan(raw):
        return ""  # an empty cell, as pandas reads it
    number = float(raw)  # a Real or a Decimal: both convert, and a phone number is far below 2**53
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise _not_a_number()
    return str(int(number))


def _full(raw: str, region: str, require_mobile: bool, allow_foreign: bool = False) -> PhoneNumber:
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE).strip()
    text = text.lstrip(_TEXT_MARKERS).strip()  # Excel's "this is text" marker, or what autocorrect made of it
    if not text:
        raise InvalidPhone("trống", "empty")
    if (excel_float := _EXCEL_FLOAT.fullmatch(text)) is not None:
        text = excel_float.group(1)
    elif (scientific := _SCIENTIFIC.fullmatch(text)) is not None:
        text = _from_scientific(scientific)
    if _LETTER.search(text):
        raise _not_a_number()
    parts = [p for p in _BETWEEN_NUMBERS.split(text) if sum(c.isdigit() for c in p) >= 9]
    if len(parts) > 1:
        raise InvalidPhone("có nhiều hơn một số", "more than one number")
    if not _ALLOWED.fullmatch(text):
        raise _not_a_number()
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        raise _not_a_number()
    plus = text.lstrip("(").startswith("+")
    if "+" in text.lstrip("(")[1:] or ("+" in text and not plus):
        raise _not_a_number()
    if plus or digits.startswith("00"):
        international = digits if plus else digits[2:]
        if not international.startswith(str(VN_COUNTRY_CODE)):
            return _foreign(international, region, require_mobile, allow_foreign)
        if region != "VN":
            raise InvalidPhone(f"không phải số của {region} (+84)", f"not a number of {region} (+84)")
        nsn = international[2:]
    elif region != "VN":
        return _other_region(digits, region, require_mobile)
    elif digits.startswith("0"):
        nsn = digits[1:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        nsn = digits[2:]  # country code without + (a Vietnamese national number never has 11-12 digits without its 0)
    else:
        nsn = digits  # the leading 0 got lost (Excel)
    if nsn.startswith("0"):
        nsn = nsn[1:]  # "+84 (0) 912..." / "84 0912..."
    return _vietnamese(nsn, require_mobile)


def _from_scientific(match: re.Match[str]) -> str:
    """``8.4912345678E+10`` -> ``84912345678``, unless Excel rounded digits away."""
    head, tail, exponent = match.group(1), match.group(2) or "", int(match.group(3))
    if len(tail) > exponent:
        raise _not_a_number()
    if len(tail) < exponent:
        # 8.49123E+10: the last digits are gone, the number can't be recovered.
        raise InvalidPhone("mất chữ số: bảng tính hiển thị số dạng khoa học (hãy định dạng cột là văn bản)",
                           "digits lost: the spreadsheet shows it in scientific notation (format the column as text)")
    try:
        return str(int(Decimal(f"{head}.{tail}e{exponent}")))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise _not_a_number() from None


def _vietnamese(nsn: str, require_mobile: bool) -> PhoneNumber:
    remapped = False
    if len(nsn) == 10 and nsn[:3] in OLD_MOBILE_PREFIXES:
        nsn = OLD_MOBILE_PREFIXES[nsn[:3]] + nsn[3:]
        remapped = True
    if not nsn or nsn.startswith("0"):
        raise _not_valid_vietnamese() if nsn else _too_short()
    # Mobile numbers have 9 digits after the 0, landlines (0 + area code 2xx) 10:
    # say "too short/long" rather than "invalid" when a digit is missing or doubled.
    expected = 9 if nsn[0] in "35789" else 10 if nsn[0] == "2" else None
    if expected is not None and len(nsn) != expected:
        raise _too_short() if len(nsn) < expected else _too_long()
    if nsn[0] in "35789" and _VN_MOBILE.fullmatch(nsn):
        return PhoneNumber(
            e164=f"+84{nsn}",
            national=f"0{nsn[:3]} {nsn[3:6]} {nsn[6:]}",
            carrier=_carrier_for(nsn),
            type="mobile",
            remapped=remapped,
        )
    number = phonenumbers.PhoneNumber(country_code=VN_COUNTRY_CODE, national_number=int(nsn))
    return _checked(number, "VN", require_mobile, remapped=remapped)


def _foreign(international: str, region: str, require_mobile: bool, allow_foreign: bool = False) -> PhoneNumber:
    try:
        number = phonenumbers.parse(f"+{international}", None)
    except phonenumbers.NumberParseException:
        raise _not_valid() from None
    number_region = phonenumbers.region_code_for_number(number)
    if allow_foreign and number_region:
        return _checked(number, number_region, require_mobile)
    if number_region != region:
        if region == "VN":
            raise InvalidPhone(f"số nước ngoài (+{number.country_code}), cần số Việt Nam",
                               f"foreign number (+{number.country_code}), a Vietnamese number is needed")
        raise InvalidPhone(f"không phải số của {region} (+{number.country_code})",
                           f"not a number of {region} (+{number.country_code})")
    return _checked(number, region, require_mobile)


def _other_region(digits: str, region: str, require_mobile: bool) -> PhoneNumber:
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        raise _not_valid() from None
    return _checked(number, region, require_mobile)


_POSSIBLE_REASONS = {
    ValidationResult.TOO_SHORT: ("quá ngắn", "too short"),
    ValidationResult.TOO_LONG: ("quá dài", "too long"),
    ValidationResult.INVALID_LENGTH: ("sai số chữ số", "wrong number of digits"),
    ValidationResult.INVALID_COUNTRY_CODE: ("không phải số điện thoại hợp lệ", "not a valid phone number"),
}


def _checked(
    number: phonenumbers.PhoneNumber, region: str, require_mobile: bool, remapped: bool = False
) -> PhoneNumber:
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _POSSIBLE_REASONS:
        raise InvalidPhone(*_POSSIBLE_REASONS[possible])
    if not phonenumbers.is_valid_number_for_region(number, region):
        if region == "VN":
            raise _not_valid_vietnamese()
        raise InvalidPhone(f"không phải số hợp lệ của {region}", f"not a valid number of {region}")
    kind = phonenumbers.number_type(number)
    if require_mobile and kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        if kind == PhoneNumberType.FIXED_LINE:
            raise InvalidPhone("số cố định, cần số di động", "landline, a mobile number is needed")
        raise InvalidPhone(f"số {_TYPE_NAMES_VI.get(kind, 'không phải di động')}, cần số di động",
                           f"{_TYPE_NAMES.get(kind, 'not a mobile')} number, a mobile number is needed")
    return PhoneNumber(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        national=phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        carrier=carrier.name_for_number(number, "en"),
        type=_TYPE_NAMES.get(kind, "unknown"),
        remapped=remapped,
    )
