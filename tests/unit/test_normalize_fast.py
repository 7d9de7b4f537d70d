"""The column fast paths give exactly what the Python normalisers give, value for value."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.normalize.columns import (
    FAST_PATHS,
    _coerce,
    normalize_id_series,
    normalize_series,
    peel_wrapper,
)
from reconcile.normalize.ids import id_check_char, normalize_id
from reconcile.normalize.values import normalize_value

digits = st.text(alphabet="0123456789", min_size=1, max_size=14)
dates = st.builds(lambda y, m, d, sep: f"{y:04d}{sep}{m:02d}{sep}{d:02d}", st.integers(1800, 2200),
                  st.integers(0, 13), st.integers(0, 32), st.sampled_from(["-", "", "/", "."])) | \
    st.builds(lambda y, m, d, form: form.format(y, m, d), st.integers(1800, 2200), st.integers(0, 13),
              st.integers(0, 32), st.sampled_from(["{}/{}/{}", "{}年{}月{}日", "{}年{}月{}号", "{}年{}月{}", "{}-{}.{}",
                                                   "{}年{:02d}月{:02d}日", "{}/{}/{} 12:30", "{} 年{}月{}日",
                                                   "{}{}{}", "{}/{}/{}/"]))
grouped = st.builds(lambda head, groups: ",".join([head, *groups]), st.text(alphabet="0123456789", min_size=1,
                                                                            max_size=4),
                    st.lists(st.text(alphabet="0123456789", min_size=2, max_size=4), min_size=1, max_size=4))
money = st.builds(lambda sign, whole, frac, unit: f"{sign}{whole}{frac}{unit}", st.sampled_from(["", "-", "+"]),
                  digits | grouped, st.sampled_from(["", ".5", ".05", ".123456", ".1234567", ".", "万"]),
                  st.sampled_from(["", "元", "元整", "圆", "万元"]))
names = st.text(alphabet="王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高 ·.A1\u3400\uf900", min_size=1, max_size=9)
noise = st.text(min_size=0, max_size=12)
texts = st.text(alphabet="备注已核实务工外出 aZ09-()（）、。《》=\"'\u00a0\u3000\u200b\n", min_size=1, max_size=14)
idents = st.builds(lambda body, tail: body + tail, digits | st.text(alphabet="0123456789AXx-_ ", max_size=12),
                   st.sampled_from(["", ".0", ".00", ".5"]))

# What exports put around a value (domain.md §6.5): the ="…" formula as written, with its quotes
# doubled by a CSV writer, as a field never unquoted, with spaces around; Excel's text marker;
# invisible and Unicode space characters around or inside.
WRAPPERS = ['="{}"', '=""{}""', '"=""{}"""', ' = "{}" ', "'{}", "'=\"{}\"", '="\'{}"', "\u00a0{}\u3000",
            "\u200b{}\ufeff", "{}\u2060", "\u200c{}\u200d", "\t{}\r\n", '=" {} "', '=\"{}']
wrappers = st.sampled_from(WRAPPERS)


