import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.normalize import PROVINCE_CODES, IdInfo, id_check_char, is_valid_id, normalize_id

VALID = ["11010519491231002X", "440524188001010014", "360426199101010071", "120103198806018241", "230306196304054513"]
BAD_CHECK = ["360426199101010072", "230307196304054513"]
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("value", VALID)
def test_standard_vectors_are_valid(value):
    info = normalize_id(value)
    assert info.valid and info.problem is None and info.value == value
    assert is_valid_id(value)


@pytest.mark.parametrize("value", BAD_CHECK)
def test_wrong_check_digit_keeps_the_number_as_evidence(value):
    info = normalize_id(value)
    assert info == IdInfo(value, False, "id_check_digit", info.birth_date, info.sex, None)
    assert info.birth_date is not None and info.sex is not None
    assert not is_valid_id(value)


def test_check_char():
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        id_check_char("1234")


def test_birth_date_and_sex():
    info = normalize_id("11010519491231002X")
    assert info.birth_date == datetime.date(1949, 12, 31) and info.sex == "女"
    info = normalize_id("440524188001010014")
    assert info.birth_date == datetime.date(1880, 1, 1) and info.sex == "男"


def test_fifteen_digit_id_is_converted():
    info = normalize_id("110105491231002")
    assert info.value == "11010519491231002X"
    assert info.valid and info.problem == "id_converted_15"
    assert info.birth_date == datetime.date(1949, 12, 31)


@pytest.mark.parametrize(
    "raw",
    [
        '="11010519491231002X"',
        "'11010519491231002X",
        '"11010519491231002X"',
        "“11010519491231002X”",
        "11010519491231002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        " 110105 19491231 002X ",
        "\u00a011010519491231002X\u200b",
        "11010519491231002X\t\n",
        "\ufeff1101 0519 4912 3100 2x",
        "＝＂11010519491231002X＂",
    ],
)
def test_wrappers_and_noise_are_removed(raw):
    info = normalize_id(raw)
    assert info.value == "11010519491231002X" and info.valid and info.problem is None


def test_disability_certificate_number():
    info = normalize_id("11010519491231002X41")
    assert info.value == "11010519491231002X" and info.valid
    assert info.problem == "id_disability_suffix" and info.disability_suffix == "41"
    bad = normalize_id("36042619910101007241")
    assert bad.value == "360426199101010072" and not bad.valid and bad.problem == "id_check_digit"
    assert bad.disability_suffix == "41"


@pytest.mark.parametrize("raw", ["4.30624E+17", "4.30624198001011E+17", "4.30624e17", "1.10101E+17"])
def test_scientific_notation_is_unrecoverable(raw):
    assert normalize_id(raw) == IdInfo(None, False, "id_sci_notation", None, None, None)


def test_numeric_cell_digits_past_fifteen_are_not_trusted():
    info = normalize_id("430624198001011328", numeric_cell=True)
    assert info.value == "430624198001011328" and not info.valid and info.problem == "id_excel_number"
    assert info.birth_date == datetime.date(1980, 1, 1) and info.sex is None
    # even when Excel happened to invent a passing check digit
    assert normalize_id(VALID[2], numeric_cell=True).problem == "id_excel_number"
    # 15 digits fit in Excel's precision
    assert normalize_id("110105491231002", numeric_cell=True).problem == "id_converted_15"


def test_float_tail_means_a_numeric_cell():
    assert normalize_id("360426199101010071.0").problem == "id_excel_number"
    assert normalize_id(360426199101010071.0).problem == "id_excel_number"
    assert normalize_id("110105491231002.0").value == "11010519491231002X"


@pytest.mark.parametrize("raw", [None, "", "   ", '=""', "\u200b"])
def test_empty_is_not_a_problem(raw):
    assert normalize_id(raw) == IdInfo(None, False, None, None, None, None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("abc", "id_bad_chars"),
        ("3604261991O1010071", "id_bad_chars"),
        ("36042619910101007", "id_bad_length"),
        ("3604261991010100711", "id_bad_length"),
        ("36042619910101X071", "id_bad_chars"),
        ("000426199101010071", "id_bad_region"),
        ("160426199101010071", "id_bad_region"),
        ("360426199102300071", "id_bad_birth_date"),
        ("360426199113010071", "id_bad_birth_date"),
    ],
)
def test_bad_ids(raw, problem):
    info = normalize_id(raw)
    assert info.problem == problem and not info.valid


def test_region_codes():
    assert {"11", "65", "71", "81", "82", "83"} <= PROVINCE_CODES
    assert not {"16", "20", "66", "70", "84", "90"} & PROVINCE_CODES


def test_is_valid_id_is_strict_about_form():
    assert is_valid_id("11010519491231002x")
    assert not is_valid_id(None) and not is_valid_id("")
    assert not is_valid_id("110105491231002")
    assert not is_valid_id(" 11010519491231002X")


# --- properties -------------------------------------------------------------------------------


@st.composite
def valid_ids(draw, min_year=1900, max_year=2099):
    region = draw(st.sampled_from(sorted(PROVINCE_CODES))) + draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    birth = draw(st.dates(datetime.date(min_year, 1, 1), datetime.date(max_year, 12, 31)))
    seq = f"{draw(st.integers(0, 999)):03d}"
    first17 = region + birth.strftime("%Y%m%d") + seq
    return first17 + id_check_char(first17)


WRAPPERS = [
    lambda s: s,
    lambda s: f'="{s}"',
    lambda s: s.lower(),
    lambda s: s.translate(FULL_WIDTH),
    lambda s: f" {s[:6]} {s[6:14]} {s[14:]} ",
    lambda s: f"'{s}",
    lambda s: f"\u00a0{s}\u200b\n",
]


@given(valid_ids(), st.lists(st.sampled_from(WRAPPERS), max_size=3))
def test_generated_ids_are_valid_through_wrappers(value, wrappers):
    raw = value
    for wrap in wrappers:
        raw = wrap(raw)
    info = normalize_id(raw)
    assert info.valid and info.problem is None and info.value == value
    assert is_valid_id(value)
    assert info.birth_date == datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    assert info.sex == ("男" if int(value[16]) % 2 else "女")


@given(valid_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_one_changed_character_is_detected(value, position, char):
    if char == value[position] or (char == "X" and position != 17):
        return
    changed = value[:position] + char + value[position + 1 :]
    assert not normalize_id(changed).valid
    assert not is_valid_id(changed)


@given(valid_ids(min_year=1900, max_year=1999))
def test_fifteen_digit_form_converts_back(value):
    old = value[:6] + value[8:17]
    info = normalize_id(old)
    assert info.valid and info.problem == "id_converted_15"
    assert info.value == value
    assert info.birth_date == normalize_id(value).birth_date
    assert info.sex == normalize_id(value).sex
