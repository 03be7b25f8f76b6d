"""Text: Unicode NFC, the Vietnamese accent stripper and folding, and SMS encoding/segment counts (smsutil).

GSM 03.38 (GSM-7) lacks most Vietnamese letters, so text with diacritics goes as
UCS-2: 70 characters in one SMS, 67 per part once concatenated (the UDH takes 6
bytes). Without diacritics it fits GSM-7: 160, then 153 per part; the extension
characters (``€ [ ] { } \\ ~ ^ |``) take two septets. smsutil does the counting and
the splitting; we only normalise first (NFD text is longer and may not fit).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import smsutil
from smsutil.codecs import GSM_CHARSET, GSM_EXT_CHARSET

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# SMPP data_coding: 0 = the SMSC's default alphabet (GSM-7), 8 = UCS-2.
DATA_CODING = {GSM7: 0, UCS2: 8}

# Letters NFD does not decompose: đ is a letter of its own, not d + a mark.
_NOT_DECOMPOSED = str.maketrans({"đ": "d", "Đ": "D"})
# smsutil's own GSM 03.38 alphabet, compiled once (its is_valid_gsm recompiles it at every call).
_GSM = re.compile("[" + re.escape(GSM_CHARSET) + "]*")


_GSM_EXT = frozenset(GSM_EXT_CHARSET)


def bilingual(vi: str, en: str) -> str:
    """A message a person reads: Vietnamese first, English after it, on one line (``vi / en``).
    Every message for CDC staff or a flow's editor is written through this one shape."""
    return f"{vi} / {en}"


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: a combining mark (a decomposed Vietnamese accent) or a
    format character takes none, a wide East Asian character two.  `len` counts code points, so a
    column padded with it drifts on decomposed text or wide characters."""
    width = 0
    for character in nfc(text):
        if unicodedata.combining(character) or unicodedata.category(character) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return width


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `width` display columns (on the left when `right`-aligned)."""
    spaces = " " * max(0, width - display_width(text))
    return spaces + text if right else text + spaces


# Control characters but tab and line ends, and lone UTF-16 halves: PostgreSQL refuses a NUL in text, UTF-8
# (Redis, psycopg) refuses a lone surrogate, and nobody meant either.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` as the database can keep it: control characters (NUL...) and lone surrogates removed.
    For text from the network (an SMS, a carrier's field) that must be kept as sent, not refused."""
    return _UNSTORABLE.sub("", text)


def is_gsm7(text: str) -> bool:
    return _GSM.fullmatch(text) is not None


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _strip_slowly(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_NOT_DECOMPOSED))
    return nfc("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


class _StrippedChars(dict[int, str]):
    """Each character's stripped form, worked out the first time it is met (str.translate's table)."""

    def __missing__(self, code: int) -> str:
        self[code] = _strip_slowly(chr(code))
        return self[code]


_STRIPPED = _StrippedChars()


def strip_accents(text: str) -> str:
    """``Thông báo khẩn: đeo khẩu trang`` -> ``Thong bao khan: deo khau trang`` (so it fits GSM-7).
    Character by character once the text is NFC (a million messages: the per-character table is
    built once instead of decomposing every text)."""
    if text.isascii():
        return text
    return nfc(nfc(text).translate(_STRIPPED))


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def fold(text: str) -> str:
    """Lowercase ASCII letters and digits only: ``"Chợ Bình Điền"`` -> ``"chobinhdien"`` (what headers,
    place names and category values are compared by)."""
    return _NOT_ALNUM.sub("", strip_accents(text).lower())


_WORDS = re.compile(r"[a-z0-9]+")


def search_fold(text: str) -> str:
    """What names are searched by: lower-case ASCII words, one space apart, accents and đ folded
    (``"Trần Minh  Đức"`` -> ``"tran minh duc"``).  The same in Python on SQLite and PostgreSQL, so both
    databases find the same rows; stored in ``contact.name_folded`` and applied to the query."""
    return " ".join(_WORDS.findall(strip_accents(text).lower()))


@dataclass(frozen=True, slots=True)
class Measure:
    encoding: str  # GSM7 or UCS2
    segments: int
    characters: int

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.encoding]


def measure(text: str) -> Measure:
    """Encoding and number of SMS segments of ``text`` (normalised to NFC first)."""
    return measure_nfc(nfc(text))


def measure_nfc(text: str) -> Measure:
    """:func:`measure` of a text already in NFC.  Text that fits one SMS is told by its size in bytes,
    as smsutil tells it; only longer text is split by smsutil."""
    gsm = is_gsm7(text)
    if gsm:
        size = len(text)
        if not _GSM_EXT.isdisjoint(text):  # rare: most texts have none, told in one pass
            size += sum(text.count(c) for c in GSM_EXT_CHARSET)  # extension characters: 2 septets
        single = smsutil.GSM_SINGLE_PART_BYTES
    else:
        size = len(text.encode("utf_16_be"))  # 2 bytes a character, 4 outside the BMP
        single = smsutil.UNICODE_SINGLE_PART_BYTES
    if size <= single:
        return _measure(GSM7 if gsm else UCS2, 1, len(text))
    result = smsutil.gsm_split(text) if gsm else smsutil.unicode_split(text)
    return _measure(GSM7 if gsm else UCS2, len(result.parts), len(text))


@lru_cache(maxsize=4096)
def _measure(encoding: str, segments: int, characters: int) -> Measure:
    """Measures are few: a million messages share a handful, so each is made once."""
    return Measure(encoding, segments, characters)


def parts(text: str) -> list[str]:
    """The text of each segment, in order (for UDH concatenation)."""
    text = nfc(text)
    result = smsutil.gsm_split(text) if is_gsm7(text) else smsutil.unicode_split(text)
    return [part.content for part in result.parts]


# The ASCII characters GSM 03.38 puts at the same code (not $ @ _ [ \ ] ^ ` { | } ~: 0x24 is ¤, 0x40 ¡...).
_SAME_AS_ASCII = re.compile(r"[\n\r !\"#%-?A-Za-z]*")


def encode(text: str, encoding: str) -> bytes:
    """Bytes of ``text`` for the air interface: GSM 03.38 unpacked septets, or UTF-16-BE (UCS-2).
    Text of letters, digits and common punctuation only (most accent-stripped texts) is its ASCII
    bytes; the rest goes through smsutil's codec (a Python mapping, slow per character)."""
    if encoding != GSM7:
        return text.encode("utf_16_be")
    if text.isascii() and _SAME_AS_ASCII.fullmatch(text):
        return text.encode("ascii")
    return text.encode("gsm0338")


def decode(payload: bytes, data_coding: int) -> str:
    """Text of an incoming message (MO or receipt) from its SMPP data_coding."""
    if data_coding == 8:
        return payload.decode("utf_16_be", errors="replace")
    try:
        return payload.decode("gsm0338")
    except (UnicodeDecodeError, ValueError, TypeError):  # smsutil's codec raises TypeError on bytes past 0x7f
        return payload.decode("latin-1")
