"""robocall.phones: every way people write a Vietnamese number, and every way it can be wrong.

The numbers are made up (random digits after real prefixes).
"""

from __future__ import annotations

from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocall import phones
from robocall.logging_setup import mask_phone
from robocall.phones import (
    OLD_MOBILE_PREFIXES,
    InvalidPhone,
    PhoneNumber,
    mask,
    normalize,
)

SAME_NUMBER = [
    "0905 111 201",
    "0905111201",
    "0905.111.201",
    "0905-111-201",
    "0905 111201",
    "090 5111 201",
    " 0905111201 ",
    "+84 905 111 201",
    "+84905111201",
    "+84-905-111-201",
    "+84 90 511 1201",
    "(+84) 905 111 201",
    "(+84)905111201",
    "+84 (0) 905 111 201",
    "+840905111201",
    "84905111201",
    "84 905 111 201",
    "840905111201",
    "0084905111201",
    "0084 905 111 201",
    "905111201",  # Excel dropped the leading 0
    "905111201.0",  # ... and made it a float, then someone exported CSV
    "905111201,0",
    "84905111201.0",
    "9.05111201E+8",
    "8.4905111201E+10",
    "'0905111201",  # Excel's text marker
    "0905\u00a0111\u00a0201",  # non-breaking spaces from a web page
    "\u200b0905111201\ufeff",  # invisible characters from copy-paste
    "０９０５１１１２０１",  # full-width digits
    "0905 111 201\t",
    905111201,
    905111201.0,
    84905111201,
    84905111201.0,
    Decimal("905111201"),
]


@pytest.mark.parametrize("raw", SAME_NUMBER, ids=repr)
def test_every_way_of_writing_a_number_gives_the_same_e164(raw: object) -> None:
    number = normalize(raw)
    assert number == PhoneNumber(
        e164="+84905111201", national="0905 111 201", carrier="MobiFone", type="mobile", remapped=False
    )


@pytest.mark.parametrize(
    ("raw", "e164", "carrier"),
    [
        ("0326 111 301", "+84326111301", "Viettel"),
        ("0868 111 302", "+84868111302", "Viettel"),
        ("0971 111 303", "+84971111303", "Viettel"),
        ("0912 111 304", "+84912111304", "Vinaphone"),
        ("0886 111 305", "+84886111305", "Vinaphone"),
        ("0835 111 306", "+84835111306", "Vinaphone"),
        ("0933 111 307", "+84933111307", "MobiFone"),
        ("0707 111 308", "+84707111308", "MobiFone"),
        ("0921 111 309", "+84921111309", "Vietnamobile"),
        ("0563 111 310", "+84563111310", "Vietnamobile"),
        ("0598 111 311", "+84598111311", "G-Mobile"),
        ("0996 111 312", "+84996111312", "G-Mobile"),
        ("0871 111 313", "+84871111313", "Vinaphone"),
        ("0896 111 314", "+84896111314", "MobiFone"),
    ],
)
def test_carrier_is_named_by_prefix(raw: str, e164: str, carrier: str) -> None:
    number = normalize(raw)
    assert (number.e164, number.carrier, number.type) == (e164, carrier, "mobile")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        # Viettel 0162-0169 -> 032-039
        ("01621 111 401", "+84321111401"),
        ("0163 1111 402", "+84331111402"),
        ("01641111403", "+84341111403"),
        ("0165.111.1404", "+84351111404"),
        ("01661111405", "+84361111405"),
        ("01671111406", "+84371111406"),
        ("01681111407", "+84381111407"),
        ("01691111408", "+84391111408"),
        # MobiFone
        ("01201111409", "+84701111409"),
        ("01211111410", "+84791111410"),
        ("01221111411", "+84771111411"),
        ("01261111412", "+84761111412"),
        ("01281111413", "+84781111413"),
        # Vinaphone
        ("01231111414", "+84831111414"),
        ("01241111415", "+84841111415"),
        ("01251111416", "+84851111416"),
        ("01271111417", "+84811111417"),
        ("01291111418", "+84821111418"),
        # Vietnamobile, Gmobile
        ("01861111419", "+84561111419"),
        ("01881111420", "+84581111420"),
        ("01991111421", "+84591111421"),
        # in international forms, and as Excel numbers without the 0
        ("+84 1663 111 422", "+84363111422"),
        ("+84 (0) 1663 111 423", "+84363111423"),
        ("841663111424", "+84363111424"),
        ("00841663111425", "+84363111425"),
        ("1663111426", "+84363111426"),
        (1663111427, "+84363111427"),
        (1663111428.0, "+84363111428"),
        (841663111429, "+84363111429"),
    ],
)
def test_pre_2018_eleven_digit_numbers_are_renumbered(raw: object, e164: str) -> None:
    number = normalize(raw)
    assert number.e164 == e164
    assert number.remapped
    assert number.type == "mobile"
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))


