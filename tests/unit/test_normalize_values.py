import datetime

import polars as pl
import pytest

from reconcile.normalize import INFORMATIONAL, PROBLEMS, Normalized, map_unique, normalize_id, normalize_value
from reconcile.normalize.problems import problem_message
from reconcile.schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, REGISTER_ATTRS, SURVEY_FIELDS, VISIT_FIELDS

KIND_CASES = [
    ("text", " 备注  内容 ", Normalized("备注  内容", None)),
    ("name", "买买提 • 吐尔逊", Normalized("买买提·吐尔逊", None)),
    ("name", "张三1", Normalized("张三1", "name_has_digits")),
    ("id", "110105491231002", Normalized("11010519491231002X", "id_converted_15")),
    ("id", "4.30624E+17", Normalized(None, "id_sci_notation")),
    ("code:relation", "妻子", Normalized("配偶", None)),
    ("code:relation_gbt4761", "02", Normalized("户主", None)),
    ("codes:cause", "1、2", Normalized(("因残", "因病"), None)),
    ("date", "2020年1月5日", Normalized(datetime.date(2020, 1, 5), None)),
    ("yearmonth", "202103", Normalized(datetime.date(2021, 3, 1), None)),
    ("year", "2019年", Normalized(2019, None)),
    ("int", "4人", Normalized(4, None)),
    ("money", "1,234元", Normalized(1234.0, None)),
    ("bool", "√", Normalized(True, None)),
    ("township", "城关镇人民政府", Normalized("城关镇", None)),
    ("village", "大田村委会", Normalized("大田村", None)),
]


@pytest.mark.parametrize(("kind", "raw", "expected"), KIND_CASES)
def test_normalize_value_dispatch(kind, raw, expected):
    assert normalize_value(raw, kind) == expected


def _all_schema_kinds() -> set[str]:
    kinds = {f.value_kind for table in (HOUSEHOLD_FIELDS, SURVEY_FIELDS, PERSON_FIELDS, VISIT_FIELDS) for f in table.values()}
    return kinds | {kind for attrs in REGISTER_ATTRS.values() for kind in attrs.values()}


@pytest.mark.parametrize("kind", sorted(_all_schema_kinds()))
@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\u00a0\t\n", "\u200b", '=""'])
def test_every_schema_kind_treats_blank_as_empty(kind, raw):
    assert normalize_value(raw, kind) == Normalized(None, None)


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError):
        normalize_value("x", "colour")
    with pytest.raises(ValueError):
        normalize_value("", "code:no_such_list")


def test_numeric_cell_reaches_the_id_normaliser():
    assert normalize_value("430624198001011328", "id", numeric_cell=True).problem == "id_excel_number"


def test_problem_codes_have_chinese_messages():
    assert INFORMATIONAL <= set(PROBLEMS)
    for code, template in PROBLEMS.items():
        assert "{value}" in template, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in template), code
    assert problem_message("id_check_digit", "360426199101010072") == "证件号码校验位错误:360426199101010072"
    assert problem_message("date_excel_serial", "43835", "2020-01-05").endswith("43835(2020-01-05)")


def test_every_reported_problem_code_is_declared():
    samples = {
        "id": ["abc", "123", "000426199101010071", "360426199102300071", "360426199101010072", "4.3E+17",
               "110105491231002", "11010519491231002X41"],
        "name": ["张三1", "Zhang"], "code:sex": ["外"], "date": ["x", "1800-01-01", "43835"],
        "year": ["x", "1800"], "int": ["x", "4.5"], "money": ["x"],
    }
    for kind, raws in samples.items():
        for raw in raws:
            problem = normalize_value(raw, kind).problem
            assert problem in PROBLEMS, (kind, raw)
    assert normalize_id("1", numeric_cell=False).problem in PROBLEMS


def test_map_unique_calls_once_per_distinct_value():
    calls = []

    def fn(value):
        calls.append(value)
        return None if value is None else value * 2

    series = pl.Series("v", ["a", None, "b", "a", None, "a"])
    result = map_unique(series, fn, return_dtype=pl.String)
    assert result.to_list() == ["aa", None, "bb", "aa", None, "aa"]
    assert result.name == "v"
    assert len(calls) == 3 and set(calls) == {"a", None, "b"}


def test_map_unique_types_and_edge_cases():
    ids = pl.Series("id", ["110105491231002", None, "110105491231002"])
    values = map_unique(ids, lambda raw: normalize_id(raw).value, return_dtype=pl.String)
    assert values.to_list() == ["11010519491231002X", None, "11010519491231002X"]
    dates = map_unique(pl.Series(["x", None], dtype=pl.String), lambda raw: None, return_dtype=pl.Date)
    assert dates.dtype == pl.Date and dates.to_list() == [None, None]
    empty = map_unique(pl.Series([], dtype=pl.String), len, return_dtype=pl.Int64)
    assert empty.len() == 0 and empty.dtype == pl.Int64
    structs = map_unique(ids, lambda raw: {"value": normalize_id(raw).value, "problem": normalize_id(raw).problem})
    assert structs.struct.field("problem").to_list() == ["id_converted_15", None, "id_converted_15"]
    with pytest.raises(TypeError):
        map_unique(ids, lambda raw: object())
