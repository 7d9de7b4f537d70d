"""Header names: normalisation, built-in synonyms, matching by similarity, header-row detection, unique names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconcile.config import load_config
from reconcile.load.headers import (
    PROPOSE_THRESHOLD,
    SIMILAR_THRESHOLD,
    HeaderDecision,
    finalize_names,
    find_header,
    match_columns,
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 家庭人口数（人） ", "家庭人口数"),
        ("人均纯收入(元/人)", "人均纯收入"),
        ("家庭\n纯收入（元）", "家庭纯收入"),
        ("注册资本【万元】", "注册资本"),
        ("*证件号码", "证件号"),
        ("身份证号码（18位）", "证件号"),
        ("公民身份号码", "证件号"),
        ("出生日期(YYYYMMDD)", "出生日期"),
        ("主要致贫原因(单选)", "主要致贫原因"),
        ("ＩＤ　号", "id号"),
        ("乡公示时间", "乡镇公示日期"),
        ("乡级公示日期", "乡镇公示日期"),
        ("村级公示时间", "村公示日期"),
        ("乡（镇、街道）", "乡镇"),
        ("县(市、区)", "县"),
        ("村（居）委会", "村"),
        ("村名", "村"),
        ("村名称", "村"),
        ("姓名(户主)", "户主姓名"),
        ("能否说出帮扶干部姓名", "说出帮扶干部姓名"),
        ("是否能说出帮扶干部", "说出帮扶干部"),
        ("饮水是否安全", "饮水安全"),
        ("在校生情况", "在校生状况"),
        ("是否参加新型农村合作医疗（城乡居民基本医疗保险）", "参加新型农村合作医疗城乡居民基本医疗保险"),
        ("务工时间（月）", "务工日期月"),  # months worked, not a unit to drop: not 务工状况
        ("城乡居民基本养老保险", "城乡居民基本养老保险"),  # 城乡 is not 乡
    ],
)
def test_normalize_header(raw: str, expected: str) -> None:
    assert normalize_header(raw) == expected


def test_national_export_header_maps_onto_person_fields() -> None:
    match = match_columns(NATIONAL_HEADERS, source_fields("system", "person"), {}, True)
    assert match.mapping == {
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
        "是否参加城镇职工基本医疗保险": "employee_medical_insured",  # 基本医疗 is met by either scheme
        "是否参加城乡居民基本养老保险": "pension_insured",
        # the monitoring-era columns of the same export (issue 14)
        "户联系电话": "household_phone",
        "成员联系电话": "member_phone",
        "务工时间（月）": "work_months",
        "务工所在地": "work_place",
        "政治面貌": "political_status",
        "是否参加大病保险": "serious_illness_insured",
        "失学或辍学原因": "out_of_school_reason",
        "公益性岗位类型": "public_post_type",
        "公益性岗位(月数)": "public_post_months",
        "就业渠道": "employment_channel",
        "是否特困供养人员": "tekun",
        # the further yes/no columns of county checker 16–27 (CK-REQUIRED-YES-NO)
        "是否参加城镇职工基本养老保险": "employee_pension_insured",  # not the residents' pension_insured
        "是否参加商业补充医疗保险": "commercial_medical_insured",  # not 基本医疗 (medical_insured)
        "是否接受大病医疗救助": "medical_aid",
        "是否接受其他健康扶贫": "other_health_aid",
        "是否国外务工": "works_abroad",
        "是否会讲普通话": "speaks_mandarin",
        "户主姓名": "head_name",
        "户主证件号码": "head_id",
    }
    # every other column of the export is a known non-field, not a question to the user
    assert match.proposals == []
    assert {d.status for d in match.decisions if d.raw not in match.mapping} == {"extra"}
    assert suggest_mapping(NATIONAL_HEADERS, source_fields("system", "person")) == match.mapping


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
        "风险消除方式",
        "消除监测时间",
        "识别监测时间",
        "备注",
        "更新日期",
        "年收入",
        "家庭总收入",
    ]
    match = match_columns(headers, household_fields("archive"), {}, True)
    assert match.mapping == {
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
        "风险消除方式": "elimination_method",
        "识别监测时间": "monitor_start_date",
        "备注": "note",
        "更新日期": "record_date",
    }
    # look-alikes that mean something else are neither mapped nor proposed
    assert match.proposals == []
    assert set(match.extra) == {"计划脱贫年度", "户类型", "年收入", "家庭总收入"}


def test_registration_form_2014_members() -> None:
    """domain.md §2.2: the members block A4–A16 of the 2014 贫困户登记表."""
    headers = ["姓名", "性别", "公民身份号码", "与户主关系", "民族", "文化程度", "在校学生", "健康状况", "劳动能力",
               "务工状况", "低保人口", "参加新农合", "参加城乡居民养老保险"]
    mapping = suggest_mapping(headers, PERSON_FIELDS)
    assert mapping == dict(zip(headers, ["name", "sex", "id_number", "relation", "ethnicity", "education",
                                         "student_status", "health", "labor", "migrant_work", "dibao",
                                         "medical_insured", "pension_insured"], strict=True))


def test_targets_restrict_and_each_field_once() -> None:
    # A household-level source has no `name`: its 姓名 column is the head's.
    assert suggest_mapping(["姓名", "身份证号"], household_fields("archive")) == {
        "姓名": "head_name",
        "身份证号": "head_id",
    }
    assert suggest_mapping(["姓名", "身份证号"], register_fields("dibao")) == {
        "姓名": "name",
        "身份证号": "id_number",
    }
    # each field once: the spelling the field lists first wins, then the earlier header
    assert suggest_mapping(["务工地点", "务工所在地"], PERSON_FIELDS) == {"务工所在地": "work_place"}
    assert suggest_mapping(["身份证号", "证件号码"], ["id_number"]) == {"身份证号": "id_number"}
    assert suggest_mapping(["姓名"], []) == {}


def test_field_goes_to_its_best_header_not_the_first() -> None:
    # 人口数 comes first but 家庭人口数 is the field's own label; 家庭人口总数 is only similar
    match = match_columns(["家庭人口总数", "人口数（人）", "家庭人口数"], household_fields("archive"), {}, True)
    assert match.mapping == {"家庭人口数": "hh_size"}
    lost = {d.raw: d for d in match.decisions}["人口数（人）"]
    assert lost.status == "extra" and "「家庭人口数」列" in lost.how
    # a header that only resembles a field does not take it from a later exact one
    match = match_columns(["工资收入", "工资性收入（元）"], household_fields("archive"), {}, True)
    assert match.mapping == {"工资性收入（元）": "income_wage"}


def test_joined_two_row_headers() -> None:
    mapping = suggest_mapping(
        ["户主_证件号码", "家庭收入_工资性收入", "家庭收入_转移性收入", "家庭成员_证件号码", "帮扶责任人_姓名"],
        source_fields("system", "person"),
    )
    assert mapping == {
        "户主_证件号码": "head_id",
        "家庭收入_工资性收入": "income_wage",
        "家庭收入_转移性收入": "income_transfer",
        "家庭成员_证件号码": "id_number",
        "帮扶责任人_姓名": "cadre_name",
    }
    # the parent cell counts: the head's ID is not the member ID even when it is the only ID column
    assert suggest_mapping(["户主_证件号码", "家庭收入_合计"], PERSON_FIELDS | {"income_total": None}) == {}


# ---- statuses, scores, how -----------------------------------------------------------------------


def test_statuses_scores_and_how() -> None:
    headers = ["身份证号码", "乡镇公示日期(必填)", "明白卡上人口", "户号", "核查人员", "走访人"]
    match = match_columns(headers, source_fields("survey", "household"), {}, True)
    by = {d.raw: d for d in match.decisions}
    assert [d.raw for d in match.decisions] == headers
    assert (by["身份证号码"].field, by["身份证号码"].status, by["身份证号码"].score) == ("head_id", "synonym", 1.0)
    assert by["身份证号码"].how == "同义词「身份证号码」"
    notice = by["乡镇公示日期(必填)"]
    assert (notice.field, notice.status, notice.how) == ("township_notice_date", "synonym", "标准名称「乡镇公示日期」")
    similar = by["明白卡上人口"]
    assert (similar.field, similar.status) == ("card_size", "similar")
    assert SIMILAR_THRESHOLD <= similar.score < 1.0
    assert similar.how == f"相似度 {similar.score:.2f}「明白卡上人口」≈「明白卡人口」"
    proposed = by["户号"]
    assert (proposed.field, proposed.status) == ("hh_code", "proposed")
    assert PROPOSE_THRESHOLD <= proposed.score < SIMILAR_THRESHOLD
    assert proposed.columns_line == "户号: hh_code"
    assert match.proposals == [proposed]
    assert by["核查人员"].status == "extra" and "核查人" in by["核查人员"].how  # a known non-field
    assert (by["走访人"].status, by["走访人"].field) == ("extra", None)
    assert match.mapping == {"身份证号码": "head_id", "乡镇公示日期(必填)": "township_notice_date",
                             "明白卡上人口": "card_size"}
    assert match.extra == ["核查人员", "走访人"]


def test_columns_line_is_valid_yaml() -> None:
    decision = HeaderDecision("备注: 其他 #1", "note", "proposed", 0.7, "")
    assert yaml.safe_load(decision.columns_line) == {"备注: 其他 #1": "note"}


def test_profile_not_auto_maps_only_columns() -> None:
    headers = ["证件号码", "户主姓名", "姓名"]
    match = match_columns(headers, PERSON_FIELDS | HOUSEHOLD_FIELDS, {"证件号码": "id_number"}, False)
    assert match.mapping == {"证件号码": "id_number"}
    assert [(d.raw, d.field) for d in match.proposals] == [("户主姓名", "head_name"), ("姓名", "name")]


# ---- explicit `columns:` -------------------------------------------------------------------------


def test_explicit_keys_normalised_like_headers() -> None:
    headers = ["户主证件号码(必填)", "家庭人口数(人)", "户编号", "姓名"]
    explicit = {"户主证件号码（必填）": "head_id", "家庭人口数（人）": "hh_size", "人口编号": "rec_id",
                "家庭纯收入": "income_total"}
    match = match_columns(headers, household_fields("archive"), explicit, True)
    assert match.mapping == {"户主证件号码(必填)": "head_id", "家庭人口数(人)": "hh_size", "户编号": "hh_code",
                             "姓名": "head_name"}
    assert match.explicit_missing == ["人口编号", "家庭纯收入"]
    by = {d.raw: d for d in match.decisions}
    assert by["家庭人口数(人)"].status == "explicit" and "家庭人口数（人）" in by["家庭人口数(人)"].how
    # the same with profile: none — normalisation still applies to the keys
    strict = match_columns(headers, household_fields("archive"), explicit, False)
    assert strict.mapping == {"户主证件号码(必填)": "head_id", "家庭人口数(人)": "hh_size"}
    assert strict.explicit_missing == ["人口编号", "家庭纯收入"]


def test_explicit_wins_and_exact_text_first() -> None:
    headers = ["证件号码", "身份证号", "姓名"]
    # 身份证号码 normalises like both ID headers; the key that names 身份证号 exactly keeps it
    match = match_columns(headers, PERSON_FIELDS, {"身份证号码": "id_number", "身份证号": "x_old_id"}, True)
    assert match.mapping == {"证件号码": "id_number", "身份证号": "x_old_id", "姓名": "name"}
    assert match.explicit_missing == []
    # an explicit mapping takes the field away from the synonyms
    match = match_columns(["姓名", "成员姓名"], PERSON_FIELDS, {"成员姓名": "name"}, True)
    assert match.mapping == {"成员姓名": "name"}
    assert "配置中的「成员姓名」列" in match.decisions[0].how


# ---- near misses: a wrong automatic mapping is worse than a missing one -----------------------------


def _auto(headers: list[str], targets) -> dict[str, str | None]:
    """header -> field for what is mapped or proposed (anything the user would be shown as a match)."""
    match = match_columns(headers, targets, {}, True)
    return {d.raw: d.field for d in match.decisions if d.field is not None}


def test_head_columns_never_become_member_fields() -> None:
    person = source_fields("system", "person")
    assert _auto(["户主姓名", "户主身份证号", "与户主关系"], person) == {
        "户主姓名": "head_name", "户主身份证号": "head_id", "与户主关系": "relation"}
    # without head fields to take them, they stay unmapped rather than becoming the member's
    assert _auto(["户主姓名", "户主身份证号"], PERSON_FIELDS) == {}
    assert _auto(["户主_姓名", "户主_证件号码", "姓名(户主)"], PERSON_FIELDS) == {}
    # a housing register keyed by the head: its 户主身份证号 is not the member ID column
    assert _auto(["户主姓名", "户主身份证号", "鉴定等级"], register_fields("housing")) == {"鉴定等级": "housing_grade"}
    both = _auto(["身份证号", "户主身份证号", "姓名", "户主姓名"], person)
    assert both == {"身份证号": "id_number", "户主身份证号": "head_id", "姓名": "name", "户主姓名": "head_name"}


def test_exit_notices_stay_distinct_from_identification_notices() -> None:
    archive = household_fields("archive")
    assert _auto(["退出乡镇公示日期"], archive) == {"退出乡镇公示日期": "exit_township_notice_date"}
    only_identification = {k: v for k, v in archive.items() if not k.startswith("exit_")}
    assert _auto(["退出乡镇公示日期", "退出乡公示时间", "退出村级公示日期", "退出评议日期"], only_identification) == {}
    only_exit = {k: v for k, v in archive.items() if k.startswith("exit_")}
    assert _auto(["乡镇公示日期", "乡公示日期", "村公示日期", "县级公告日期", "民主评议日期"], only_exit) == {}
    # the level of a notice is not guessed either
    assert _auto(["县级公示日期"], {"township_notice_date": archive["township_notice_date"],
                                "village_notice_date": archive["village_notice_date"]}) == {}
    assert _auto(["县级审批日期"], archive) == {}  # an approval date is not the county notice


@pytest.mark.parametrize(
    "header",
    ["工资性收入", "生产经营性收入", "财产性收入", "转移性收入", "生产经营性支出", "人均纯收入", "家庭纯收入",
     "工资收入", "经营收入", "财产收入", "转移收入", "人均收入", "家庭年收入", "家庭总收入", "收入年度"],
)
def test_income_fields_never_cross_map(header: str) -> None:
    incomes = ["income_wage", "income_business", "income_property", "income_transfer", "expense_business",
               "income_per_capita", "income_total", "income_year"]
    own = suggest_mapping([header], household_fields("archive")).get(header)
    for field in incomes:
        if field != own:
            assert _auto([header], [field]) == {}, (header, field)


@pytest.mark.parametrize(
    ("header", "targets"),
    [
        ("是否参加城镇职工基本医疗保险", ["medical_insured"]),
        ("是否参加城乡居民基本医疗保险", ["employee_medical_insured"]),
        ("是否参加城镇职工基本养老保险", ["pension_insured"]),
        ("是否参加大病保险", ["medical_insured"]),
        ("是否参加城乡居民基本养老保险", ["medical_insured"]),
        ("计划脱贫年度", ["exit_year"]),
        ("户类型", ["monitor_type", "hh_type"]),
        ("风险消除方式", ["risk_status", "risk_eliminated_date"]),
        ("识别年度", ["monitor_start_date"]),
        ("识别监测时间", ["identify_year"]),
        ("风险是否消除", ["risk_eliminated_date"]),
        ("帮扶责任人", ["name", "head_name"]),
        ("帮扶责任人证件号码", ["id_number", "head_id", "cadre_name"]),
        ("帮扶责任人联系电话", ["cadre_name", "cadre_id"]),
        ("监测联系人", ["cadre_name"]),
        ("户籍人口", ["hh_size"]),
        ("家庭人口数", ["hukou_size", "card_size", "manual_size"]),
        ("全员参保", ["medical_insured"]),
        ("序号", ["rec_id", "hh_code"]),
        ("年度", ["income_year", "exit_year", "identify_year"]),
        ("核查人", ["survey_date"]),
        ("残疾人证号", ["id_number"]),
        ("务工时间（月）", ["migrant_work"]),
    ],
)
def test_look_alikes_stay_unmapped(header: str, targets: list[str]) -> None:
    assert _auto([header], targets) == {}


# ---- renamed variants of the sample county's files map like its hand-written columns: -------------

SAMPLE = Path(__file__).parents[2] / "data" / "sample" / "reconcile.yaml"

RENAMED = {
    "system": {
        "县": "县（市、区）", "乡": "乡镇(街道)", "村": "行政村", "人口编号": "人员编号", "姓名": "成员姓名",
        "出生日期": "出生年月日", "证件号码": "公民身份号码", "与户主关系": "与户主的关系", "文化程度": "文化程度（必填）",
        "在校生状况": "在校生情况", "健康状况": "健康状况(多选)", "务工状况": "务工情况",
        "是否参加城乡居民基本医疗保险": "是否参加新型农村合作医疗（城乡居民基本医疗保险）",
        "是否参加城乡居民基本养老保险": "是否参加城乡居民养老保险", "是否享受低保": "享受低保",
        "户主姓名": "户主名称", "户主证件号码": "户主身份证号码", "家庭人口数": "家庭人口数（人）", "脱贫标志": "脱贫标识",
        "脱贫年度": "脱贫时间", "识别年度": "识别年份", "主要致贫原因": "主要致贫原因(单选)",
        "其他致贫原因": "其他致贫原因(多选)", "工资性收入": "工资性收入（元）", "生产经营性收入": "生产经营收入",
        "财产性收入": "财产收入(元)", "转移性收入": "转移收入", "生产经营性支出": "生产经营支出（元）",
        "家庭纯收入": "家庭年纯收入", "人均纯收入": "年人均可支配收入（元/人）", "危房级别": "住房安全等级",
        "饮水是否安全": "是否饮水安全", "帮扶责任人": "帮扶责任人姓名", "帮扶责任人证件号码": "帮扶责任人身份证号",
        "帮扶单位": "帮扶单位名称", "监测对象类别": "监测对象类型", "风险是否消除": "风险是否已消除",
        "识别监测时间": "识别监测年月", "风险消除时间": "风险消除年月",
    },
    "archive": {
        "乡镇": "乡（镇）", "村委会": "村名", "组": "村民小组", "户主": "户主姓名", "身份证号": "户主身份证号码",
        "家庭人口": "家庭人口数（人）", "脱贫状态": "脱贫标志", "脱贫时间": "脱贫年份", "致贫原因": "主要致贫原因",
        "收入年度": "收入年份", "经营性收入": "生产经营性收入(元)", "经营性支出": "生产经营支出", "人均纯收入": "家庭人均纯收入",
        "帮扶人": "帮扶干部姓名", "申请时间": "农户申请日期", "民主评议时间": "民主评议日期", "村公示时间": "村级公示日期",
        "乡镇公示时间": "乡公示日期", "县公告时间": "县级公告日期", "退出评议时间": "退出民主评议日期",
        "退出村公示时间": "退出村级公示日期", "退出乡镇公示时间": "退出乡公示日期", "退出县公告时间": "退出县级公告时间",
        "备注": "备 注", "更新日期": "更新时间",
    },
    "survey": {
        "乡镇": "所在乡镇", "村": "村名称", "户主身份证号": "户主身份证", "户状态": "贫困户状态", "家庭实际人口": "实际人口(人)",
        "户籍人口": "户籍人口数", "明白卡人口": "明白卡人口数", "安全住房": "住房是否安全", "饮水安全": "饮水是否安全",
        "有辍学": "是否有辍学", "全员参保": "是否全员参保", "能说出帮扶干部": "能否说出帮扶干部姓名",
        "帮扶干部今年上门次数": "帮扶干部本年上门次数", "人均纯收入": "人均纯收入（元）", "核查日期": "核查时间",
    },
}


@pytest.mark.parametrize("key", sorted(RENAMED))
def test_renamed_sample_headers_map_like_the_hand_written_columns(key: str) -> None:
    spec = load_config(SAMPLE, check_paths=False).sources[key]
    renamed = {raw: RENAMED[key].get(raw, raw) for raw in spec.columns}
    headers = ["序号", *renamed.values(), "核查人"]
    match = match_columns(headers, source_fields(spec.role, spec.level), {}, True)
    assert match.mapping == {renamed[raw]: field for raw, field in spec.columns.items()}
    assert match.proposals == []
    # and the hand-written columns: still find every renamed header
    again = match_columns(headers, source_fields(spec.role, spec.level), spec.columns, False)
    missing = [raw for raw in spec.columns if normalize_header(raw) != normalize_header(renamed[raw])]
    assert again.explicit_missing == missing


# ---- the table itself ------------------------------------------------------------------------------


def test_synonyms_name_only_known_fields_and_find_themselves() -> None:
    known = {*HOUSEHOLD_FIELDS, *SURVEY_FIELDS, *PERSON_FIELDS, *REGISTER_FIELDS, *VISIT_FIELDS}
    known |= {attr for attrs in REGISTER_ATTRS.values() for attr in attrs}
    table = synonyms()
    assert set(table) <= known, set(table) - known
    for field, spellings in table.items():
        assert len(spellings) == len(set(spellings)), field
        for spelling in spellings:  # each spelling alone, with only its field allowed, is that field
            assert suggest_mapping([spelling], [field]) == {spelling: field}, (field, spelling)
    # every canonical household/person field can be found from its own Chinese label
    for fields in (HOUSEHOLD_FIELDS, PERSON_FIELDS, SURVEY_FIELDS):
        for name, field in fields.items():
            assert suggest_mapping([field.label], fields) == {field.label: name}, name


def test_spellings_of_different_fields_do_not_normalise_alike() -> None:
    labels = {name: f.label for fields in (REGISTER_FIELDS, VISIT_FIELDS, HOUSEHOLD_FIELDS, SURVEY_FIELDS,
                                           PERSON_FIELDS) for name, f in fields.items()}
    owners: dict[str, set[str]] = {}
    for field, spellings in synonyms().items():
        for spelling in [*spellings, *([labels[field]] if field in labels else [])]:
            owners.setdefault(normalize_header(spelling), set()).add(field)
    shared = {norm: fields for norm, fields in owners.items() if len(fields) > 1}
    # only the member/head pairs, which the level of the source tells apart
    assert shared == {"姓名": {"name", "head_name"}, "证件号": {"id_number", "head_id"}}
    from reconcile.load.headers import _rules

    assert not {normalize_header(s) for s in _rules().not_mapped} & set(owners)


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
