"""Export wrappers and invisible characters: one cleaning (normalize._text) behind every value kind."""

from __future__ import annotations

import datetime
import re
import sys
import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.normalize import Normalized, normalize_value
from reconcile.normalize._text import (
    INVISIBLE_CHARS,
    MAYBE_BLANK,
    clean_cell,
    clean_code,
    is_blank,
    squeeze,
    strip_export,
)
from reconcile.normalize.columns import _PLAIN

ID = "430624199001192513"

# Every way an export hands over a value (domain.md §6.5 and what CSV writers/readers do to it).
FORMS = {
    "formula": '="{}"',
    "formula, quotes doubled by a CSV writer": '=""{}""',
    "formula as a CSV field never unquoted": '"=""{}"""',
    "formula with spaces": ' = "{}" ',
    "formula with spaces inside": '=" {} "',
    "Excel text marker": "'{}",
    "text marker inside a formula": "=\"'{}\"",
    "NBSP and ideographic space around": "\u00a0{}\u3000",
    "BOM and zero-width space": "\ufeff\u200b{}",
    "word joiner, ZWNJ, ZWJ": "\u2060\u200c{}\u200d",
    "tab and line break around": "\t{}\r\n",
    "formula with full-width characters": "＝＂{}＂",
}

CASES = [
    ("name", "张三", "张三"),
    ("name", "买买提·吐尔逊", "买买提·吐尔逊"),
    ("id", ID, ID),
    ("code:relation", "户主", "户主"),
    ("code:relation", "01", "户主"),
    ("codes:measure", "产业帮扶,技能培训", ("产业帮扶", "技能培训")),
    ("date", "2020-01-05", datetime.date(2020, 1, 5)),
    ("date", "2020年1月5日", datetime.date(2020, 1, 5)),
    ("yearmonth", "202103", datetime.date(2021, 3, 1)),
    ("year", "2019", 2019),
    ("money", "1,234.5", 1234.5),
    ("int", "4", 4),
    ("bool", "是", True),
    ("text", "文星镇人民政府", "文星镇人民政府"),
    ("text", "外出务工 3个月", "外出务工 3个月"),
    ("ident", "4306241012010000002", "4306241012010000002"),
    ("ident", "H-001", "H-001"),
    ("township", "文星镇", "文星镇"),
    ("village", "洞庭村", "洞庭村"),
]


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
@pytest.mark.parametrize(("kind", "value", "expected"), CASES, ids=[f"{k}:{v}" for k, v, _ in CASES])
def test_every_wrapper_is_removed_from_every_kind(kind, value, expected, form):
    assert normalize_value(form.format(value), kind) == Normalized(expected, None)


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    ("name", "张\u200b三", "张三"),
    ("name", "张\u00a0三", "张三"),
    ("name", "张\u3000三", "张三"),
    ("name", "张\u00ad三\ufe0f", "张三"),
    ("id", "430624\u200b199001192513", ID),
    ("ident", "430624 1012\u200b010000002", "4306241012010000002"),
    ("ident", "4306241012010000002.0", "4306241012010000002"),
    ("ident", '="4306241012010000002.0"', "4306241012010000002"),
    ("ident", "'0012", "0012"),
    ("ident", "12.50", "12.50"),
    ("code:relation", "1.0", "户主"),
    ("code:relation", '="01.0"', "户主"),
    ("int", '="4.0"', 4),
    ("date", '="20200105.0"', datetime.date(2020, 1, 5)),
    ("money", "'1,234.50元", 1234.5),
    # free text: invisible characters go, inner ordinary spaces stay, other whitespace becomes spaces
    ("text", "\u200b备注\u00a0内容\u2060", "备注 内容"),
    ("text", "备注\t内容", "备注 内容"),
    ("text", "第一行 \r\n 第二行", "第一行\n第二行"),
    ("text", "多  空格", "多  空格"),
    ("text", "（帮扶）", "(帮扶)"),
])
def test_inner_invisible_characters_and_float_tails(kind, raw, expected):
    assert normalize_value(raw, kind) == Normalized(expected, None)


@pytest.mark.parametrize("raw", ['=""', '=""""', '"="""""', "'", " = \"\u200b\" ", "\u3000\u00a0\ufeff", "＝＂＂"])
def test_a_wrapper_around_nothing_is_blank(raw):
    assert is_blank(raw)
    assert normalize_value(raw, "name") == normalize_value(raw, "ident") == Normalized(None, None)


