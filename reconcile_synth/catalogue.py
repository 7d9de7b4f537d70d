"""The injection catalogue: every recipe, the source it changes and the findings it implies.

The order is the round-robin order of `inject.problems`: every recipe gets one household before any
gets a second, so a county of a few hundred households already shows every kind several times.
"""

from __future__ import annotations

from . import recipes as R
from . import recipes_missed as X
from . import recipes_monitoring as M
from . import recipes_people as N
from . import recipes_rules as Q
from .recipes import Recipe

RECIPES: list[Recipe] = [
    Recipe("cadre_overload", "一名帮扶责任人结对户数超过上限（该责任人名下每户各一条）", Q.cadre_overload, every=4),
    Recipe("person_multi_household", "外嫁/入赘子女同时登记在本户和配偶户（两户均为建档立卡户；本户户籍人数因此不符）", R.pmh, "no"),
    Recipe("risk_elimination_premature", "已消除风险，人均纯收入仍低于监测线", Q.rep_income),
    Recipe("risk_elimination_premature", "因病，已消除风险但成员仍患有大病", Q.rep_illness),
    Recipe("risk_elimination_premature", "纳入监测不足规定月数即消除风险", Q.rep_soon),
    Recipe("household_missing", "村级台账缺少该户", R.hm_archive),
    Recipe("household_missing", "无扶贫手册", R.hm_manual, "no"),
    Recipe("household_missing", "台账和手册有、国家系统无", R.hm_system, "no"),
    Recipe("household_duplicate", "台账同一户两行", R.hd_archive),
    Recipe("household_duplicate", "手册以第二个户编号重复录入", R.hd_manual),
    Recipe("member_missing", "手册漏登一名成员（并致人口数不符）", R.mm_manual, "no"),
    Recipe("member_missing", "系统漏一名成员、人口数未改（并致人口数与成员行数不符）", R.mm_system, "no"),
    Recipe("member_missing", "户籍有新生儿、各来源均无（并致户籍人数不符）", R.mm_hukou, "no"),
    Recipe("household_size_mismatch", "手册家庭人口数与成员行数、系统不符", R.hsm_manual, "no"),
    Recipe("household_size_mismatch", "核查明白卡人口与系统不符", R.hsm_survey, "force"),
    Recipe("head_mismatch", "台账以配偶或其他成年成员为户主", N.head_archive),
    Recipe("head_mismatch", "手册户主与配偶互换（并致两人关系不符）", N.head_manual),
    Recipe("name_mismatch", "手册姓名同音/形近字", N.name_manual),
    Recipe("name_mismatch", "系统姓名同音/形近字", N.name_system),
    Recipe("id_mismatch", "手册成员身份证号为另一有效号码", N.id_mismatch),
    Recipe("id_invalid", "系统导出身份证号为Excel数值", N.idinv_excel),
    Recipe("id_invalid", "手册身份证号录错一位或少一位", N.idinv_manual),
    Recipe("id_invalid", "台账户主身份证号为科学计数法文本或17位", N.idinv_archive),
    Recipe("id_demographic_conflict", "系统出生日期与身份证号不符", N.idd_birth),
    Recipe("id_demographic_conflict", "手册性别与身份证号不符（无配偶户主）", N.idd_sex),
    Recipe("relation_mismatch", "手册与户主关系与系统不同", N.rel_manual),
    Recipe("relation_mismatch", "系统一户两个户主", N.rel_two_heads),
    Recipe("relation_mismatch", "系统把户主父母登记为子女（子女比户主年长）", N.rel_child_older),
    Recipe("status_mismatch", "台账脱贫状态为未脱贫", N.status_src("archive"), "no"),
    Recipe("status_mismatch", "手册户状态为未脱贫", N.status_src("manual"), "no"),
    Recipe("status_mismatch", "台账风险是否消除与系统相反", N.risk_archive("risk_status")),
    Recipe("status_mismatch", "台账监测对象类别与系统不同", N.risk_archive("monitor_type")),
    Recipe("status_mismatch", "台账风险消除时间与系统差一个月", N.risk_archive("risk_eliminated_date")),
    Recipe("exit_year_mismatch", "手册脱贫年度差一年", N.eym_manual),
    Recipe("exit_year_mismatch", "台账脱贫时间早一年（台账退出程序日期随之）", N.eym_archive),
    Recipe("household_type_mismatch", "台账贫困户属性不同", N.htm_archive),
    Recipe("household_type_mismatch", "一般户户主在民政低保名单", N.htm_dibao),
    Recipe("cause_mismatch", "台账主要致贫原因不同（仍有对应措施）", N.cause_src("archive")),
    Recipe("cause_mismatch", "手册主要致贫原因不同（仍有对应措施）", N.cause_src("manual")),
    Recipe("income_mismatch", "台账人均纯收入超出容差（台账自身算术一致）", Q.inc_mm_archive),
    Recipe("income_mismatch", "核查人均纯收入超出容差", Q.inc_mm_survey, "force"),
    Recipe("income_arithmetic", "系统工资性收入改动、纯收入未更新", Q.inc_ar_system),
    Recipe("income_arithmetic", "台账人均纯收入≠纯收入÷人口（差额在来源间容差内）", Q.inc_ar_archive),
    Recipe("income_arithmetic", "手册纯收入未扣支出或多计", Q.inc_ar_manual),
    Recipe("income_copied", "手册上年收入各项照搬系统本年", Q.inc_copied),
    Recipe("cadre_mismatch", "手册帮扶责任人为另一人", N.cadre_manual),
    Recipe("cadre_mismatch", "核查说不出帮扶干部", N.cadre_survey, "force"),
    Recipe("wrong_exit_income", "已脱贫，本年人均纯收入低于脱贫标准（各来源一致）", Q.wrong_exit_income),
    Recipe("wrong_exit_guarantee", "学籍系统义务教育阶段子女辍学", Q.weg_student),
    Recipe("wrong_exit_guarantee", "入户核查有辍学", Q.weg_survey_dropout, "force"),
    Recipe("wrong_exit_guarantee", "义务教育阶段子女系统和手册记为非在校生、学籍中没有", Q.weg_out_of_school, "no"),
    Recipe("wrong_exit_guarantee", "医保系统一名成员未参保", Q.weg_medical),
    Recipe("wrong_exit_guarantee", "住建鉴定C/D级危房", Q.weg_housing),
    Recipe("wrong_exit_guarantee", "系统饮水不安全", Q.weg_water),
    Recipe("exit_procedure", "台账退出村级公示早于民主评议", Q.exit_procedure("order")),
    Recipe("exit_procedure", "台账退出村级公示天数不足", Q.exit_procedure("short")),
    Recipe("exit_procedure", "台账退出县级公告晚于脱贫年度", Q.exit_procedure("late")),
    Recipe("identify_procedure", "台账识别民主评议早于申请", Q.identify_procedure("order")),
    Recipe("identify_procedure", "台账缺村级公示日期", Q.identify_procedure("missing")),
    Recipe("ineligible_member", "成员在财政供养人员名单中", Q.ineligible("public_employee")),
    Recipe("ineligible_member", "成员有登记车辆", Q.ineligible("vehicle")),
    Recipe("ineligible_member", "成员有商品房登记", Q.ineligible("property")),
    Recipe("ineligible_member", "成员有工商登记", Q.ineligible("business")),
    Recipe("deceased_listed", "成员在公安死亡注销名单中（户籍已注销，并致户籍人数不符）", Q.deceased, "no"),
    Recipe("visit_insufficient", "按月走访户某月无走访", Q.visit_insufficient(True)),
    Recipe("visit_insufficient", "按季走访户某季度无走访", Q.visit_insufficient(False)),
    Recipe("measure_cause_mismatch", "帮扶措施均不对应主要致贫原因", Q.measure_cause),
    Recipe("no_measure", "各来源帮扶措施为空（手册必填项缺失）", Q.no_measure),
    Recipe("record_incomplete", "手册必填项为空", N.ri_src("manual")),
    Recipe("record_incomplete", "台账必填项为空", N.ri_src("archive")),
    Recipe("outdated_terms", "2021年后更新的台账备注使用过时表述", Q.outdated_terms),
]

