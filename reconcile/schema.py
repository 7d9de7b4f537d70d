"""Canonical schema (DESIGN §3): the field names every source maps onto.

Each field has a value kind that selects its normaliser and its input check:

- ``text``      free text, trimmed (NFKC)
- ``ident``     an identifier (记录编号, 户编号, 户号): kept as text, never parsed or judged; an Excel number
                cell there has lost digits, so its column is read as text
- ``name``      a person's name (normalize.names)
- ``id``        resident ID number, GB 11643 (normalize.ids)
- ``code:<L>``  a label from code list L (normalize.codes), e.g. ``code:relation``
- ``codes:<L>`` a list of labels from code list L (separators , ，、 ; ； /)
- ``date``      a date in any of the forms of DESIGN §9
- ``yearmonth`` a YYYYMM monitoring date (or any full date)
- ``year``      a 4-digit year
- ``int``       a whole number
- ``money``     an amount in yuan
- ``number``    a measured quantity (an area in 亩 …), decimals allowed
- ``phone``     a telephone number, kept as its digits
- ``bool``      是/否 and their variants
- ``township`` / ``village``  region names (normalize.regions)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value_kind: str  # how its cells are read and judged: id, date, money, code:<list>, ident, text …


def _fields(*rows: tuple[str, str, str]) -> dict[str, Field]:
    return {name: Field(name, label, value_kind) for name, label, value_kind in rows}


# Fields shared by household records of every role.
HOUSEHOLD_FIELDS = _fields(
    ("rec_id", "记录编号", "ident"),
    ("hh_code", "户编号", "ident"),
    ("county", "县", "text"),
    ("township", "乡镇", "township"),
    ("village", "村", "village"),
    ("group", "组", "text"),
    ("head_name", "户主姓名", "name"),
    ("head_id", "户主证件号码", "id"),
    ("hh_size", "家庭人口数", "int"),
    ("hh_type", "贫困户属性", "code:hh_type"),
    ("status", "户状态", "code:status"),
    ("monitor_type", "监测对象类别", "code:monitor_type"),
    ("risk_status", "风险是否消除", "code:risk_status"),
    ("risk_eliminated_date", "风险消除时间", "yearmonth"),
    ("elimination_method", "风险消除方式", "code:elimination_method"),
    ("development_measures_status", "实施开发式帮扶措施情况", "text"),
    ("monitor_start_date", "识别监测时间", "yearmonth"),
    ("identify_year", "识别年度", "year"),
    ("exit_year", "脱贫年度", "year"),
    ("main_cause", "主要致贫原因", "code:cause"),
    ("other_causes", "其他致贫原因", "codes:cause"),
    ("income_year", "收入年度", "year"),
    ("income_per_capita", "人均纯收入", "money"),
    ("income_total", "家庭纯收入", "money"),
    ("income_wage", "工资性收入", "money"),
    ("income_business", "生产经营性收入", "money"),
    ("income_property", "财产性收入", "money"),
    ("income_transfer", "转移性收入", "money"),
    ("expense_business", "生产经营性支出", "money"),
    ("housing_grade", "住房安全等级", "code:housing_grade"),
    ("water_safe", "饮水安全", "bool"),
    ("food_secure", "不愁吃", "bool"),
    ("clothing_secure", "不愁穿", "bool"),
    ("measures", "帮扶措施", "codes:measure"),
    ("cadre_name", "帮扶责任人", "name"),
    ("cadre_id", "帮扶责任人证件号码", "id"),
    ("cadre_unit", "帮扶单位", "text"),
    # the monitoring export (防返贫监测, 2021 on): who watches the household, and what it holds
    ("monitor_contact", "监测联系人", "name"),
    ("monitor_contact_phone", "监测联系人电话", "phone"),
    ("household_phone", "户联系电话", "phone"),
    ("guarantee_household", "整户无劳动能力兜底保障户", "bool"),
    ("medical_self_paid", "合规自付医疗支出", "money"),
    ("arable_land_area", "耕地面积", "number"),
    ("forest_land_area", "林地面积", "number"),
    ("grain_to_green_area", "退耕还林面积", "number"),
    ("apply_date", "申请日期", "date"),
    ("review_date", "民主评议日期", "date"),
    ("village_notice_date", "村级公示日期", "date"),
    ("township_notice_date", "乡镇公示日期", "date"),
    ("county_notice_date", "县级公告日期", "date"),
    ("exit_review_date", "退出评议日期", "date"),
    ("exit_village_notice_date", "退出村级公示日期", "date"),
    ("exit_township_notice_date", "退出乡镇公示日期", "date"),
    ("exit_county_notice_date", "退出县级公告日期", "date"),
    ("note", "备注", "text"),
    ("record_date", "填写日期", "date"),
)

# Extra household fields carried by the survey (农户调查表).
SURVEY_FIELDS = _fields(
    ("hukou_size", "户籍人口", "int"),
    ("card_size", "明白卡人口", "int"),
    ("manual_size", "扶贫手册人口", "int"),
    ("housing_safe", "安全住房", "bool"),
    ("dropout", "有辍学", "bool"),
    ("all_medical_insured", "全员参保", "bool"),
    ("knows_cadre", "能说出帮扶干部", "bool"),
    ("visits_reported", "帮扶干部今年上门次数", "int"),
    ("survey_date", "核查日期", "date"),
)

# What the 农户调查表 asks at the door (DESIGN §3): a survey that lacks any other household field is not
# "missing" it — the run plan does not list such fields as checks the run could not do.
SURVEY_FORM_FIELDS = (
    "rec_id", "hh_code", "county", "township", "village", "group", "head_name", "head_id", "hh_size", "status",
    "income_year", "income_per_capita", "water_safe", "food_secure", "clothing_secure", *SURVEY_FIELDS,
)

PERSON_FIELDS = _fields(
    ("rec_id", "记录编号", "ident"),
    ("hh_code", "户编号", "ident"),
    ("name", "姓名", "name"),
    ("id_number", "证件号码", "id"),
    ("relation", "与户主关系", "code:relation"),
    ("sex", "性别", "code:sex"),
    ("birth_date", "出生日期", "date"),
    ("ethnicity", "民族", "text"),
    ("education", "文化程度", "code:education"),
    ("student_status", "在校生状况", "code:student_status"),
    ("health", "健康状况", "code:health"),
    ("disability_level", "残疾等级", "code:disability_level"),
    ("labor", "劳动技能", "code:labor"),
    ("migrant_work", "务工状况", "text"),
    ("work_place", "务工所在地", "text"),
    ("work_months", "务工时间(月)", "int"),
    ("employment_channel", "就业渠道", "text"),
    ("public_post_type", "公益性岗位类型", "text"),
    ("public_post_months", "公益性岗位月数", "int"),
    ("out_of_school_reason", "未上学原因", "text"),
    ("political_status", "政治面貌", "code:political_status"),
    ("member_phone", "成员联系电话", "phone"),
    ("medical_insured", "参加医保", "bool"),  # the residents' scheme (城乡居民基本医疗保险, formerly 新农合)
    ("employee_medical_insured", "参加职工医保", "bool"),  # 城镇职工基本医疗保险: 基本医疗 is met by either
    ("pension_insured", "参加养老保险", "bool"),
    ("serious_illness_insured", "参加大病保险", "bool"),
    # the national export's further yes/no columns (county checker 16–27): judged for being filled in only
    ("employee_pension_insured", "参加职工养老保险", "bool"),
    ("commercial_medical_insured", "参加商业补充医疗保险", "bool"),
    ("medical_aid", "接受医疗救助", "bool"),
    ("other_health_aid", "接受其他健康扶贫", "bool"),
    ("works_abroad", "国外务工", "bool"),
    ("speaks_mandarin", "会讲普通话", "bool"),
    ("yulu_plan", "享受雨露计划", "bool"),  # 雨露计划: a grant for 中职/高职 students of 脱贫 and monitored households
    ("dibao", "享受低保", "bool"),
    ("tekun", "特困供养人员", "bool"),
)

# Core register columns; any other mapping target goes into `attrs`.
REGISTER_FIELDS = _fields(
    ("id_number", "证件号码", "id"),
    ("name", "姓名", "name"),
    ("township", "乡镇", "township"),
    ("village", "村", "village"),
    ("hh_code", "户编号", "ident"),
    ("hukou_no", "户号", "ident"),
)

@dataclass(frozen=True)
class RegisterKind:
    """A department register (部门数据) kind: one entry here is all a new kind needs beside its tests."""

    label: str  # how a person names it: 民政低保
    attrs: dict[str, Field]  # its standard columns beyond REGISTER_FIELDS: value kind and Chinese label
    name_hints: tuple[str, ...]  # words in a file name that say this register (the web page's first guess)
    by_head: bool = False  # kept per household by the head's ID (住建 危房鉴定): its ID column is the head's
    mark: str = ""  # what being on it says of a person, for the 漏评 leads (享受低保); empty: not such a register


# In the order reports list them.
REGISTER_TABLE = {
    "dibao": RegisterKind("民政低保", _fields(("dibao_class", "保障类别", "text"), ("monthly_amount", "月保障金额", "money"),
                                          ("approved_date", "审批日期", "date")), ("低保",), mark="享受低保"),
    "tekun": RegisterKind("民政特困", _fields(("support_mode", "供养方式", "text"), ("approved_date", "审批日期", "date")),
                          ("特困", "五保"), mark="特困供养"),
    "disability": RegisterKind("残联残疾人", _fields(("disability_type", "残疾类别", "text"),
                                              ("disability_level", "残疾等级", "code:disability_level"),
                                              ("issued_date", "发证日期", "date")), ("残疾", "残联"),
                                 mark="持残疾证"),
    "illness": RegisterKind("大病慢病", _fields(("disease", "病种", "text"), ("identified_date", "认定日期", "date")),
                            ("大病", "慢病", "重病", "慢性病"), mark="患大病或慢病"),
    "death": RegisterKind("公安死亡注销", _fields(("death_date", "死亡日期", "date"), ("cancel_reason", "注销原因", "text")),
                          ("死亡", "注销")),
    "hukou": RegisterKind("公安户籍", _fields(("relation", "与户主关系", "code:relation_gbt4761")), ("户籍",)),
    "public_employee": RegisterKind("财政供养人员", _fields(("employer", "工作单位", "text"),
                                                     ("staff_type", "人员类别", "text")),
                                    ("财政供养", "公职", "供养人员")),
    "vehicle": RegisterKind("车辆登记", _fields(("plate", "号牌号码", "text"), ("vehicle_type", "车辆类型", "text"),
                                            ("registered_date", "登记日期", "date")), ("车辆", "机动车")),
    "property": RegisterKind("商品房登记", _fields(("address", "房屋坐落", "text"), ("property_type", "房屋性质", "text"),
                                              ("floor_area", "建筑面积", "money")), ("商品房", "房产", "不动产")),
    "business": RegisterKind("工商登记", _fields(("business_name", "名称", "text"), ("business_type", "类型", "text"),
                                             ("registered_capital", "注册资本(万元)", "money")),
                             ("工商", "市场主体", "营业执照")),
    "student": RegisterKind("教育学籍", _fields(("school", "学校名称", "text"), ("student_status", "在校状态", "text"),
                                            ("grade", "年级", "text")), ("学籍", "学生")),
    "medical": RegisterKind("医保参保", _fields(("enrol_year", "参保年度", "year"), ("insurance_type", "险种类型", "text"),
                                            ("insured_status", "参保状态", "text")), ("医保", "参保", "医疗保险")),
    "housing": RegisterKind("住建危房鉴定", _fields(("housing_grade", "鉴定等级", "code:housing_grade"),
                                              ("assessed_date", "鉴定日期", "date")), ("危房", "住建", "房屋鉴定"),
                            by_head=True),
}
# The same facts as the rest of the code reads them
REGISTER_KINDS = tuple(REGISTER_TABLE)
# A file name is tried against these kinds first (死亡注销 names the death register, not 户籍; 特困 before 低保),
# then against the others in table order.
REGISTER_NAME_ORDER = ("death", "hukou", "tekun", *(k for k in REGISTER_TABLE if k not in ("death", "hukou", "tekun")))
REGISTERS_BY_HEAD = tuple(k for k in REGISTER_KINDS if REGISTER_TABLE[k].by_head)
REGISTER_KIND_LABELS = {k: REGISTER_TABLE[k].label for k in REGISTER_KINDS}
REGISTER_KIND_MARKS = {k: REGISTER_TABLE[k].mark for k in REGISTER_KINDS}
REGISTER_ATTRS: dict[str, dict[str, str]] = {k: {a: f.value_kind for a, f in REGISTER_TABLE[k].attrs.items()}
                                             for k in REGISTER_KINDS}
# How a township officer names each standard register attr (DESIGN §3 registers).
REGISTER_ATTR_LABELS = {a: f.label for k in REGISTER_KINDS for a, f in REGISTER_TABLE[k].attrs.items()}

VISIT_FIELDS = _fields(
    ("hh_code", "户编号", "ident"),
    ("head_id", "户主证件号码", "id"),
    ("head_name", "户主姓名", "name"),
    ("township", "乡镇", "township"),
    ("village", "村", "village"),
    ("cadre_name", "帮扶责任人", "name"),
    ("visit_date", "走访日期", "date"),
    ("note", "走访内容", "text"),
)



@dataclass(frozen=True)
class Role:
    """A source role: one of the four places a household is described (四个一致)."""

    label: str  # how a person names the source: 国家系统
    file_label: str  # how a person names its file: 国家系统导出 (the web page's name for an uploaded file)
    choice: str  # the web page's 用途 choice: 国家系统导出
    registered: bool  # holds the registered households (the survey holds the households visited instead)
    usual_level: str  # person (a member list) or household: how its file usually comes (a rule's example)
    name_hints: tuple[str, ...]  # words in a file name that say this role (the web page's first guess)


# In trust order: a value is shown from the first role that has it. A file name is tried against the roles
# in the opposite order (系统 is the most general word).
ROLE_TABLE = {
    "system": Role("国家系统", "国家系统导出", "国家系统导出", registered=True, usual_level="person",
                   name_hints=("系统", "导出", "全国", "国办")),
    "archive": Role("村级档案", "村级档案", "村级档案/台账", registered=True, usual_level="household",
                    name_hints=("台账", "档案", "村级")),
    "manual": Role("扶贫手册", "扶贫手册", "扶贫手册/明白卡", registered=True, usual_level="person",
                   name_hints=("手册", "明白卡", "户内资料")),
    "survey": Role("入户核查", "入户核查", "入户核查结果", registered=False, usual_level="household",
                   name_hints=("核查", "调查", "入户", "实地")),
}
ROLES = tuple(ROLE_TABLE)
ROLE_LABELS = {name: role.label for name, role in ROLE_TABLE.items()}
REGISTERED_ROLES = tuple(name for name, role in ROLE_TABLE.items() if role.registered)


def source_labels(roles: dict[str, str]) -> dict[str, str]:
    """Source key → how a person names it (国家系统 …), the key added when two sources share a role."""
    counts: dict[str, int] = {}
    for role in roles.values():
        counts[role] = counts.get(role, 0) + 1
    return {key: ROLE_LABELS.get(role, key) + (f"({key})" if counts[role] > 1 else "") for key, role in roles.items()}

LEVELS = ("person", "household")

# Prefix that lets a config keep an unknown column, by name, in `extra`.
EXTRA_PREFIX = "x_"


def household_fields(role: str) -> dict[str, Field]:
    if role == "survey":
        return {**HOUSEHOLD_FIELDS, **SURVEY_FIELDS}
    return dict(HOUSEHOLD_FIELDS)


# A source field's Chinese label by its canonical name (person, household and survey fields share no name).
FIELD_LABELS = {name: f.label for table in (PERSON_FIELDS, HOUSEHOLD_FIELDS, SURVEY_FIELDS) for name, f in table.items()}


def source_fields(role: str, level: str) -> dict[str, Field]:
    """Every field a source of this role and level may map a column to."""
    fields = household_fields(role)
    if level == "person":
        fields = {**fields, **PERSON_FIELDS}
    return fields


def register_fields(kind: str) -> dict[str, Field]:
    return {**REGISTER_FIELDS, **(REGISTER_TABLE[kind].attrs if kind in REGISTER_TABLE else {})}


def field_kind(name: str) -> str:
    for table in (PERSON_FIELDS, HOUSEHOLD_FIELDS, SURVEY_FIELDS, VISIT_FIELDS):
        if name in table:
            return table[name].value_kind
    for attrs in REGISTER_ATTRS.values():
        if name in attrs:
            return attrs[name]
    return "text"


def several_columns(name: str) -> bool:
    """Whether a field may be read from several columns of one file: a list field (其他致贫原因 from 致贫/返贫风险2 …
    5) joins their cells; a field of one value must come from one column."""
    return field_kind(name).startswith("codes:")


# Identifiers kept as text (value kind `ident`): never parsed or judged by a normaliser, and columns whose
# Excel number cells would have lost digits.
KEY_FIELDS = frozenset(name for table in (HOUSEHOLD_FIELDS, PERSON_FIELDS, SURVEY_FIELDS, REGISTER_FIELDS,
                                          VISIT_FIELDS)
                       for name, f in table.items() if f.value_kind == "ident")
UNJUDGED_KINDS = ("text", "ident")  # value kinds whose cells are only kept, never checked