def test_the_remap_table_is_the_2018_renumbering() -> None:
    assert OLD_MOBILE_PREFIXES == {
        "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
        "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
        "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
        "186": "56", "188": "58", "199": "59",
    }


def test_phonenumbers_still_refuses_old_numbers_so_the_remap_is_needed() -> None:
    for old in OLD_MOBILE_PREFIXES:
        assert not phonenumbers.is_valid_number(phonenumbers.parse(f"0{old}1111430", "VN"))


def test_ten_digit_numbers_starting_0121_are_not_remapped() -> None:
    # 0121 0xx xxx is a current 10-digit MobiFone range; only 11-digit 0121 numbers were renumbered.
    number = normalize("0121 012 345")
    assert (number.e164, number.remapped, number.carrier) == ("+84121012345", False, "MobiFone")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "trống / empty"),
        ("   ", "trống / empty"),
        (None, "trống / empty"),
        (float("nan"), "trống / empty"),  # an empty cell read by pandas
        ("0123", "quá ngắn / too short"),
        ("091 111 50", "quá ngắn / too short"),
        ("0905 111 20", "quá ngắn / too short"),
        ("905 111 20", "quá ngắn / too short"),
        ("+84 905 111 20", "quá ngắn / too short"),
        ("0905 111 2011", "quá dài / too long"),
        ("+84 905 111 2011", "quá dài / too long"),
        ("0234 3822 123", "số cố định, cần số di động / landline, a mobile number is needed"),  # Huế landline
        ("02343822123", "số cố định, cần số di động / landline, a mobile number is needed"),
        ("+84 234 3822 123", "số cố định, cần số di động / landline, a mobile number is needed"),
        ("2343822123", "số cố định, cần số di động / landline, a mobile number is needed"),  # Excel dropped the 0
        (2343822123, "số cố định, cần số di động / landline, a mobile number is needed"),
        ("024 3826 1234", "số cố định, cần số di động / landline, a mobile number is needed"),  # Hà Nội
        ("0234 382 212", "quá ngắn / too short"),
        ("1900 1234", "số dịch vụ thu cước cao, cần số di động / premium-rate number, a mobile number is needed"),
        ("1800 1234", "số miễn cước, cần số di động / toll-free number, a mobile number is needed"),
        ("0891 111 501", "không phải số Việt Nam hợp lệ / not a valid Vietnamese number"),  # only 0896-0899 are allocated in 089
        ("0521 111 502", "không phải số Việt Nam hợp lệ / not a valid Vietnamese number"),
        ("0543 822 123", "không phải số Việt Nam hợp lệ / not a valid Vietnamese number"),  # Huế's landline code before 2017
        ("0612 345 678", "không phải số Việt Nam hợp lệ / not a valid Vietnamese number"),
        ("0011 111 503", "số nước ngoài (+1), cần số Việt Nam / foreign number (+1), a Vietnamese number is needed"),
        ("+1 202 555 0143", "số nước ngoài (+1), cần số Việt Nam / foreign number (+1), a Vietnamese number is needed"),
        ("+86 138 0013 8000", "số nước ngoài (+86), cần số Việt Nam / foreign number (+86), a Vietnamese number is needed"),
        ("0086 138 0013 8000", "số nước ngoài (+86), cần số Việt Nam / foreign number (+86), a Vietnamese number is needed"),
        ("0905 111 201 (Zalo)", "không phải số điện thoại / not a phone number"),
        ("không có", "không phải số điện thoại / not a phone number"),
        ("chưa có số", "không phải số điện thoại / not a phone number"),
        ("SĐT", "không phải số điện thoại / not a phone number"),
        ("x", "không phải số điện thoại / not a phone number"),
        ("0905*111*201", "không phải số điện thoại / not a phone number"),
        ("0905 111 201 ext 12", "không phải số điện thoại / not a phone number"),
        ("+84 +905111201", "không phải số điện thoại / not a phone number"),
        ("0905+111201", "không phải số điện thoại / not a phone number"),
        ("--", "không phải số điện thoại / not a phone number"),
        (True, "không phải số điện thoại / not a phone number"),
        (-905111201, "không phải số điện thoại / not a phone number"),
        (905111201.5, "không phải số điện thoại / not a phone number"),
        ("0905 111 201 / 0935 111 202", "có nhiều hơn một số / more than one number"),
        ("0905111201;0935111202", "có nhiều hơn một số / more than one number"),
        ("0905111201, 0935111202", "có nhiều hơn một số / more than one number"),
        ("0905111201 - 0935111202", "có nhiều hơn một số / more than one number"),
        ("0905 111 201\n0935 111 202", "có nhiều hơn một số / more than one number"),
        ("0905111201  0935111202", "có nhiều hơn một số / more than one number"),
        ("9.05111E+8", "mất chữ số: bảng tính hiển thị số dạng khoa học (hãy định dạng cột là văn bản) / digits lost: the spreadsheet shows it in scientific notation (format the column as text)"),
        ("8.49051E+10", "mất chữ số: bảng tính hiển thị số dạng khoa học (hãy định dạng cột là văn bản) / digits lost: the spreadsheet shows it in scientific notation (format the column as text)"),
        ("9.0511120E+8", "mất chữ số: bảng tính hiển thị số dạng khoa học (hãy định dạng cột là văn bản) / digits lost: the spreadsheet shows it in scientific notation (format the column as text)"),
        ("9.051112011E+8", "không phải số điện thoại / not a phone number"),
    ],
    ids=repr,
)
def test_bad_numbers_say_why(raw: object, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize(raw)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_reasons_never_contain_the_number() -> None:
    for raw in ["0234 3822 123", "0891 111 501", "0905 111 2011", "+1 202 555 0143"]:
        with pytest.raises(InvalidPhone) as caught:
            normalize(raw)
        assert not any(ch.isdigit() for ch in caught.value.reason.replace("+1", ""))


def test_landlines_are_accepted_when_a_mobile_is_not_required() -> None:
    number = normalize("0234 3822 123", require_mobile=False)
    assert (number.e164, number.national, number.type, number.carrier) == (
        "+842343822123", "0234 3822 123", "landline", ""
    )
    assert normalize("1800 1234", require_mobile=False).type == "toll-free"
    with pytest.raises(InvalidPhone, match="not a valid Vietnamese number"):
        normalize("0891 111 501", require_mobile=False)


def test_other_regions() -> None:
    us = normalize("(201) 555-0123", region="US", require_mobile=False)
    assert us.e164 == "+12015550123"
    assert normalize("+1 201 555 0123", region="US", require_mobile=False).e164 == "+12015550123"
    with pytest.raises(InvalidPhone, match=r"not a number of US \(\+84\)"):
        normalize("+84 905 111 201", region="US")
    with pytest.raises(InvalidPhone, match=r"not a number of US \(\+86\)"):
        normalize("+86 138 0013 8000", region="US")


def test_hcmc_landlines_written_before_2017_look_like_mobiles() -> None:
    # "08 3822 1234" was a Hồ Chí Minh City landline until 2017 (now 028 3822 1234); the same
    # digits are a valid Vinaphone number today (083 came from 0123). No way to tell them apart.
    assert normalize("08 3822 1234").e164 == "+84838221234"


def test_numbers_separated_like_groups_are_one_number() -> None:
    # Dashes and spaces between digit groups are not "two numbers".
    assert normalize("0905 - 111 - 201").e164 == "+84905111201"
    assert normalize("0905-111-201").e164 == "+84905111201"


def test_result_is_immutable_and_prints_as_e164() -> None:
    number = normalize("0905 111 201")
    assert str(number) == "+84905111201"
    with pytest.raises(AttributeError):
        number.e164 = "+84905111202"  # type: ignore[misc]


# --- masking -------------------------------------------------------------------


def test_mask_is_the_logging_mask() -> None:
    assert mask is mask_phone
    assert mask("+84905111201") == "+849******01"
    assert normalize("0905 111 201").masked == "+849******01"
    assert mask("") == ""


# --- fast path agrees with phonenumbers -----------------------------------------

# A national significant number never starts with 0 (that's the trunk prefix).
NINE_DIGITS = st.tuples(
    st.sampled_from("123456789"), st.text(alphabet="0123456789", min_size=8, max_size=8)
).map("".join)
FORMS = ["0{n}", "+84{n}", "84{n}", "0084{n}", "0{a} {b} {c}", "+84 {a} {b} {c}"]


def _reference(raw: str) -> PhoneNumber | None:
    """What phonenumbers itself says, for a form it understands: a mobile, or None."""
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        return None
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        carrier=phonenumbers.carrier.name_for_number(number, "en"),
        type="mobile",
    )


