import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.normalize import Normalized, parse_date, parse_year, parse_yearmonth

D = datetime.date(2020, 1, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "2020-01-05", "2020-1-5", "2020/1/5", "2020/01/05", "2020.1.5", "2020年1月5日", "2020年01月05日",
        "2020 年 1 月 5 日", "2020年1月5号", "20200105", "20200105.0", "2020-01-05 00:00:00",
        "2020-01-05T00:00:00", "2020/1/5 0:00", "２０２０－０１－０５", ' 2020-01-05 ', '="2020-01-05"',
    ],
)
def test_date_forms(raw):
    assert parse_date(raw) == Normalized(D, None)


@pytest.mark.parametrize("raw", ["43835", "43835.0", "43835.5"])
def test_excel_serial_is_informational(raw):
    assert parse_date(raw) == Normalized(D, "date_excel_serial")


@pytest.mark.parametrize("raw", ["2020-02-30", "2021-02-29", "2020-13-01", "20201301", "garbage", "19999", "80001",
                                 "2020-01", "1/5/2020", "2020-01-05-01"])
def test_unparseable_dates(raw):
    assert parse_date(raw) == Normalized(None, "date_unparseable")


@pytest.mark.parametrize("raw", ["1850-01-01", "2101-01-01", "0202-01-05", "18991231"])
def test_dates_out_of_range(raw):
    assert parse_date(raw) == Normalized(None, "date_out_of_range")


def test_date_empty_and_objects():
    assert parse_date(None) == Normalized(None, None)
    assert parse_date("  ") == Normalized(None, None)
    assert parse_date(D) == Normalized(D, None)
    assert parse_date(datetime.datetime(2020, 1, 5, 13, 0)) == Normalized(D, None)
    assert parse_date("2020-02-29").value == datetime.date(2020, 2, 29)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("202103", datetime.date(2021, 3, 1)), ("202103.0", datetime.date(2021, 3, 1)),
        ("2021-03", datetime.date(2021, 3, 1)), ("2021-3", datetime.date(2021, 3, 1)),
        ("2021/03", datetime.date(2021, 3, 1)), ("2021.03", datetime.date(2021, 3, 1)),
        ("2021年3月", datetime.date(2021, 3, 1)), ("2021年03月", datetime.date(2021, 3, 1)),
        ("2021-03-15", datetime.date(2021, 3, 15)), ("20210315", datetime.date(2021, 3, 15)),
    ],
)
def test_yearmonth_forms(raw, expected):
    assert parse_yearmonth(raw) == Normalized(expected, None)


def test_yearmonth_problems():
    assert parse_yearmonth("202113") == Normalized(None, "date_unparseable")
    assert parse_yearmonth("185003") == Normalized(None, "date_out_of_range")
    assert parse_yearmonth("43835") == Normalized(D, "date_excel_serial")
    assert parse_yearmonth("abc").problem == "date_unparseable"
    assert parse_yearmonth(None) == Normalized(None, None)


@pytest.mark.parametrize("raw", ["2019", "2019年", "2019.0", "2019年度", " 2019 ", "２０１９", "2019-06-30", "201906"])
def test_year_forms(raw):
    assert parse_year(raw) == Normalized(2019, None)


def test_year_problems():
    assert parse_year("1948") == Normalized(None, "year_out_of_range")
    assert parse_year("2101") == Normalized(None, "year_out_of_range")
    assert parse_year("1900-05-01") == Normalized(None, "year_out_of_range")
    assert parse_year("1850-05-01") == Normalized(None, "year_out_of_range")
    assert parse_year("今年") == Normalized(None, "year_unparseable")
    assert parse_year("19") == Normalized(None, "year_unparseable")
    assert parse_year("43835") == Normalized(None, "year_unparseable")
    assert parse_year("") == Normalized(None, None)
    assert parse_year(2019) == Normalized(2019, None)


_EPOCH = datetime.date(1899, 12, 30)
FORMATS = [
    lambda d: d.isoformat(),
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: f"{d.year}.{d.month}.{d.day}",
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: d.strftime("%Y%m%d"),
    lambda d: d.strftime("%Y%m%d") + ".0",
    lambda d: f"{d.isoformat()} 00:00:00",
]


@given(st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)), st.sampled_from(FORMATS))
def test_parse_date_round_trips(day, fmt):
    assert parse_date(fmt(day)) == Normalized(day, None)


@given(st.dates(datetime.date(1954, 10, 4), datetime.date(2100, 12, 31)))
def test_excel_serial_round_trips(day):
    serial = (day - _EPOCH).days
    assert parse_date(str(serial)) == Normalized(day, "date_excel_serial")
    assert parse_date(f"{serial}.0") == Normalized(day, "date_excel_serial")


@given(st.integers(1900, 2100), st.integers(1, 12))
def test_parse_yearmonth_round_trips(year, month):
    expected = Normalized(datetime.date(year, month, 1), None)
    assert parse_yearmonth(f"{year}{month:02d}") == expected
    assert parse_yearmonth(f"{year}-{month:02d}") == expected
    assert parse_yearmonth(f"{year}年{month}月") == expected
