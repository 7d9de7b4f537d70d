import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.normalize import Normalized, parse_bool, parse_int, parse_money, parse_number, parse_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", 1234.0), ("1,234.5", 1234.5), ("1 234元", 1234.0), ("１２３４", 1234.0), ("￥1234", 1234.0),
        ("¥1,234.00", 1234.0), ("3.2万", 32000.0), ("3.2万元", 32000.0), ("-200", -200.0), ("−200", -200.0),
        ("-¥200", -200.0), ("¥-200", -200.0), ("1，234", 1234.0), ("1234.0", 1234.0), ("0", 0.0), (".5", 0.5),
        ("1234元整", 1234.0), ("RMB 100", 100.0), ('="1234"', 1234.0), ("0.1万", 1000.0),
    ],
)
def test_parse_money(raw, expected):
    assert parse_money(raw) == Normalized(expected, None)


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", "1.2.3", "--200", "-¥-200", "12a", "元", "万"])
def test_money_garbage(raw):
    assert parse_money(raw) == Normalized(None, "number_unparseable")


def test_money_empty_and_numbers():
    assert parse_money(None) == Normalized(None, None)
    assert parse_money(" ") == Normalized(None, None)
    assert parse_money(12) == Normalized(12.0, None)
    assert parse_money(float("nan")) == Normalized(None, "number_unparseable")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("4", 4), ("4.0", 4), ("4人", 4), ("４", 4), (" 4 ", 4), ("4户", 4), ("-3", -3), ("1,200", 1200), ("4.00", 4)],
)
def test_parse_int(raw, expected):
    assert parse_int(raw) == Normalized(expected, None)


def test_int_problems():
    assert parse_int("4.5") == Normalized(None, "int_not_whole")
    assert parse_int("abc") == Normalized(None, "number_unparseable")
    assert parse_int("4kg") == Normalized(None, "number_unparseable")
    assert parse_int(None) == Normalized(None, None)
    assert parse_int("") == Normalized(None, None)
    assert parse_int(4.0) == Normalized(4, None)


@pytest.mark.parametrize("raw", ["是", "有", "Y", "yes", "1", "√", "✓", "true", "已", "1.0"])
def test_parse_bool_true(raw):
    assert parse_bool(raw) == Normalized(True, None)


@pytest.mark.parametrize("raw", ["否", "无", "N", "no", "0", "×", "✗", "false", "未"])
def test_parse_bool_false(raw):
    assert parse_bool(raw) == Normalized(False, None)


def test_parse_bool_unknown_and_empty():
    assert parse_bool("也许") == Normalized(None, "code_unknown")
    assert parse_bool(None) == Normalized(None, None)
    assert parse_bool(True) == Normalized(True, None)


MONEY_FORMATS = [
    lambda x: f"{x:,.2f}",
    lambda x: f"{x:,.2f}元",
    lambda x: f"¥{x:,.2f}",
    lambda x: f"{x:.2f}",
    lambda x: f"{x:,.2f}".replace(",", " "),
]


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), st.sampled_from(MONEY_FORMATS))
def test_parse_money_round_trips(amount, fmt):
    result = parse_money(fmt(amount))
    assert result.problem is None
    assert math.isclose(result.value, float(f"{amount:.2f}"), rel_tol=0, abs_tol=1e-9)


@given(st.integers(-(10**9), 10**9))
def test_parse_int_round_trips(number):
    assert parse_int(f"{number:,}") == Normalized(number, None)
    assert parse_int(f"{number}.0") == Normalized(number, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.5", 12.5), ("12.5亩", 12.5), ("1,200平方米", 1200.0), ("-2", -2.0), ("0", 0.0), (" 3 亩 ", 3.0), (7, 7.0)],
)
def test_parse_number(raw, expected):
    assert parse_number(raw) == Normalized(expected)


def test_number_problems_and_empty():
    assert parse_number("好几亩").problem == "number_unparseable"
    assert parse_number("12.5元/亩").problem == "number_unparseable"
    assert parse_number(None) == Normalized(None) and parse_number("  ") == Normalized(None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13800001234", "13800001234"), ("138 0000 1234", "13800001234"), ("138-0000-1234", "13800001234"),
     ("+86 13800001234", "13800001234"), ("8613800001234", "13800001234"), ("0731-84561234", "073184561234"),
     (13800001234.0, "13800001234"), ("13800001234.0", "13800001234"), ('="13800001234"', "13800001234"),
     ("1380000123", "1380000123")],  # a wrong length is the rules' finding (CK-PHONE), not an input issue
)
def test_parse_phone(raw, expected):
    assert parse_phone(raw) == Normalized(expected)


def test_phone_problems_and_empty():
    assert parse_phone("无").problem == "phone_unparseable"
    assert parse_phone("138000O1234").problem == "phone_unparseable"  # a letter O typed for a zero
    assert parse_phone(None) == Normalized(None) and parse_phone("") == Normalized(None)


@pytest.mark.parametrize("raw", ["1,2,3", "1,23", "12,34,567", "1.234,5", "12, 345", "1 2 3", "3,4人", "1,2,3万"])
def test_commas_that_do_not_group_thousands(raw):
    """issue 16: "1,2,3" is three numbers in one cell (or a list), never 123; thousands come in groups of three."""
    expected = Normalized(None, "number_bad_grouping")
    assert parse_money(raw) == expected
    assert parse_number(raw) == expected
    if not raw.endswith("万"):
        assert parse_int(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("1,234,567", 1234567.0), ("1 234 567", 1234567.0), ("-99,999,999", -99999999.0), ("1,234.56", 1234.56),
    ("12,345元", 12345.0), ("1234,", 1234.0), ("１，２３４", 1234.0), ("RMB 1,000", 1000.0),
])
def test_thousands_separators(raw, expected):
    assert parse_money(raw) == Normalized(expected, None)