def test_what_is_not_a_wrapper_stays():
    assert clean_cell("=A1") == "=A1"  # a formula, not the export trick
    assert clean_cell('他说"好"') == '他说"好"'
    assert clean_cell("O'Neil") == "O'Neil"
    assert clean_code("1.5") == "1.5" and clean_code("1.50") == "1.50"
    assert normalize_value("1.0", "text") == Normalized("1.0", None)  # free text keeps its digits
    assert normalize_value("张三.0", "name").value == "张三.0"


def test_problems_are_judged_on_the_cleaned_value():
    assert normalize_value('="张三1"', "name") == Normalized("张三1", "name_has_digits")
    assert normalize_value('="430624199001192514"', "id").problem == "id_check_digit"
    assert normalize_value('="外星人"', "code:relation") == Normalized(None, "code_unknown")
    # the float tail of an ID still says the number went through a float
    assert normalize_value('="430624199001192513.0"', "id").problem == "id_excel_number"


def test_headers_keep_their_spelling():
    assert strip_export('="乡镇（街道）"') == "乡镇（街道）"
    assert strip_export("\ufeff户编号\u200b ") == "户编号"
    assert clean_cell('="乡镇（街道）"') == "乡镇(街道)"


any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
odd_text = st.text(alphabet="=\"' \u00a0\u3000\u200b\ufeff\t\n.0张1aＡ（）＝＂＇\u0301", max_size=14)


@settings(max_examples=300, deadline=None)
@given(any_text | odd_text)
def test_cleaning_is_stable_when_applied_again(text):
    for clean in (clean_cell, squeeze, clean_code, strip_export):
        once = clean(text)
        assert clean(once) == once, (clean.__name__, text)
    assert not re.search(f"[{INVISIBLE_CHARS}]", clean_cell(text))
    assert clean_cell(text) == clean_cell(text).strip()


base_values = st.one_of(
    st.text(alphabet="王李张刘陈杨黄赵吴周·", min_size=1, max_size=6).map(lambda v: ("name", v)),
    st.text(alphabet="0123456789", min_size=1, max_size=20).map(lambda v: ("ident", v)),
    st.text(alphabet="0123456789X", min_size=15, max_size=18).map(lambda v: ("id", v)),
    st.text(alphabet="备注已核实务工外出 0123456789()", min_size=1, max_size=12).map(lambda v: ("text", v)),
    st.builds(lambda y, m, d: ("date", f"{y}-{m}-{d}"), st.integers(1890, 2110), st.integers(0, 13),
              st.integers(0, 32)),
    st.builds(lambda w, f: ("money", f"{w}{f}"), st.integers(0, 10**9), st.sampled_from(["", ".5", "万", "元"])),
    st.sampled_from(["户主", "02", "妻子", "1", "外星人"]).map(lambda v: ("code:relation", v)),
)


@settings(max_examples=300, deadline=None)
@given(base_values, st.sampled_from(list(FORMS.values())))
def test_a_wrapped_value_normalises_like_the_plain_one(case, form):
    kind, value = case
    assert normalize_value(form.format(value), kind) == normalize_value(value, kind)


def _code_points(last: int = sys.maxunicode):
    return (chr(c) for c in range(last + 1) if not 0xD800 <= c <= 0xDFFF)


def test_every_format_and_default_ignorable_character_is_removed():
    invisible = re.compile(f"[{INVISIBLE_CHARS}]")
    ignorable = {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}
    missed = [f"U+{ord(ch):04X}" for ch in _code_points()
              if (unicodedata.category(ch) == "Cf" or ch in ignorable or
                  (unicodedata.category(ch) == "Cc" and not ch.isspace())) and not invisible.match(ch)]
    assert missed == []
    assert squeeze("a\u00adb\u180ec\u061cd\U000e0041") == "abcd"


def test_blank_prefilter_lets_every_blank_cell_through():
    # a cell with a character outside MAYBE_BLANK's class is never blank, so the readers may trust it
    # (the BMP: beyond it only format characters, which the test above covers, can vanish)
    chars = pl.Series(list(_code_points(0xFFFF)), dtype=pl.String)
    outside = chars.filter(~chars.str.contains(MAYBE_BLANK))
    assert not [f"U+{ord(ch):04X}" for ch in outside.to_list() if is_blank(ch)]
    assert pl.Series(['=""', "\u3000", "\u200b", '"="""""', "＝＂＂", "'"]).str.contains(MAYBE_BLANK).all()


def test_plain_characters_of_the_fast_paths_need_no_cleaning():
    chars = pl.Series(list(_code_points()), dtype=pl.String)
    taken = chars.filter(chars.str.contains(f"^[{_PLAIN}]$")).to_list()
    assert len(taken) > 20000
    assert [f"U+{ord(ch):04X}" for ch in taken if clean_cell(f"a{ch}a") != f"a{ch}a"] == []