@settings(max_examples=3000, deadline=None)
@given(digits=NINE_DIGITS, form=st.sampled_from(FORMS))
def test_agrees_with_phonenumbers(digits: str, form: str) -> None:
    raw = form.format(n=digits, a=digits[:3], b=digits[3:6], c=digits[6:])
    expected = _reference(raw)
    if expected is None:
        with pytest.raises(InvalidPhone):
            normalize(raw)
    else:
        assert normalize(raw) == expected


@pytest.mark.parametrize("prefix", [f"{n:03d}" for n in range(300, 1000) if str(n)[0] in "35789"])
def test_fast_path_matches_full_path_for_every_prefix(prefix: str) -> None:
    for tail in ("000000", "123456", "999999"):
        nsn = prefix + tail
        raw = "0" + nsn
        fast = phones._fast(raw)
        reference = _reference(raw)
        assert fast == reference, raw


@settings(max_examples=2000, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=13))
def test_never_accepts_what_phonenumbers_calls_invalid(digits: str) -> None:
    try:
        number = normalize(digits)
    except InvalidPhone as exc:
        assert exc.reason
        return
    parsed = phonenumbers.parse(number.e164)
    assert phonenumbers.is_valid_number_for_region(parsed, "VN")
    assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    assert number.e164 == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_carrier_is_constant_within_each_three_digit_prefix() -> None:
    # The fast path caches carrier names per 3 digits after +84: phonenumbers must not
    # name Vietnamese carriers by longer prefixes, or numbers sharing 3 digits could differ.
    for n in range(10_000, 100_000):
        prefix = str(n)
        if prefix[0] not in "35789":
            continue
        number = phonenumbers.PhoneNumber(country_code=84, national_number=int(prefix + "0000"))
        assert phonenumbers.carrier.name_for_number(number, "en") == phones._carrier_for(prefix + "0000"), prefix


