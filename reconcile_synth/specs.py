"""File names, raw headers and their canonical fields: shared by the writers and reconcile.yaml.

A field of None, or one starting with "_", is a raw column with no canonical field: it is written
but left unmapped (the loader keeps it in `extra`).
"""

from __future__ import annotations

SYSTEM_FILE, SYSTEM_SHEET = "国家系统导出.xlsx", "Sheet1"
MANUAL_FILE, MANUAL_SHEET = "扶贫手册.xlsx", "扶贫手册"
ARCHIVE_FILE, ARCHIVE_ENCODING = "村级台账.csv", "gb18030"
SURVEY_FILE, SURVEY_ENCODING = "入户核查.csv", "utf-8-sig"
VISITS_FILE, VISITS_ENCODING = "走访记录.csv", "utf-8-sig"
REGISTER_DIR = "部门数据"
# In format "csv" the system export and the manual are CSV too: the export in GB18030 like real national
# exports, the manual (typed in by county staff) UTF-8 with BOM, each with one header row.
SYSTEM_CSV_ENCODING, MANUAL_CSV_ENCODING = "gb18030", "utf-8-sig"
FORMATS = ("xlsx", "csv", "parquet")


def file_name(name: str, fmt: str) -> str:
    """`name` (as written in format xlsx) in output format `fmt`: every file is .parquet in "parquet",
    the workbooks are .csv in "csv"."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    stem, _, suffix = name.rpartition(".")
    if fmt == "parquet":
        return f"{stem}.parquet"
    if fmt == "csv" and suffix == "xlsx":
        return f"{stem}.csv"
    return name

SYSTEM_COLUMNS = [
    ("省", "_province"), ("市", "_city"), ("县", "county"), ("乡", "township"), ("村", "village"),
    ("户编号", "hh_code"), ("人口编号", "rec_id"), ("姓名", "name"), ("性别", "sex"), ("出生日期", "birth_date"),
    ("证件号码", "id_number"), ("与户主关系", "relation"), ("民族", "ethnicity"), ("文化程度", "education"),
    ("在校生状况", "student_status"), ("健康状况", "health"), ("劳动技能", "labor"), ("务工状况", "migrant_work"),
    ("是否参加城乡居民基本医疗保险", "medical_insured"), ("是否参加城乡居民基本养老保险", "pension_insured"),
    ("是否享受低保", "dibao"), ("户主姓名", "head_name"), ("户主证件号码", "head_id"), ("家庭人口数", "hh_size"),
    ("贫困户属性", "hh_type"), ("脱贫标志", "status"), ("脱贫年度", "exit_year"), ("识别年度", "identify_year"),
    ("主要致贫原因", "main_cause"), ("其他致贫原因", "other_causes"), ("收入年度", "income_year"),
    ("工资性收入", "income_wage"), ("生产经营性收入", "income_business"), ("财产性收入", "income_property"),
    ("转移性收入", "income_transfer"), ("生产经营性支出", "expense_business"), ("家庭纯收入", "income_total"),
    ("人均纯收入", "income_per_capita"), ("危房级别", "housing_grade"), ("饮水是否安全", "water_safe"),
    ("帮扶责任人", "cadre_name"), ("帮扶责任人证件号码", "cadre_id"), ("帮扶单位", "cadre_unit"),
    ("帮扶措施", "measures"), ("监测对象类别", "monitor_type"), ("风险是否消除", "risk_status"),
    ("识别监测时间", "monitor_start_date"), ("风险消除时间", "risk_eliminated_date"),
]

# The 防返贫监测 export (assessment years from 2021): the national person header (domain §2.3) with the
# monitoring columns; no 务工状况 (务工所在地 says where), the risks in numbered columns. A field
# "name#k" is the k-th further value of a list field (the loader joins the columns mapped to it).
MONITORING_SYSTEM_COLUMNS = [
    ("省", "_province"), ("市", "_city"), ("县", "county"), ("乡", "township"), ("村", "village"),
    ("户编号", "hh_code"), ("人口编号", "rec_id"), ("姓名", "name"), ("性别", "sex"), ("出生日期", "birth_date"),
    ("证件类型", "_id_type"), ("证件号码", "id_number"), ("民族", "ethnicity"), ("户联系电话", "household_phone"),
    ("成员联系电话", "member_phone"), ("年度", "_year"), ("与户主关系", "relation"), ("文化程度", "education"),
    ("在校生状况", "student_status"), ("失学或辍学原因", "out_of_school_reason"), ("劳动技能", "labor"),
    ("务工所在地", "work_place"), ("务工时间（月）", "work_months"), ("就业渠道", "employment_channel"),
    ("公益性岗位类型", "public_post_type"), ("公益性岗位(月数)", "public_post_months"), ("健康状况", "health"),
    ("是否享受低保", "dibao"), ("是否特困供养人员", "tekun"),
    ("是否参加新型农村合作医疗（城乡居民基本医疗保险）", "medical_insured"),
    ("是否参加城镇职工基本医疗保险", "employee_medical_insured"), ("是否参加大病保险", "serious_illness_insured"),
    ("是否参加城乡居民基本养老保险", "pension_insured"), ("是否参加城镇职工基本养老保险", "employee_pension_insured"),
    ("是否参加商业补充医疗保险", "commercial_medical_insured"), ("是否接受大病医疗救助", "medical_aid"),
    ("是否接受其他健康扶贫", "other_health_aid"), ("是否国外务工", "works_abroad"), ("是否会讲普通话", "speaks_mandarin"),
    ("是否享受雨露计划", "yulu_plan"),
    ("户主姓名", "head_name"), ("户主证件号码", "head_id"), ("家庭人口数", "hh_size"), ("户类型", "_hh_kind"),
    ("贫困户属性", "hh_type"), ("脱贫标志", "status"), ("脱贫年度", "exit_year"), ("识别年度", "identify_year"),
    ("监测对象类别", "monitor_type"), ("识别监测时间", "monitor_start_date"), ("风险是否消除", "risk_status"),
    ("风险消除方式", "elimination_method"), ("风险消除时间", "risk_eliminated_date"),
    ("致贫/返贫风险1", "main_cause"), ("致贫/返贫风险2", "other_causes#0"), ("致贫/返贫风险3", "other_causes#1"),
    ("监测联系人", "monitor_contact"), ("监测联系人电话", "monitor_contact_phone"),
    ("整户无劳动能力兜底保障户", "guarantee_household"), ("合规自付医疗支出", "medical_self_paid"),
    ("耕地面积（亩）", "arable_land_area"), ("林地面积（亩）", "forest_land_area"),
    ("收入年度", "income_year"), ("工资性收入", "income_wage"), ("生产经营性收入", "income_business"),
    ("财产性收入", "income_property"), ("转移性收入", "income_transfer"), ("生产经营性支出", "expense_business"),
    ("家庭纯收入", "income_total"), ("人均纯收入", "income_per_capita"), ("危房级别", "housing_grade"),
    ("饮水是否安全", "water_safe"), ("帮扶责任人", "cadre_name"), ("帮扶责任人证件号码", "cadre_id"),
    ("帮扶单位", "cadre_unit"), ("帮扶措施", "measures"),
]

MANUAL_COLUMNS = [
    ("乡镇", "township"), ("村", "village"), ("户编号", "hh_code"), ("户主姓名", "head_name"),
    ("户主身份证号", "head_id"), ("家庭人口", "hh_size"), ("贫困户属性", "hh_type"), ("户状态", "status"),
    ("脱贫年度", "exit_year"), ("主要致贫原因", "main_cause"), ("其他致贫原因", "other_causes"),
    ("收入年度", "income_year"), ("工资性收入", "income_wage"), ("生产经营性收入", "income_business"),
    ("财产性收入", "income_property"), ("转移性收入", "income_transfer"), ("生产经营性支出", "expense_business"),
    ("家庭纯收入", "income_total"), ("人均纯收入", "income_per_capita"), ("帮扶责任人", "cadre_name"),
    ("帮扶单位", "cadre_unit"), ("帮扶措施", "measures"), ("成员姓名", "name"), ("性别", "sex"),
    ("身份证号", "id_number"), ("与户主关系", "relation"), ("出生日期", "birth_date"), ("民族", "ethnicity"),
    ("文化程度", "education"), ("在校生状况", "student_status"), ("健康状况", "health"), ("劳动能力", "labor"),
    ("填写日期", "record_date"),
]

ARCHIVE_COLUMNS = [
    ("序号", "_seq"), ("乡镇", "township"), ("村委会", "village"), ("组", "group"), ("户编号", "hh_code"),
    ("户主", "head_name"), ("身份证号", "head_id"), ("家庭人口", "hh_size"), ("贫困户属性", "hh_type"),
    ("脱贫状态", "status"), ("脱贫时间", "exit_year"), ("监测对象类别", "monitor_type"), ("风险是否消除", "risk_status"),
    ("风险消除时间", "risk_eliminated_date"), ("致贫原因", "main_cause"), ("收入年度", "income_year"),
    ("工资性收入", "income_wage"), ("经营性收入", "income_business"), ("财产性收入", "income_property"),
    ("转移性收入", "income_transfer"), ("经营性支出", "expense_business"), ("家庭纯收入", "income_total"),
    ("人均纯收入", "income_per_capita"), ("帮扶人", "cadre_name"), ("帮扶措施", "measures"),
    ("申请时间", "apply_date"), ("民主评议时间", "review_date"), ("村公示时间", "village_notice_date"),
    ("乡镇公示时间", "township_notice_date"), ("县公告时间", "county_notice_date"),
    ("退出评议时间", "exit_review_date"), ("退出村公示时间", "exit_village_notice_date"),
    ("退出乡镇公示时间", "exit_township_notice_date"), ("退出县公告时间", "exit_county_notice_date"),
    ("备注", "note"), ("更新日期", "record_date"),
]

SURVEY_COLUMNS = [
    ("序号", "_seq"), ("乡镇", "township"), ("村", "village"), ("户主姓名", "head_name"),
    ("户主身份证号", "head_id"), ("户状态", "status"), ("家庭实际人口", "hh_size"), ("户籍人口", "hukou_size"),
    ("明白卡人口", "card_size"), ("扶贫手册人口", "manual_size"), ("安全住房", "housing_safe"),
    ("饮水安全", "water_safe"), ("有辍学", "dropout"), ("全员参保", "all_medical_insured"),
    ("能说出帮扶干部", "knows_cadre"), ("帮扶干部今年上门次数", "visits_reported"),
    ("人均纯收入", "income_per_capita"), ("收入年度", "income_year"), ("核查日期", "survey_date"),
    ("核查人", "_inspector"),
]

VISIT_COLUMNS = [
    ("乡镇", "township"), ("村", "village"), ("户编号", "hh_code"), ("户主姓名", "head_name"),
    ("户主身份证号", "head_id"), ("帮扶责任人", "cadre_name"), ("走访日期", "visit_date"), ("走访内容", "note"),
]

# kind: (file name, encoding, date style, columns)
REGISTERS: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {
    "dibao": ("民政低保.csv", "gb18030", "iso", [
        ("序号", "_seq"), ("姓名", "name"), ("身份证号", "id_number"), ("乡镇", "township"), ("村", "village"),
        ("保障类别", "dibao_class"), ("月保障金额", "monthly_amount"), ("审批日期", "approved_date")]),
    "tekun": ("民政特困.csv", "gb18030", "compact", [
        ("姓名", "name"), ("公民身份号码", "id_number"), ("乡镇（街道）", "township"), ("村（社区）", "village"),
        ("供养方式", "support_mode"), ("审批时间", "approved_date")]),
    "disability": ("残联残疾人.csv", "utf-8", "slash", [
        ("姓名", "name"), ("性别", "_sex"), ("身份证号", "id_number"), ("残疾人证号", "_cert_no"),
        ("残疾类别", "disability_type"), ("残疾等级", "disability_level"), ("发证日期", "issued_date"),
        ("乡镇", "township"), ("村", "village")]),
    "illness": ("卫健大病慢病.csv", "utf-8-sig", "iso", [
        ("姓名", "name"), ("身份证号", "id_number"), ("病种", "disease"), ("认定日期", "identified_date"),
        ("乡镇", "township"), ("村", "village")]),
    "death": ("公安死亡注销.csv", "gb18030", "compact", [
        ("姓名", "name"), ("公民身份号码", "id_number"), ("性别", "_sex"), ("死亡日期", "death_date"),
        ("注销原因", "cancel_reason"), ("注销日期", "_cancel_date"), ("乡镇", "township"), ("村", "village")]),
    "hukou": ("公安户籍.csv", "gb18030", "compact", [
        ("户号", "hukou_no"), ("姓名", "name"), ("公民身份号码", "id_number"), ("与户主关系", "relation"),
        ("性别", "_sex"), ("出生日期", "_birth_date"), ("民族", "_ethnicity"), ("乡镇", "township"),
        ("村（居）委会", "village")]),
    "public_employee": ("财政供养人员.csv", "utf-8-sig", "iso", [
        ("姓名", "name"), ("身份证号", "id_number"), ("工作单位", "employer"), ("人员类别", "staff_type")]),
    "vehicle": ("车辆登记.csv", "utf-8", "iso", [
        ("所有人", "name"), ("身份证明号码", "id_number"), ("号牌号码", "plate"), ("车辆类型", "vehicle_type"),
        ("初次登记日期", "registered_date")]),
    "property": ("商品房登记.csv", "utf-8", "iso", [
        ("权利人", "name"), ("证件号码", "id_number"), ("房屋坐落", "address"), ("房屋性质", "property_type"),
        ("建筑面积", "floor_area")]),
    "business": ("工商登记.csv", "gb18030", "iso", [
        ("经营者", "name"), ("身份证号", "id_number"), ("名称", "business_name"), ("类型", "business_type"),
        ("注册资本（万元）", "registered_capital")]),
    "student": ("教育学籍.csv", "utf-8-sig", "iso", [
        ("学生姓名", "name"), ("身份证件号", "id_number"), ("学校名称", "school"), ("年级", "grade"),
        ("在校状态", "student_status"), ("户籍乡镇", "township"), ("户籍村", "village")]),
    "medical": ("医保参保.csv", "gb18030", "compact", [
        ("姓名", "name"), ("身份证号", "id_number"), ("参保年度", "enrol_year"), ("险种类型", "insurance_type"),
        ("参保状态", "insured_status"), ("乡镇", "township"), ("村", "village")]),
    "housing": ("住建危房鉴定.csv", "gb18030", "iso", [
        ("户主姓名", "name"), ("户主身份证号", "id_number"), ("乡镇", "township"), ("村", "village"),
        ("鉴定等级", "housing_grade"), ("鉴定日期", "assessed_date")]),
}


def mapping(columns: list[tuple[str, str | None]]) -> dict[str, str]:
    """Raw header → canonical field, for the columns that have one."""
    return {header: field.partition("#")[0] for header, field in columns if field and not field.startswith("_")}


def system_columns(monitoring: bool) -> list[tuple[str, str]]:
    return MONITORING_SYSTEM_COLUMNS if monitoring else SYSTEM_COLUMNS
