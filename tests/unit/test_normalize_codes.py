import pytest

from reconcile.normalize import (
    CODE_LISTS,
    Normalized,
    code_labels,
    codes_compatible,
    normalize_code,
    normalize_code_list,
)
from reconcile.normalize.codes import _build

CASES = {
    "relation": [
        ("01", "户主"), ("1", "户主"), ("本人", "户主"), ("本人或户主", "户主"), ("户主", "户主"),
        ("02", "配偶"), ("妻子", "配偶"), ("丈夫", "配偶"), ("妻", "配偶"), ("夫", "配偶"),
        ("03", "之子"), ("子", "之子"), ("儿子", "之子"), ("04", "之女"), ("女", "之女"), ("女儿", "之女"),
        ("05", "之儿媳"), ("06", "之女婿"), ("07", "之孙子"), ("08", "之孙女"), ("09", "之外孙子"),
        ("10", "之外孙女"), ("11", "之父"), ("父亲", "之父"), ("12", "之母"), ("母亲", "之母"),
        ("13", "之岳父"), ("14", "之岳母"), ("15", "之公公"), ("16", "之婆婆"), ("17", "之祖父"),
        ("18", "之祖母"), ("19", "之外祖父"), ("20", "之外祖母"), ("之兄弟姐妹", "之兄弟姐妹"),
        ("之曾孙子", "之曾孙子"), ("之曾孙女", "之曾孙女"), ("之侄儿", "之侄儿"), ("之侄女", "之侄女"),
        ("之兄弟媳妇", "之兄弟媳妇"), ("之叔伯", "之叔伯"), ("99", "其他"), ("其它", "其他"),
        ("01户主", "户主"), ("03-之子", "之子"),
    ],
    "relation_gbt4761": [
        ("01", "户主"), ("02", "户主"), ("0", "户主"), ("本人", "户主"), ("10", "配偶"), ("11", "配偶"),
        ("12", "配偶"), ("1", "配偶"), ("20", "之子"), ("21", "之子"), ("27", "之子"), ("2", "之子"),
        ("28", "之女婿"), ("30", "之女"), ("37", "之女"), ("3", "之女"), ("38", "之儿媳"),
        ("40", "之孙辈"), ("4", "之孙辈"), ("41", "之孙子"), ("42", "之孙女"), ("43", "之外孙子"),
        ("44", "之外孙女"), ("50", "之父母"), ("51", "之父"), ("52", "之母"), ("60", "之祖父母"),
        ("61", "之祖父"), ("70", "之兄弟姐妹"), ("7", "之兄弟姐妹"), ("80", "其他"), ("8", "其他"),
        ("93", "之侄儿"), ("99", "其他"), ("非亲属", "其他"),
        # labels are accepted as in the national list
        ("儿子", "之子"), ("妻子", "配偶"), ("之子", "之子"), ("父亲", "之父"),
    ],
    "sex": [("男", "男"), ("女", "女"), ("1", "男"), ("2", "女"), ("男性", "男"), ("女性", "女"),
            ("M", "男"), ("f", "女"), ("Ｍ", "男")],
    "hh_type": [("一般户", "一般户"), ("一般贫困户", "一般户"), ("一般农户", "一般户"), ("扶贫户", "一般户"),
                ("01", "一般户"), ("1", "一般户"), ("低保户", "低保户"), ("低保贫困户", "低保户"),
                ("扶贫低保户", "低保户"), ("04", "低保户"), ("特困户", "特困户"), ("特困供养贫困户", "特困户"),
                ("五保贫困户", "特困户"), ("五保户", "特困户"), ("特困供养户", "特困户"), ("06", "特困户")],
    "status": [("0", "未脱贫"), ("贫困", "未脱贫"), ("未脱贫", "未脱贫"), ("返贫", "未脱贫"), ("3", "未脱贫"),
               ("2", "未脱贫"), ("预脱贫", "未脱贫"), ("1", "已脱贫"), ("脱贫", "已脱贫"), ("已脱贫", "已脱贫"),
               ("稳定脱贫", "已脱贫"), ("非贫困户", "非贫困户"), ("一般农户", "非贫困户"),
               ("非建档立卡户", "非贫困户")],
    "monitor_type": [("脱贫不稳定户", "脱贫不稳定户"), ("100A03001", "脱贫不稳定户"), ("1", "脱贫不稳定户"),
                     ("边缘易致贫户", "边缘易致贫户"), ("边缘户", "边缘易致贫户"),
                     ("未消除风险边缘户", "边缘易致贫户"), ("100a03002", "边缘易致贫户"), ("2", "边缘易致贫户"),
                     ("突发严重困难户", "突发严重困难户"), ("100A03003", "突发严重困难户"), ("3", "突发严重困难户")],
    "risk_status": [("否", "未消除"), ("未消除", "未消除"), ("0", "未消除"), ("是", "已消除"),
                    ("已消除", "已消除"), ("风险消除", "已消除"), ("1", "已消除")],
    "cause": [("因安全饮水", "因安全饮水"), ("安全饮水", "因安全饮水"), ("1", "因病"), ("01", "因病"), ("因病", "因病"), ("2", "因残"), ("3", "因学"), ("4", "因灾"),
              ("5", "缺土地"), ("6", "缺水"), ("7", "缺技术"), ("8", "缺劳力"), ("缺劳动力", "缺劳力"),
              ("9", "缺资金"), ("10", "交通条件落后"), ("11", "自身发展动力不足"), ("12", "因婚"), ("13", "因丧"),
              ("99", "其他"), ("1.0", "因病")],
    "measure": [("产业帮扶", "产业帮扶"), ("就业帮扶", "就业帮扶"), ("公益性岗位", "公益岗位"), ("公益岗位", "公益岗位"),
                ("扶贫小额信贷", "小额信贷"), ("金融帮扶", "小额信贷"), ("雨露计划", "教育资助"),
                ("教育资助(雨露计划)", "教育资助"), ("教育资助（雨露计划）", "教育资助"), ("教育帮扶", "教育资助"),
                ("义务教育保障", "教育资助"), ("健康扶贫", "健康帮扶"), ("医疗救助", "医疗救助"),
                ("残疾人两项补贴", "残疾人补贴"), ("住房安全保障", "危房改造"), ("危房改造", "危房改造"),
                ("搬迁", "易地扶贫搬迁"), ("易地扶贫搬迁", "易地扶贫搬迁"), ("低保", "低保兜底"),
                ("综合保障", "低保兜底"), ("特困供养", "特困供养"), ("临时救助", "临时救助"),
                ("饮水安全保障", "饮水安全"), ("技能培训", "技能培训"), ("职业培训", "技能培训")],
    "student_status": [("非在校生", "非在校生"), ("01", "非在校生"), ("学前教育", "学前教育"), ("学龄前儿童", "学前教育"),
                       ("02", "学前教育"), ("小学", "小学"), ("03", "小学"), ("七年级", "初中"), ("八年级", "初中"),
                       ("九年级", "初中"), ("初一", "初中"), ("初三", "初中"), ("04", "初中"), ("06", "初中"),
                       ("普通高中一年级", "高中"), ("普通高中三年级", "高中"), ("07", "高中"), ("09", "高中"),
                       ("中职二年级", "中职"), ("10", "中职"), ("高职高专一年级", "高职"), ("13", "高职"),
                       ("16", "大专"), ("本科", "本科及以上"), ("本科三年级", "本科及以上"),
                       ("硕士研究生及以上", "本科及以上")],
    "education": [("文盲或半文盲", "文盲或半文盲"), ("01", "文盲或半文盲"), ("小学", "小学"), ("初中", "初中"),
                  ("高中", "高中"), ("大专", "大专"), ("大专及以上", "大专"), ("05", "大专"), ("本科及以上", "本科及以上"),
                  ("学龄前儿童", "学龄前儿童"), ("06", "学龄前儿童")],
    "health": [("健康", "健康"), ("01", "健康"), ("无患大病", "健康"), ("长期慢性病", "长期慢性病"), ("02", "长期慢性病"),
               ("患有大病", "患有大病"), ("03", "患有大病"), ("残疾", "残疾"), ("04", "残疾")],
    "disability_level": [("1", "1"), ("一级", "1"), ("二级", "2"), ("2级", "2"), ("三级残疾", "3"), ("四级", "4"),
                         ("04", "4")],
    "labor": [("普通劳动力", "普通劳动力"), ("01", "普通劳动力"), ("技能劳动力", "技能劳动力"), ("02", "技能劳动力"),
              ("弱劳动力或半劳动力", "弱劳动力或半劳动力"), ("丧失劳动力", "丧失劳动力"), ("03", "丧失劳动力"),
              ("无劳动力", "无劳动力"), ("04", "无劳动力")],
    "housing_grade": [("A", "A"), ("A级", "A"), ("a", "A"), ("B级", "B"), ("C级危房", "C"), ("c", "C"), ("D级", "D"),
                      ("Ｄ级危房", "D")],
    "elimination_method": [("帮扶消除", "帮扶消除"), ("帮扶", "帮扶消除"), ("1", "帮扶消除"), ("自然消除", "自然消除"),
                           ("2", "自然消除")],
    "political_status": [("中共党员", "中共党员"), ("01", "中共党员"), ("党员", "中共党员"), ("预备党员", "中共预备党员"),
                         ("共青团员", "共青团员"), ("03", "共青团员"), ("九三学社社员", "民主党派"), ("07", "民主党派"),
                         ("无党派人士", "无党派人士"), ("群众", "群众"), ("13", "群众")],
    "bool": [(v, "是") for v in ["是", "有", "Y", "y", "yes", "YES", "1", "√", "✓", "true", "True", "已"]]
    + [(v, "否") for v in ["否", "无", "N", "n", "no", "0", "×", "✗", "false", "FALSE", "未"]],
}