def test_fast_path_is_fast() -> None:
    import time

    numbers = [f"09{n:08d}" for n in range(11_000_000, 11_020_000)]
    start = time.perf_counter()
    for raw in numbers:
        normalize(raw)
    elapsed = time.perf_counter() - start
    # ~4 µs per number on a laptop core; the bound is loose for slow CI machines.
    assert elapsed < 2.0, f"{len(numbers)} numbers took {elapsed:.2f}s"


@pytest.mark.parametrize(("cell", "numbers"), [
    ("0912345678 (Zalo)", ["0912345678"]),
    ("0912.345.678 / 0987 654 321", ["0912.345.678", "0987 654 321"]),
    ("ĐT: 0912345678, nhà 0987654321", ["0912345678", "0987654321"]),
    ("\u20190912345678", ["0912345678"]),
    ("`0912345678", ["0912345678"]),
    ("+84 (0) 912 345 678", ["+84 (0) 912 345 678"]),
    ("8.4912345678E+10", ["8.4912345678E+10"]),
    ("không có", ["không có"]),
    (912345678, [912345678]),
])
def test_numbers_as_people_write_them(cell: object, numbers: list[object]) -> None:
    from robocall.phones import numbers_in

    assert numbers_in(cell) == numbers


def test_leading_apostrophes_of_every_kind_and_foreign_numbers_when_allowed() -> None:
    for marker in "'\u2019\u2018`":
        assert normalize(f"{marker}0234 3822 123", require_mobile=False).type == "landline"
    with pytest.raises(InvalidPhone, match="foreign number"):
        normalize("+1 650 253 0000")
    assert normalize("+1 650 253 0000", require_mobile=False, allow_foreign=True).e164 == "+16502530000"
