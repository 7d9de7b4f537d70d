import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.normalize import name_problem, normalize_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        (" 张 三 ", "张三"),
        ("王\u3000小明", "王小明"),
        ("王\u00a0小明\u200b", "王小明"),
        ("王\t小\n明", "王小明"),
        ("ＡＢ", "AB"),
        ("买买提·吐尔逊", "买买提·吐尔逊"),
        ("买买提•吐尔逊", "买买提·吐尔逊"),
        ("买买提‧吐尔逊", "买买提·吐尔逊"),
        ("买买提・吐尔逊", "买买提·吐尔逊"),
        ("买买提．吐尔逊", "买买提·吐尔逊"),
        ("买买提･吐尔逊", "买买提·吐尔逊"),
        ("买买提.吐尔逊", "买买提·吐尔逊"),
        ("买买提 · 吐尔逊", "买买提·吐尔逊"),
        ("J.Smith", "J.Smith"),
        (None, None),
        ("", None),
        ("  \u3000", None),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("张三", None),
        ("买买提·吐尔逊", None),
        ("张三1", "name_has_digits"),
        ("11010519491231002X", "name_has_digits"),
        ("张３", "name_has_digits"),
        ("Zhang San", "name_has_latin"),
        ("张ｓａｎ", "name_has_latin"),
        (None, None),
        ("", None),
    ],
)
def test_name_problem(raw, problem):
    assert name_problem(raw) == problem


@given(st.text())
def test_normalize_name_is_idempotent(raw):
    once = normalize_name(raw)
    assert normalize_name(once) == once


@given(st.text(alphabet=st.sampled_from(list("张王李买提吐尔逊 ·•‧・．.\u3000\u00a0\u200b")), min_size=1))
def test_dots_are_unified_and_spaces_gone(raw):
    name = normalize_name(raw)
    # only blanks is no name; anything else survives without a space and with every middle-dot variant unified
    assert (name is None) == (raw.strip(" \u3000\u00a0\u200b") == ""), (raw, name)
    assert name is None or not any(ch in name for ch in " \u3000\u00a0\u200b•‧・．")