@pytest.mark.parametrize(
    ("codelist", "raw", "label"), [(name, raw, label) for name, cases in CASES.items() for raw, label in cases]
)
def test_normalize_code(codelist, raw, label):
    assert normalize_code(raw, codelist) == Normalized(label, None)


def test_every_list_is_tested_and_every_label_is_reachable():
    assert set(CASES) == set(CODE_LISTS)
    for name, codes in CODE_LISTS.items():
        for label in codes.labels:
            assert normalize_code(label, name).value == label


def test_gbt4761_crosswalk_differs_from_national_codes():
    assert normalize_code("02", "relation").value == "配偶"
    assert normalize_code("02", "relation_gbt4761").value == "户主"
    assert normalize_code("2", "relation_gbt4761").value == "之子"  # the 1-digit set


@pytest.mark.parametrize("raw", ["  户主 ", "\u00a0户主", "户　主", '="户主"', "户主\n"])
def test_whitespace_and_wrappers_are_ignored(raw):
    assert normalize_code(raw, "relation").value == "户主"


def test_unknown_and_empty():
    assert normalize_code("外星人", "relation") == Normalized(None, "code_unknown")
    assert normalize_code("0", "sex") == Normalized(None, "code_unknown")  # GB/T 2261 未知: the ID decides
    assert normalize_code(None, "relation") == Normalized(None, None)
    assert normalize_code("  ", "relation") == Normalized(None, None)
    with pytest.raises(KeyError):
        normalize_code("户主", "no_such_list")


