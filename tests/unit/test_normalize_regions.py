import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.normalize import normalize_township, normalize_village, village_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("城关镇", "城关镇"),
        ("城关镇人民政府", "城关镇"),
        (" 城关镇 人民政府 ", "城关镇"),
        ("城关镇政府", "城关镇"),
        ("东城街道办事处", "东城街道"),
        ("东城街道办", "东城街道"),
        ("东城办事处", "东城街道"),
        ("红旗乡人民政府", "红旗乡"),
        ("湘阴县东塘镇", "东塘镇"),
        ("湘阴县东塘镇人民政府", "东塘镇"),
        ("某某自治县城关镇", "城关镇"),
        ("高新区街道", "高新区街道"),
        ("城区镇", "城区镇"),
        ("新市镇", "新市镇"),
        ("永州市冷水滩区梅湾街道", "梅湾街道"),
        ("城关镇", "城关镇"),
        (None, None),
        ("  ", None),
    ],
)
def test_normalize_township(raw, expected):
    assert normalize_township(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["大田村", "大田村委会", "大田村民委员会", "大田", "城关镇大田村", "城关镇大田村委会", " 大田 村 ", "大田村村委会",
     "大田社区", "大田居委会", "大田居民委员会", "大田社区居委会", "东城街道大田社区", "红旗乡大田村"],
)
def test_village_key_variants(raw):
    assert village_key(raw) == "大田"


def test_village_key_keeps_names_that_only_look_like_prefixes():
    assert village_key("新乡村") == "新乡"  # 新乡 is the village, not a township
    assert village_key("古镇口村") == "古镇口"
    assert village_key("城关镇新乡村") == "新乡"
    assert village_key("村") == "村"
    assert village_key(None) is None and village_key(" ") is None


def test_village_key_with_given_township():
    assert village_key("沙镇大田村", township="沙镇") == "大田"
    assert village_key("沙镇大田村") == "沙镇大田"  # a 2-character prefix is not trusted blindly
    assert village_key("城关镇大田村", township="城关镇人民政府") == "大田"
    assert village_key("城关镇", township="城关镇") == "城关镇"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("大田村委会", "大田村"),
        ("大田村民委员会", "大田村"),
        ("大田", "大田村"),
        ("城关镇大田村", "大田村"),
        ("大田社区", "大田社区"),
        ("大田居委会", "大田社区"),
        ("东城街道大田社区居民委员会", "大田社区"),
        ("村", "村"),
        (None, None),
    ],
)
def test_normalize_village(raw, expected):
    assert normalize_village(raw) == expected


VILLAGE_TEXT = st.text(alphabet=st.sampled_from(list("大田新山河村社区居委员会民镇乡街道城关东西 ")), min_size=1, max_size=12)


@given(VILLAGE_TEXT)
def test_village_key_is_idempotent(raw):
    key = village_key(raw)
    assert village_key(key) == key


@given(VILLAGE_TEXT, st.sampled_from(["村委会", "村民委员会"]))
def test_village_key_ignores_an_added_committee_suffix(raw, suffix):
    assert village_key(raw + suffix) == village_key(raw) or village_key(raw) is None


@given(st.text(max_size=12))
def test_village_key_is_idempotent_on_any_text(raw):
    key = village_key(raw)
    assert village_key(key) == key
