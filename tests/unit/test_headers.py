"""Header names: normalisation, built-in synonyms, header-row detection, unique names."""

from __future__ import annotations

import pytest

from reconcile.load.headers import (
    finalize_names,
    find_header,
    nearest,
    normalize_header,
    suggest_mapping,
    synonyms,
)
from reconcile.schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTRS,
    REGISTER_FIELDS,
    SURVEY_FIELDS,
    VISIT_FIELDS,
    household_fields,
    register_fields,
    source_fields,
)

# domain.md §2.3: the national export header, in order, plus the "Also" columns.
NATIONAL_HEADERS = [
    "省",
    "市",
    "县",
    "乡",
    "村",
    "户编号",
    "人口编号",
    "姓名",
    "性别",
    "出生日期",
    "证件类型",
    "证件号码",
    "民族",
    "户联系电话",
    "成员联系电话",
    "年度",
    "与户主关系",
    "文化程度",
    "在校生状况",
    "劳动技能",
    "务工时间（月）",
    "健康状况",
    "政治面貌",
    "务工企业名称",
    "是否享受低保",
    "是否参加城镇职工基本养老保险",
    "是否参加大病保险",
    "是否参加新型农村合作医疗（城乡居民基本医疗保险）",
    "是否参加城乡居民基本养老保险",
    "失学或辍学原因",
    "是否会讲普通话",
    "是否参加商业补充医疗保险",
    "是否国外务工",
    "产业分类",
    "是否接受大病医疗救助",
    "是否接受其他健康扶贫",
    "公益性岗位类型",
    "公益性岗位(月数)",
    "就业渠道",
    "残疾类别",
    "务工所在地",
    "户主姓名",
    "户主证件号码",
    "是否参加城镇职工基本医疗保险",
    "是否特困供养人员",
    "残疾证办证年度",
    "识别标准",
]


def test_normalize_header() -> None:
    assert normalize_header(" 家庭人口数（人） ") == "家庭人口数"
    assert normalize_header("人均纯收入(元/人)") == "人均纯收入"
    assert normalize_header("家庭\n纯收入（元）") == "家庭纯收入"
    assert normalize_header("*证件号码") == "证件号码"
    assert (
        normalize_header("是否参加新型农村合作医疗（城乡居民基本医疗保险）")
        == "是否参加新型农村合作医疗(城乡居民基本医疗保险)"
    )
    assert normalize_header("ＩＤ　号") == "id号"
    assert normalize_header("务工时间（月）") == "务工时间(月)"  # not a unit: a different column


def test_national_export_header_maps_onto_person_fields() -> None:
    mapping = suggest_mapping(NATIONAL_HEADERS, source_fields("system", "person"))
    assert mapping == {
        "县": "county",
        "乡": "township",
        "村": "village",
        "户编号": "hh_code",
        "人口编号": "rec_id",
        "姓名": "name",
        "性别": "sex",
        "出生日期": "birth_date",
        "证件号码": "id_number",
        "民族": "ethnicity",
        "与户主关系": "relation",
        "文化程度": "education",
        "在校生状况": "student_status",
        "劳动技能": "labor",
        "健康状况": "health",
        "是否享受低保": "dibao",
        "是否参加新型农村合作医疗（城乡居民基本医疗保险）": "medical_insured",
        "是否参加城乡居民基本养老保险": "pension_insured",
        "务工所在地": "migrant_work",
        "户主姓名": "head_name",
        "户主证件号码": "head_id",
    }


def test_household_form_headers() -> None:
    headers = [
        "乡（镇）",
        "行政村",
        "村民小组",
        "户主",
        "户主身份证号",
        "家庭人口数（人）",
        "贫困户属性",
        "脱贫标志",
        "脱贫年度",
        "计划脱贫年度",
        "识别时间",
        "致贫原因",
        "其他致贫原因",
        "家庭年人均纯收入（元）",
        "纯收入",
        "工资性收入",
        "家庭经营性收入",
        "财产性收入",
        "转移性收入",
        "生产经营费用总支出",
        "收入年度",
        "危房级别",
        "饮水是否安全",
        "帮扶人",
        "帮扶责任人证件号码",
        "帮扶单位",
        "帮扶措施",
        "户类型",
        "监测对象类别",
        "风险是否已消除",
        "消除监测时间",
        "识别监测时间",
        "备注",
        "更新日期",
        "年收入",
    ]
    mapping = suggest_mapping(headers, household_fields("archive"))
    assert mapping == {
        "乡（镇）": "township",
        "行政村": "village",
        "村民小组": "group",
        "户主": "head_name",
        "户主身份证号": "head_id",
        "家庭人口数（人）": "hh_size",
        "贫困户属性": "hh_type",
        "脱贫标志": "status",
        "脱贫年度": "exit_year",
        "识别时间": "identify_year",
        "致贫原因": "main_cause",
        "其他致贫原因": "other_causes",
        "家庭年人均纯收入（元）": "income_per_capita",
        "纯收入": "income_total",
        "工资性收入": "income_wage",
        "家庭经营性收入": "income_business",
        "财产性收入": "income_property",
        "转移性收入": "income_transfer",
        "生产经营费用总支出": "expense_business",
        "收入年度": "income_year",
        "危房级别": "housing_grade",
        "饮水是否安全": "water_safe",
        "帮扶人": "cadre_name",
        "帮扶责任人证件号码": "cadre_id",
        "帮扶单位": "cadre_unit",
        "帮扶措施": "measures",
        "监测对象类别": "monitor_type",
        "风险是否已消除": "risk_status",
        "消除监测时间": "risk_eliminated_date",
        "识别监测时间": "monitor_start_date",
        "备注": "note",
        "更新日期": "record_date",
    }
    assert "计划脱贫年度" not in mapping and "户类型" not in mapping and "年收入" not in mapping