def wrapped(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The values as they are and inside every export wrapper."""
    return values | st.builds(lambda value, form: form.format(value), values, wrappers)


CASES = {kind: wrapped(strategy) for kind, strategy in {
    "date": dates | noise, "yearmonth": dates | digits | noise, "year": digits | noise, "money": money | noise,
    "int": digits | noise, "name": names | noise, "text": texts | noise, "ident": idents | noise}.items()}


def _expected(values: list[str], kind: str) -> tuple[list, list]:
    results = [normalize_value(v, kind) for v in values]
    return [_coerce(r.value, kind) for r in results], [r.problem for r in results]


def _check(kind: str, values: list[str]) -> None:
    got_values, got_problems = normalize_series(pl.Series("x", values, dtype=pl.String), kind)
    want_values, want_problems = _expected(values, kind)
    assert got_values.to_list() == want_values
    assert got_problems.to_list() == want_problems


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_fast_path_equals_its_normaliser(data):
    for kind, strategy in CASES.items():
        _check(kind, data.draw(st.lists(strategy, min_size=1, max_size=30), label=kind))


def test_fast_paths_take_the_common_shapes():
    _check("date", ["2020-01-05", "2020-02-30", "1899-12-31", "2101-01-01", "2020/1/5", "20200105", "43831",
                    "2020年1月5日", "2020年12月31号", "2020.1.5", "2020/13/1", "2020年2月30日", "19000101", "21001231",
                    "2101/1/1", "2020-1/5", "2020/01/05"])
    _check("money", ["1234.5", "-200", "0", "-0", "1,234", "3.2万", "12.1234567", "+5", "1,234.56元", "1234元",
                     "-1,234", "0,123", "1234,567", "1,23", "12,345,678,901.5", "1,234,567,890,123"])
    _check("int", ["4", "0004", "4.0", "4人", "9999999999"])
    _check("year", ["1948", "1949", "2100", "2101", "2020年", "2020.0"])
    _check("name", ["王小明", "买买提·吐尔逊", "王 小明", "王小明1", "李\uf900"])
    _check("text", ["备注 内容", " 备注", "（元）", "a\u200bb", "'=\"x\"", '="x"', "=x", "多  空格"])
    _check("ident", ["4306240101001", "4306240101001.0", "H 001", "'0012", '="0012"', "1.5"])
    _check("number", ["12.5", "-1", "0", "12.5亩", "1,200", "3.2万"])
    _check("phone", ["13800001234", "0731-84561234", "138 0000 1234", "13800001234.0", "无", "+8613800001234"])
    assert set(FAST_PATHS) == {"date", "yearmonth", "year", "money", "number", "int", "name", "text", "ident", "phone"}


def test_fast_paths_take_wrapped_values():
    """A fully wrapped export stays on the column path: the wrapper is peeled before the fast path."""
    taken = {"date": "2020-01-05", "money": "1234.5", "int": "4", "year": "2020", "name": "王小明",
             "text": "备注 内容", "ident": "4306240101001"}
    for kind, value in taken.items():
        forms = [form.format(value) for form in ('="{}"', '=""{}""', ' = "{}" ', "'{}")]
        ok, _ = FAST_PATHS[kind](pl.col("raw"))
        peeled = pl.DataFrame({"raw": forms}).select(peel_wrapper(pl.col("raw")))
        assert peeled["raw"].to_list() == [value] * len(forms)
        assert peeled.select(ok.alias("ok"))["ok"].all(), kind
        _check(kind, forms)


def _id(body17: str) -> str:
    return body17 + id_check_char(body17)


id_bodies = st.builds(lambda region, y, m, d, seq: f"{region}{y:04d}{m:02d}{d:02d}{seq:03d}",
                      st.sampled_from(["430624", "110101", "990101", "650102"]), st.integers(1840, 2110),
                      st.integers(0, 13), st.integers(0, 32), st.integers(0, 999))
ids = wrapped(st.one_of(id_bodies.map(_id), id_bodies.map(lambda b: b + "0"), id_bodies.map(lambda b: b + "X"),
                        id_bodies.map(lambda b: _id(b).lower()), id_bodies.map(lambda b: b[:15]), noise))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ids, st.booleans()), min_size=1, max_size=30))
def test_id_fast_path_equals_normalize_id(cells):
    raw = pl.Series("id", [c[0] for c in cells], dtype=pl.String)
    numeric = pl.Series("n", [c[1] for c in cells], dtype=pl.Boolean)
    got = normalize_id_series(raw, numeric)
    for (value, is_numeric), row in zip(cells, got.iter_rows(named=True), strict=True):
        info = normalize_id(value, is_numeric)
        assert (row["value"], row["valid"], row["problem"], row["birth"], row["sex"]) == \
            (info.value, info.valid, info.problem, info.birth_date, info.sex), value


def test_the_column_paths_take_the_shapes_exports_mix():
    """The shapes a county's exports mix (issue 18: 89,000 distinct dates of the 50k county went through Python)
    are taken by the column path, not only agreed with."""
    for kind, values in {"date": ["2020/1/5", "2020.01.05", "2020年1月5日", "2020年1月5号", "20200105"],
                         "yearmonth": ["2020/1/5", "2020年1月5日"],
                         "money": ["1,234", "1,234.56", "1234元", "12,345.6元", "-1,234"]}.items():
        ok, _ = FAST_PATHS[kind](pl.col("raw"))
        assert pl.DataFrame({"raw": values}).select(ok.alias("ok"))["ok"].to_list() == [True] * len(values), kind