MISSED: list[Recipe] = [
    Recipe("missed_suspect", "非建档立卡户入户核查：人均纯收入低于标准", X.missed_survey("income"), "force"),
    Recipe("missed_suspect", "非建档立卡户入户核查：C/D级危房（住建鉴定同）", X.missed_survey("housing"), "force"),
    Recipe("missed_suspect", "非建档立卡户入户核查：有辍学（学籍同）", X.missed_survey("dropout"), "force"),
    Recipe("missed_suspect", "部门数据：享受低保且持残疾证，不在任何登记户", X.missed_register("dibao+disability"), "no"),
    Recipe("missed_suspect", "部门数据：特困供养且持残疾证，不在任何登记户", X.missed_register("tekun+disability"), "no"),
    Recipe("missed_suspect", "部门数据：户主享受低保且住房C/D级，不在任何登记户", X.missed_register("dibao+housing"), "no"),
]

# The 防返贫监测 export's own problems, injected in monitoring-era counties (assessment year from 2021) after
# the four-consistency recipes above.
MONITORING: list[Recipe] = [
    Recipe("monitoring_contact_missing", "监测对象的监测联系人为空（系统）", M.contact_missing),
    Recipe("monitoring_contact_missing", "户联系电话少一位（系统）", M.phone_short),
    Recipe("public_post_inconsistent", "公益性岗位有月数、岗位类型为空（系统）", M.post_without_type),
    Recipe("public_post_inconsistent", "公益性岗位人员务工所在地为省外（系统）", M.post_away),
    Recipe("insurance_inconsistent", "成员同时参加城乡居民医保和职工医保（系统）", M.both_schemes),
    Recipe("insurance_inconsistent", "成员未参加大病保险（系统）", M.no_serious_insurance),
    Recipe("labor_status_conflict", "有务工所在地、务工时间为空（系统）", M.work_without_months),
    Recipe("labor_status_conflict", "在校生劳动技能为普通劳动力（系统）", M.student_with_labor),
    Recipe("education_status_conflict", "在校生同时填写文化程度（系统）", M.education_and_student),
    Recipe("value_out_of_range", "耕地面积超出合理范围（系统）", M.land_out_of_range),
    Recipe("guarantee_flag_missing", "全家无劳动能力且享受低保或特困，兜底保障户为否（系统）", M.guarantee_unflagged),
    Recipe("risk_condition_mismatch", "监测对象风险因病，合规自付医疗支出为0（系统）", M.illness_without_costs),
    Recipe("elimination_without_measure", "帮扶消除，国家系统帮扶措施为空（台账、手册有）", M.eliminated_without_measure),
    Recipe("elimination_without_measure", "其他风险加因病（有慢性病成员和自付支出），风险已消除，没有健康或社会保障措施",
           M.further_illness_eliminated),
    Recipe("risk_condition_mismatch", "其他风险加因安全饮水，没有饮水安全措施", M.further_water_no_measure),
    Recipe("education_status_conflict", "初中或高中学生享受雨露计划（系统）", M.yulu_not_vocational),
    Recipe("risk_kept_unnecessarily", "风险未消除，纳入监测已满规定月数、收入稳定超过监测标准、风险都已不在（应消未消）",
           M.risk_kept),
]


def recipes_for(monitoring: bool) -> list[Recipe]:
    return RECIPES + MONITORING if monitoring else RECIPES