def test_targets_restrict_and_first_header_wins() -> None:
    # A household-level source has no `name`: its 姓名 column is the head's.
    assert suggest_mapping(["姓名", "身份证号"], household_fields("archive")) == {
        "姓名": "head_name",
        "身份证号": "head_id",
    }
    assert suggest_mapping(["姓名", "身份证号"], register_fields("dibao")) == {
        "姓名": "name",
        "身份证号": "id_number",
    }
    # each field once, the first header in file order takes it
    assert suggest_mapping(["务工状况", "务工所在地"], PERSON_FIELDS) == {"务工状况": "migrant_work"}
    assert suggest_mapping(["身份证号", "证件号码"], ["id_number"]) == {"身份证号": "id_number"}
    assert suggest_mapping(["姓名"], []) == {}


def test_joined_two_row_headers() -> None:
    mapping = suggest_mapping(
        ["户主_证件号码", "家庭收入_工资性收入", "家庭收入_转移性收入", "家庭成员_证件号码"],
        source_fields("system", "person"),
    )
    assert mapping == {
        "户主_证件号码": "head_id",
        "家庭收入_工资性收入": "income_wage",
        "家庭收入_转移性收入": "income_transfer",
        "家庭成员_证件号码": "id_number",
    }


def test_synonyms_name_only_known_fields() -> None:
    known = {*HOUSEHOLD_FIELDS, *SURVEY_FIELDS, *PERSON_FIELDS, *REGISTER_FIELDS, *VISIT_FIELDS}
    known |= {attr for attrs in REGISTER_ATTRS.values() for attr in attrs}
    table = synonyms()
    assert set(table) <= known, set(table) - known
    for field, spellings in table.items():
        normalized = [normalize_header(s) for s in spellings]
        assert len(normalized) == len(set(normalized)), field
    # every canonical household/person field can be found from its own Chinese label
    for fields in (HOUSEHOLD_FIELDS, PERSON_FIELDS, SURVEY_FIELDS):
        for name, field in fields.items():
            if name in table:
                assert suggest_mapping([field.label], [name]) == {field.label: name}, name


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("heder_rows", ["header_rows", "skip_rows", "sheet"], "header_rows"),
        ("Sheet", ["sheet", "path"], "sheet"),
        ("身份证号码", ["姓名", "身份证号", "户编号"], "身份证号"),
        ("zzz", ["header_rows"], None),
        ("x", [], None),
    ],
)
def test_nearest(word: str, candidates: list[str], expected: str | None) -> None:
    assert nearest(word, candidates) == expected


# ---- header rows -----------------------------------------------------------------------------


def test_find_header_skips_title_and_detects_two_row_header() -> None:
    rows = [
        [None, None, None, None, None],
        ["XX县建档立卡人口信息表", None, None, None, None],
        ["姓名", "证件号码", "家庭收入", None, "备注"],
        [None, None, "工资性收入", "转移性收入", None],
        ["张三", "430624198001011234", "100", "200", None],
    ]
    layout = find_header(rows)
    assert layout is not None
    assert layout.names == ["姓名", "证件号码", "家庭收入_工资性收入", "家庭收入_转移性收入", "备注"]
    assert (layout.header_row, layout.data_start) == (3, 4)


def test_find_header_does_not_swallow_the_first_data_row() -> None:
    rows = [
        ["姓名", "证件号码", "家庭收入", None],
        ["张三", "430624198001011234", "100", "200"],
    ]
    layout = find_header(rows)
    assert layout is not None
    assert layout.names == ["姓名", "证件号码", "家庭收入", None]
    assert layout.data_start == 1


def test_find_header_unmerged_repeated_parent() -> None:
    rows = [
        ["姓名", "家庭收入", "家庭收入"],
        ["姓名", "工资性收入", "转移性收入"],
        ["张三", "1", "2"],
    ]
    layout = find_header(rows)
    assert layout is not None
    assert layout.names == ["姓名", "家庭收入_工资性收入", "家庭收入_转移性收入"]
    assert layout.data_start == 2


def test_find_header_explicit_rows() -> None:
    rows = [
        ["标题", None, None],
        ["户编号", "家庭收入", None],
        [None, "工资性\n收入", "转移性收入"],
        ["001", "1", "2"],
    ]
    layout = find_header(rows, header_rows=3)
    assert layout is not None
    assert layout.names == ["户编号", "家庭收入_工资性收入", "家庭收入_转移性收入"]
    assert (layout.header_row, layout.data_start) == (2, 3)
    # a one-column sheet: the only header row is kept even though it has one cell
    single = find_header([["姓名"], ["张三"]], header_rows=1)
    assert single is not None and single.names == ["姓名"]
    assert find_header([["姓名"], ["张三"]]).names == ["姓名"]
    assert find_header([[None], []]) is None


def test_finalize_names() -> None:
    assert finalize_names(["姓名", None, "姓名", "姓名_2", "_row"], [0, 1, 2, 3, 7], reserved=["_row"]) == [
        "姓名",
        "列2",
        "姓名_2",
        "姓名_2_2",
        "_row_2",
    ]
