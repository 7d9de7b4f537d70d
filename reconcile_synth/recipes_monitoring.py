"""Problems of the 防返贫监测 export (assessment years from 2021): the county checker's structural checks,
the Guizhou monitoring families and 应消未消. Each changes the system export only — the one source that
carries these columns — and records the finding it implies.
"""

from __future__ import annotations

from .attrs import NO_LABOR, line
from .inject import Ctx, prow, set_everywhere, set_income
from .recipes_rules import _scaled
from .views import PRow
from .world import Household, Person


def _system_row(ctx: Ctx, h: Household, p: Person) -> PRow | None:
    return prow(ctx.rec("system", h), p.pid)


def _set(ctx: Ctx, h: Household, p: Person, **values) -> bool:
    row = _system_row(ctx, h, p)
    if row is None:
        return False
    row.f.update(values)
    return True


def contact_missing(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if not h.monitor_type or rec is None:
        return False
    rec.f["monitor_contact"] = ""
    ctx.add("monitoring_contact_missing", h, "", "system", "监测对象没有监测联系人")
    return True


def phone_short(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if rec is None or len(rec.f.get("household_phone") or "") != 11:
        return False
    rec.f["household_phone"] = rec.f["household_phone"][:10]
    ctx.add("monitoring_contact_missing", h, "", "system", "户联系电话只有10位")
    return True


def _post_holder(h: Household) -> Person | None:
    return next((p for p in h.members if p.post_type), None)


def post_without_type(ctx: Ctx, h: Household) -> bool:
    p = _post_holder(h)
    if p is None or not _set(ctx, h, p, public_post_type=""):
        return False
    ctx.add("public_post_inconsistent", h, p.pid, "system", f"{p.name}有公益性岗位月数{p.post_months}，岗位类型为空")
    return True


def post_away(ctx: Ctx, h: Household) -> bool:
    p = _post_holder(h)
    if p is None or not _set(ctx, h, p, work_place="省外"):
        return False
    ctx.add("public_post_inconsistent", h, p.pid, "system", f"{p.name}就业渠道为公益性岗位，务工所在地为省外")
    return True


def _adult(ctx: Ctx, h: Household) -> Person | None:
    return next((p for p in h.members if ctx.age(p) >= 18 and not p.student), None)


def both_schemes(ctx: Ctx, h: Household) -> bool:
    p = _adult(ctx, h)
    if p is None or p.employee_medical or not _set(ctx, h, p, employee_medical_insured=True):
        return False
    ctx.add("insurance_inconsistent", h, p.pid, "system", f"{p.name}同时参加城乡居民医保和职工医保")
    return True


def no_serious_insurance(ctx: Ctx, h: Household) -> bool:
    p = _adult(ctx, h)
    if p is None or not _set(ctx, h, p, serious_illness_insured=False):
        return False
    ctx.add("insurance_inconsistent", h, p.pid, "system", f"{p.name}未参加大病保险")
    return True


def work_without_months(ctx: Ctx, h: Household) -> bool:
    p = next((p for p in h.members if p.work_place and not p.post_type), None)
    if p is None or not _set(ctx, h, p, work_months=None):
        return False
    ctx.add("labor_status_conflict", h, p.pid, "system", f"{p.name}务工所在地{p.work_place}，务工时间为空")
    return True


def student_with_labor(ctx: Ctx, h: Household) -> bool:
    p = next((p for p in h.members if p.student and p.student != "学前教育" and ctx.age(p) >= 16), None)
    if p is None or not _set(ctx, h, p, labor="普通劳动力"):
        return False
    ctx.add("labor_status_conflict", h, p.pid, "system", f"在校生{p.name}劳动技能为普通劳动力")
    return True


def education_and_student(ctx: Ctx, h: Household) -> bool:
    p = next((p for p in h.members if p.student in ("小学", "初中", "高中")), None)
    if p is None or not _set(ctx, h, p, education="小学"):
        return False
    ctx.add("education_status_conflict", h, p.pid, "system", f"{p.name}文化程度和在校生状况都填写")
    return True


def land_out_of_range(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if rec is None:
        return False
    limit = float(ctx.params["land_area_max_mu"]["arable"])
    rec.f["arable_land_area"] = round(limit * ctx.rng.uniform(1.5, 4), 1)
    ctx.add("value_out_of_range", h, "", "system", f"耕地面积{rec.f['arable_land_area']}亩")
    return True


def guarantee_unflagged(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if not h.guarantee or rec is None:
        return False
    rec.f["guarantee_household"] = False
    ctx.add("guarantee_flag_missing", h, "", "system", "全家无劳动能力且享受低保或特困供养，未标注兜底保障户")
    return True


def illness_without_costs(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if not h.monitor_type or "因病" not in (h.main_cause, *h.other_causes) or rec is None:
        return False
    rec.f["medical_self_paid"] = 0
    ctx.add("risk_condition_mismatch", h, "", "system", "风险类型因病，合规自付医疗支出为0")
    return True


STANDING = {"因病", "因残", "因学", "因务工就业不稳"}


def risk_kept(ctx: Ctx, h: Household) -> bool:
    """应消未消: an open risk whose every condition of elimination holds."""
    min_months = int(ctx.params["risk_elimination_min_months"])
    start = int(h.mon_start[:4]) * 12 + int(h.mon_start[4:]) - 1 if h.mon_start else None
    if (h.risk != "未消除" or start is None or ctx.year * 12 + 11 - start < min_months + 1
            or STANDING & {h.main_cause, *h.other_causes} or not h.measures
            or all(p.labor in NO_LABOR for p in h.members)
            or any(p.health in ("患有大病", "残疾") or p.student for p in h.members)):
        return False
    mon = line(ctx.params, "monitoring_line", ctx.year)
    factor = float(ctx.params["risk_kept_income_factor"])
    set_income(ctx, h, _scaled(h.inc20, mon * factor * ctx.rng.uniform(1.15, 1.6), ctx.rng))
    ctx.add("risk_kept_unnecessarily", h, "", "system,archive",
            f"{h.mon_start}纳入监测，{ctx.year}年人均纯收入{h.inc20.pc}元，风险仍未消除")
    return True


def eliminated_without_measure(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("system", h)
    if h.elim_method != "帮扶消除" or rec is None:
        return False
    rec.f["measures"] = []
    ctx.add("elimination_without_measure", h, "", "system", "帮扶消除，国家系统帮扶措施为空")
    return True


def yulu_not_vocational(ctx: Ctx, h: Household) -> bool:
    p = next((p for p in h.members if p.student in ("初中", "高中")), None)
    if p is None or not _set(ctx, h, p, yulu_plan=True):
        return False
    ctx.add("education_status_conflict", h, p.pid, "system", f"{p.student}学生{p.name}享受雨露计划")
    return True


def _add_further_risk(ctx: Ctx, h: Household, cause: str) -> None:
    h.other_causes = [*h.other_causes, cause]
    set_everywhere(ctx, h, "other_causes", h.other_causes)


def further_illness_eliminated(ctx: Ctx, h: Household) -> bool:
    """A further 因病 risk, eliminated with no health or social measure; the chronic illness is there and costs
    money (so the risk type itself is sound), nobody is seriously ill (so the risk may be eliminated)."""
    fitting = set(ctx.params["elimination_risk_measures"]["因病"])
    if (h.risk != "已消除" or "因病" in (h.main_cause, *h.other_causes) or len(h.other_causes) >= 2
            or fitting & set(h.measures) or not h.measures
            or not any(p.health == "长期慢性病" for p in h.members) or any(p.health == "患有大病" for p in h.members)):
        return False
    _add_further_risk(ctx, h, "因病")
    h.self_paid = h.self_paid or ctx.rng.randint(2000, 30000)
    set_everywhere(ctx, h, "medical_self_paid", h.self_paid)
    ctx.add("elimination_without_measure", h, "", "system,manual", "其他风险因病，风险已消除，没有健康或社会保障措施")
    return True


def further_water_no_measure(ctx: Ctx, h: Household) -> bool:
    fitting = set(ctx.params["cause_measures"]["因安全饮水"])
    if (not h.monitor_type or "因安全饮水" in (h.main_cause, *h.other_causes) or len(h.other_causes) >= 2
            or fitting & set(h.measures) or not h.measures):
        return False
    _add_further_risk(ctx, h, "因安全饮水")
    ctx.add("risk_condition_mismatch", h, "", "system,manual", "其他风险因安全饮水，没有饮水安全措施")
    return True
