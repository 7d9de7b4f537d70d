"""The words people read for the codes the engine keeps: parameter names and the keys and words inside their
values, and the keys inside a finding's evidence. One table, read by the workbook, the page, the web page and
`rules explain`; Parquet and DuckDB keep the codes."""

from __future__ import annotations

import re

from ..schema import FIELD_LABELS, REGISTER_KIND_LABELS, ROLE_LABELS

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}

PARAM_LABELS = {
    "exit_line": "脱贫标准(元/人·年,按收入年度)", "monitoring_line": "防返贫监测标准(元/人·年)",
    "income_tolerance": "收入比对容差", "income_arithmetic_tolerance": "收入测算容差(元)",
    "cadre_household_limit": "帮扶责任人结对户数上限", "visit_frequency": "走访频次要求",
    "notice_days": "公示天数下限", "risk_elimination_min_months": "风险消除最短监测月数",
    "school_age": "义务教育年龄", "student_status_ages": "在校生状况对应年龄", "cause_measures": "致贫原因与帮扶措施对应", "linkage": "匹配参数",
    "elimination_risk_measures": "风险消除时其他风险应有的措施(健康、教育、社会保障类)",
    "further_risk_measure_causes": "须有对应措施的其他风险", "yulu_plan_student_statuses": "可享受雨露计划的在校生状况",
    "monitoring_from_year": "防返贫监测起始年度", "public_post_min_age": "公益性岗位最低年龄",
    "public_post_words": "就业渠道中表示公益性岗位、帮扶车间的词", "not_a_public_post": "公益性岗位类型中表示“没有”的写法",
    "away_work_words": "表示县外务工的词", "land_area_max_mu": "土地面积上限(亩)",
    "tekun_able_ages": "特困供养人员的劳动年龄", "no_labor_levels": "无劳动能力的劳动技能",
    "illness_health": "支持因病风险的健康状况", "household_cards": "红黄绿卡划分",
    "risk_kept_income_factor": "应消未消的收入倍数(监测标准的倍数)",
    "risk_persisting": "风险仍在的成员情况", "missed_register_groups": "疑似漏评比对的部门数据",
    "missed_register_min_marks": "疑似漏评的最少标记数", "missed_register_grades": "疑似漏评按标记数定严重程度",
    "out_of_school_statuses": "不在校的在校生状况", "parent_child_min_age_gap": "父母与子女最小年龄差(岁)",
    "student_dropout_statuses": "学籍中表示辍学的状态", "medical_insured_statuses": "医保中表示已参保的状态",
    "unsafe_housing_grades": "危房等级", "student_record_ages": "应填写在校生状况或未上学原因的年龄",
    "work_measures": "需要劳动力的帮扶措施", "no_work_words": "表示没有务工的写法", "retired_terms": "过时表述",
    "retired_terms_from_year": "过时表述起始年度", "record_required": "户必填项",
    "person_required": "成员必填项", "checker_required": "县级校验必填项",
    "checker_required_yes_no": "县级校验必填的是否项",
}


# the keys and words inside a parameter's value, as people read them (the parameter's own name: PARAM_LABELS):
# field names, roles and severities by their own tables, the rest here; a parameter listing register kinds reads
# them by theirs (dibao is 民政低保 there, 享受低保 in a list of member fields)
PARAM_WORDS = {
    **FIELD_LABELS, **ROLE_LABELS, **SEVERITY_LABELS,
    "yellow_income_factor": "黄卡收入线(监测标准的倍数)", "red": "红卡", "yellow": "黄卡", "green": "绿卡",
    "monthly": "每月", "quarterly": "每季度", "yearly": "每年", "min": "最小", "max": "最大",
    "absolute": "绝对差(元)", "relative": "相对差", "identify_village": "识别村级公示", "identify_township": "识别乡镇公示",
    "exit_village": "退出村级公示", "exit_township": "退出乡镇公示", "arable": "耕地", "forest": "林地",
    "grain_to_green": "退耕还林", "illness_health": "因病(健康状况)", "disability_health": "因残(健康状况)",
    "study_enrolled": "因学(在校生状况)", "work_causes": "务工类风险", "work_no_labor": "无劳动能力(劳动技能)",
}
PARAM_VOCABULARY = {"missed_register_groups": {**PARAM_WORDS, **REGISTER_KIND_LABELS}}

# the shipped parameter sets (rules/params/<name>.yaml) by their people's names; a county's own file shows its name
PROVINCE_LABELS = {"default": "全国默认参数", "yunnan": "云南省"}

# the run's stages (their codes key the --json timings)
STAGE_LABELS = {"plan": "运行计划", "load": "读取", "validate": "校验", "normalize": "规范化", "link": "匹配",
                "check": "核查", "ledger": "问题台账", "report": "写报告", "save": "保存数据库", "save_inputs": "保存输入表",
                "save_link_details": "保存匹配明细",
                "counties": "各县核查", "merge": "合并", "province": "省级数据", "province_rules": "跨县规则", "export": "导出"}

# keys a rule's evidence uses for what is not a source, register, field or parameter
EVIDENCE_WORDS = {"sources": "各来源", "households": "各户", "visits": "走访记录", "visit": "走访记录"}


def people_key(key: str, sources: dict[str, str] | None = None) -> str:
    """A code as people read it: a configured source by its label (`sources`: key → label), a register kind, a
    parameter, a field or another known word; a dotted parameter path part by part (income_tolerance.absolute →
    收入比对容差·绝对差(元), cause_measures.因病 → 致贫原因与帮扶措施对应·因病). Anything else is shown as written."""
    if sources and key in sources:
        return sources[key]
    for table in (ROLE_LABELS, REGISTER_KIND_LABELS, PARAM_LABELS, EVIDENCE_WORDS, PARAM_WORDS):
        if key in table:
            return table[key]
    head, dot, rest = key.partition(".")
    if dot and head in PARAM_LABELS:
        return "·".join([PARAM_LABELS[head], *(PARAM_WORDS.get(part, part) for part in rest.split("."))])
    # a key built of source keys, as "manual(2019)→system(2020)": each source by its label
    words = {**ROLE_LABELS, **(sources or {})}
    return _CODE_WORD.sub(lambda m: words.get(m.group(0), m.group(0)), key)


def field_label(field: str | None) -> str | None:
    """A canonical field as people read it (a field named like a register kind is the field here)."""
    return None if field is None else FIELD_LABELS.get(field) or people_key(field)


_CODE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM_PATH = re.compile(r"(?<![A-Za-z0-9_$])([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)(?![A-Za-z0-9_])")


def params_in_text(text: str) -> str:
    """A rule's description for people: each parameter it names reads in Chinese first, its key after (what a
    county edits in its parameter file): school_age → 义务教育年龄(参数 school_age)."""
    def label(m: re.Match) -> str:
        key = m.group(1)
        head = key.split(".", 1)[0]
        if head not in PARAM_LABELS:
            return key
        return f"{people_key(key)}(参数 {key})"
    return _PARAM_PATH.sub(label, text)