@pytest.mark.parametrize("sep", [",", "，", "、", ";", "；", "/", "|", " ", "　", " , "])
def test_code_list_separators(sep):
    result = normalize_code_list(f"就业帮扶{sep}产业帮扶", "measure")
    assert result == Normalized(("产业帮扶", "就业帮扶"), None)


def test_code_list_sorted_deduplicated_and_partial():
    assert normalize_code_list("金融帮扶、小额信贷,雨露计划", "measure") == Normalized(("小额信贷", "教育资助"), None)
    assert normalize_code_list("1,2;5", "cause") == Normalized(("因残", "因病", "缺土地"), None)
    assert normalize_code_list("产业帮扶,外星措施", "measure") == Normalized(("产业帮扶",), "code_unknown")
    assert normalize_code_list("外星措施", "measure") == Normalized(None, "code_unknown")
    assert normalize_code_list("教育资助 (雨露计划) 产业帮扶", "measure").value == ("产业帮扶", "教育资助")
    assert normalize_code_list(None, "measure") == Normalized(None, None)
    assert normalize_code_list(" 、 ", "measure") == Normalized(None, None)


def test_code_labels_and_compatibility():
    assert code_labels("hh_type") == ("一般户", "低保户", "特困户")
    assert code_labels("status") == ("未脱贫", "已脱贫", "非贫困户")
    assert codes_compatible("之父母", "之父", "relation_gbt4761")
    assert codes_compatible("之孙女", "之孙辈", "relation_gbt4761")
    assert not codes_compatible("之父", "之母", "relation_gbt4761")
    assert codes_compatible("户主", "户主", "relation")
    assert not codes_compatible("户主", None, "relation")


def test_loader_rejects_ambiguous_or_unquoted_aliases():
    with pytest.raises(ValueError, match="同时对应"):
        _build({"x": {"labels": {"甲": ["1"], "乙": ["1"]}}})
    with pytest.raises(ValueError, match="加引号"):
        _build({"x": {"labels": {"甲": [1]}}})
    with pytest.raises(ValueError, match="加引号"):
        _build({"x": {"labels": {"是": [True]}}})
