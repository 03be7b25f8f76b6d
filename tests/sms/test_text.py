"""Encoding and segment counts at the boundaries, with Vietnamese text (smsutil underneath)."""

from __future__ import annotations

import unicodedata

import pytest
import smsutil
from hypothesis import given, settings
from hypothesis import strategies as st

from robocall.text import GSM7, UCS2, measure, parts, strip_accents

VI = "ế"  # one UCS-2 character, a Vietnamese letter GSM-7 lacks


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_segments_at_70_and_67(length: int, segments: int) -> None:
    result = measure(("Thông báo " + VI * length)[:length])
    assert result.encoding == UCS2
    assert result.segments == segments


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_segments_at_160_and_153(length: int, segments: int) -> None:
    result = measure(("Thong bao khan " * 30)[:length])
    assert (result.encoding, result.segments) == (GSM7, segments)


def test_gsm7_extension_characters_count_twice() -> None:
    assert measure("€" * 80).segments == 1  # 160 septets
    assert measure("€" * 81).segments == 2
    assert measure("a" * 159 + "[").segments == 2  # 161 septets
    assert measure("a" * 158 + "|").segments == 1


def test_nfd_text_is_measured_as_nfc() -> None:
    nfc = "Sở Y tế thông báo: " + "Đề nghị người dân khai báo y tế. " * 2
    nfd = unicodedata.normalize("NFD", nfc)
    assert len(nfd) > len(nfc)
    assert measure(nfd) == measure(nfc)


def test_strip_accents_makes_vietnamese_fit_gsm7() -> None:
    text = "Sở Y tế Đà Nẵng: đề nghị người dân ở nhà, đeo khẩu trang, khai báo y tế."
    stripped = strip_accents(text)
    assert stripped == "So Y te Da Nang: de nghi nguoi dan o nha, deo khau trang, khai bao y te."
    assert measure(text).encoding == UCS2 and measure(stripped).encoding == GSM7
    assert strip_accents(unicodedata.normalize("NFD", text)) == stripped


def test_long_vietnamese_text_splits_into_67_character_parts() -> None:
    text = "Thông báo khẩn của Ban chỉ đạo phòng chống dịch tỉnh: " * 4
    pieces = parts(text)
    assert "".join(pieces) == unicodedata.normalize("NFC", text)
    assert all(len(p) <= 67 for p in pieces) and len(pieces) == measure(text).segments


# measure() tells a text that fits one SMS by its size and strip_accents() works character by character
# (both for speed, docs/performance.md): they must agree with smsutil and the plain NFD way on any text.
_ALPHABET = "aáàảãạăắằẳẵặâấầẩẫậđĐeéèẻẽẹêếềểễệoơờởỡợưứừửữự €[]{}^~|\\\f0123456789😀" + "ABCxyz .,:"


@given(st.text(alphabet=_ALPHABET, max_size=330))
@settings(max_examples=400, deadline=None)
def test_measure_agrees_with_smsutil_and_stripping_with_nfd(text: str) -> None:
    text = unicodedata.normalize("NFC", text)
    for candidate in (text, "".join(c for c in text if c.isascii() or c == "€")):
        assert measure(candidate).segments == len(smsutil.split(candidate).parts)
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    assert strip_accents(text) == unicodedata.normalize("NFC", "".join(c for c in plain if not unicodedata.combining(c)))


@given(st.dictionaries(st.sampled_from(["ho_va_ten", "xa", "ngay"]),
                       st.text(alphabet=_ALPHABET + "\u0301\u0323", max_size=40)),  # loose marks at the edges too
       st.booleans(), st.sampled_from([
           # text and fields only: filled by joining pieces finished one by one
           "Kính gửi {{ ho_va_ten }} ({{ xa }}), ngày {{ngay}}: khai báo y tế {{ ho_va_ten }}.",
           "{{ xa }}{{ ngay }}\u0301 ấp {{ ho_va_ten }}",
           # anything else: rendered by Jinja through a shared context
           "Kính gửi {{ ho_va_ten | upper }}{% if xa %} ở {{ xa }}{% endif %}, ngày {{ ngay }}.",
       ]))
@settings(max_examples=300, deadline=None)
def test_a_campaign_template_renders_as_jinja_renders_it(values: dict[str, str], strip: bool, source: str) -> None:
    """Template.for_recipient joins pieces (text and fields only) or renders through a shared context
    (no globals copied): the same text as Jinja's own render, finished as a whole; fields missing from
    a row read as empty."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from sms.prepare import Template

    expected = SandboxedEnvironment(undefined=StrictUndefined).from_string(source).render(
        {name: values.get(name) or "" for name in ("ho_va_ten", "xa", "ngay")})
    expected = unicodedata.normalize("NFC", expected)
    text, measured = Template(source, strip).for_recipient(values)
    assert text == (strip_accents(expected) if strip else expected)
    assert measured == measure(text)


@given(st.text(alphabet="".join(map(chr, range(128))) + "àéĐ€£¥§¿ÄÖÑÜäöñüà", max_size=200))
@settings(max_examples=300, deadline=None)
def test_gsm_bytes_are_what_the_codec_gives(text: str) -> None:
    """encode() takes a shortcut for plain ASCII text: it must give smsutil's GSM 03.38 bytes exactly,
    and leave every other character ($ is 0x02, @ 0x00, _ 0x11, ¤ 0x24...) to the codec."""
    from robocall.text import GSM7, encode

    try:
        expected = text.encode("gsm0338")
    except (UnicodeEncodeError, ValueError):
        return  # not GSM text: encode() is never asked for it (measure() says UCS-2)
    assert encode(text, GSM7) == expected
