"""Problems that rules find from one household's facts: income, exits, guarantees, procedures,
registers, helpers, visits, measures, monitoring, notes; and missed suspects outside the register."""

from __future__ import annotations

import random
from datetime import date, timedelta

from .attrs import guarantee_of
from .family import set_labor
from .inject import Ctx, prow, set_everywhere, set_income
from .views import business_row, death_row, employee_row, income_of, property_row, put_income, vehicle_row
from .world import MEASURES, Household, Income, Person

SCHOOL_AGE_STUDENT = ("小学", "初中")


def _scaled(inc: Income, target_pc: float, rng: random.Random) -> Income:
    """The income with every component scaled so per-capita lands near `target_pc`."""
    f = target_pc / max(inc.pc, 1.0)
    out = Income(inc.year, int(inc.wage * f), int(inc.business * f), int(inc.property * f),
                 int(inc.transfer * f), int(inc.expense * f), inc.size)
    out.wage += int((target_pc - out.pc) * out.size)
    if out.wage < 0:
        out.transfer += out.wage
        out.wage = 0
    return out


def _plain_exited(h: Household) -> bool:
    return h.exited and not h.monitor_type


def _tolerance(ctx: Ctx, pc: float) -> float:
    tol = ctx.params["income_tolerance"]
    return max(float(tol["absolute"]), float(tol["relative"]) * pc)


def _other_pc(ctx: Ctx, h: Household, pc: float) -> float:
    """A per-capita figure clearly beyond tolerance of `pc` and still above the household's lines."""
    down = pc * ctx.rng.uniform(0.68, 0.8)
    if down - 3 * _tolerance(ctx, pc) > ctx.floor(h) and pc - down > 2 * _tolerance(ctx, pc):
        return round(down, 2)
    return round(pc * ctx.rng.uniform(1.25, 1.4) + 2 * _tolerance(ctx, pc), 2)


# --- income ---------------------------------------------------------------------------------
def inc_mm_archive(ctx: Ctx, h: Household) -> bool:
    arc = ctx.rec("archive", h)
    inc = income_of(arc.f)
    new = _scaled(inc, _other_pc(ctx, h, inc.pc), ctx.rng)
    put_income(arc.f, new)
    ctx.add("income_mismatch", h, "", "archive", f"台账人均纯收入{new.pc}，系统{inc.pc}")
    return True


def inc_mm_survey(ctx: Ctx, h: Household) -> bool:
    pc = h.inc20.pc
    other = _other_pc(ctx, h, pc)
    ctx.survey_over[h.hid] = {"income_per_capita": other}
    ctx.add("income_mismatch", h, "", "survey", f"核查人均纯收入{other}，系统{pc}")
    return True


def inc_ar_system(ctx: Ctx, h: Household) -> bool:
    f = ctx.rec("system", h).f
    delta = ctx.rng.choice((1, -1)) * ctx.rng.randint(800, 3000)
    if f["income_wage"] + delta < 0:
        delta = abs(delta)
    f["income_wage"] += delta
    ctx.add("income_arithmetic", h, "", "system", f"系统工资性收入改动{delta}元，家庭纯收入未随之更新")
    return True


def inc_ar_archive(ctx: Ctx, h: Household) -> bool:
    f = ctx.rec("archive", h).f
    delta = ctx.rng.randint(20, 80)  # wrong, yet inside the income tolerance between sources
    f["income_per_capita"] = round(f["income_per_capita"] + delta, 2)
    ctx.add("income_arithmetic", h, "", "archive", f"台账人均纯收入比家庭纯收入÷人口多{delta}元")
    return True


def inc_ar_manual(ctx: Ctx, h: Household) -> bool:
    f = ctx.rec("manual", h).f
    inc = income_of(f)
    if inc.expense >= 100:
        f["income_total"] = inc.net + inc.expense
        detail = "手册家庭纯收入未扣除生产经营性支出"
    else:
        f["income_total"] = inc.net + 1000
        detail = "手册家庭纯收入比各项合计多1000元"
    f["income_per_capita"] = round(f["income_total"] / inc.size, 2)
    ctx.add("income_arithmetic", h, "", "manual", detail)
    return True


def inc_copied(ctx: Ctx, h: Household) -> bool:
    man, sys_ = ctx.rec("manual", h), ctx.rec("system", h)
    put_income(man.f, income_of(sys_.f))
    man.f["income_year"] = ctx.year - 1
    ctx.add("income_copied", h, "", "manual", f"手册{ctx.year - 1}年收入各项与系统{ctx.year}年完全相同")
    return True


# --- exits and guarantees -------------------------------------------------------------------
def wrong_exit_income(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h):
        return False
    target = ctx.exit_line() * ctx.rng.uniform(0.6, 0.93)
    new = _scaled(h.inc20, target, ctx.rng)
    if new.pc > ctx.exit_line() - 100:
        new.wage = max(0, new.wage - int((new.pc - ctx.exit_line() + 150) * new.size))
    set_income(ctx, h, new)
    if ctx.county.monitoring:  # judged on the exit year's income; a low income now is monitoring's (应纳未纳)
        ctx.add("missed_suspect", h, "", "system,archive",
                f"{h.exit_year}年脱贫，未纳入监测，{ctx.year}年人均纯收入{new.pc}元低于监测标准")
        return True
    ctx.add("wrong_exit_income", h, "", "system,archive", f"{h.exit_year}年脱贫，{ctx.year}年人均纯收入{new.pc}元低于标准")
    return True


def _school_child(ctx: Ctx, h: Household) -> Person | None:
    sa = ctx.params["school_age"]
    return next((p for p in h.members if p.student in SCHOOL_AGE_STUDENT
                 and sa["min"] <= ctx.age(p) <= sa["max"]), None)


def weg_student(ctx: Ctx, h: Household) -> bool:
    child = _school_child(ctx, h) if _plain_exited(h) else None
    if child is None:
        return False
    for row in ctx.v.reg_rows("student", child.pid):
        row["student_status"] = "辍学"
    ctx.add("wrong_exit_guarantee", h, "", "student", f"义务教育阶段{child.relation}{child.name}在学籍系统中为辍学")
    return True


def weg_out_of_school(ctx: Ctx, h: Household) -> bool:
    """A child of compulsory-school age recorded 非在校生 in the system and the manual, and in no 学籍 row: the usual
    shape of a dropout in real data (the student register simply does not list the child)."""
    child = _school_child(ctx, h) if _plain_exited(h) else None
    if child is None:
        return False
    for row in ctx.v.reg_rows("student", child.pid):
        row["_drop"] = True
    for src in ("system", "manual"):
        row = prow(ctx.rec(src, h), child.pid)
        if row is not None:
            row.f["student_status"] = "非在校生"
    ctx.add("wrong_exit_guarantee", h, "", "system,manual,student",
            f"义务教育阶段{child.relation}{child.name}记为非在校生，学籍中没有")
    return True


def weg_survey_dropout(ctx: Ctx, h: Household) -> bool:
    child = _school_child(ctx, h) if _plain_exited(h) else None
    if child is None:
        return False
    ctx.survey_over[h.hid] = {"dropout": True}
    ctx.add("wrong_exit_guarantee", h, "", "survey", "入户核查发现有辍学")
    return True


def weg_medical(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h):
        return False
    p = ctx.rng.choice(h.members)
    for row in ctx.v.reg_rows("medical", p.pid):
        row["insured_status"] = "未参保"
    ctx.add("wrong_exit_guarantee", h, "", "medical", f"{p.relation}{p.name}未参加基本医疗保险")
    return True


def weg_housing(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h):
        return False
    grade = ctx.rng.choice("CD")
    for row in ctx.v.reg_rows("housing", h.head.pid):
        row["housing_grade"] = grade
    ctx.add("wrong_exit_guarantee", h, "", "housing", f"住建鉴定为{grade}级危房")
    return True


def weg_water(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h):
        return False
    h.water = False
    ctx.rec("system", h).f["water_safe"] = False
    ctx.add("wrong_exit_guarantee", h, "", "system", "饮水不安全")
    if ctx.county.monitoring:
        ctx.add("missed_suspect", h, "", "system", "已脱贫户饮水不安全，未纳入监测")
    return True


def exit_procedure(way: str):
    return lambda ctx, h: _exit_procedure(ctx, h, way)


def _exit_procedure(ctx: Ctx, h: Household, way: str) -> bool:
    if not h.exited or not h.exit_dates:
        return False
    f, nd, rng = ctx.rec("archive", h).f, ctx.params["notice_days"], ctx.rng
    if way == "order":
        f["exit_village_notice_date"] = f["exit_review_date"] - timedelta(days=rng.randint(2, 6))
        detail = "退出村级公示早于民主评议"
    elif way == "short":
        days = max(1, nd["exit_village"] - rng.randint(2, 4))
        f["exit_township_notice_date"] = f["exit_village_notice_date"] + timedelta(days=days)
        f["exit_county_notice_date"] = f["exit_township_notice_date"] + timedelta(days=nd["exit_township"] + 2)
        detail = f"退出村级公示仅{days}天"
    else:
        f["exit_county_notice_date"] = date(h.exit_year + 1, 1, rng.randint(5, 25))
        detail = "退出县级公告晚于脱贫年度"
    ctx.add("exit_procedure", h, "", "archive", detail)
    return True


def identify_procedure(way: str):
    return lambda ctx, h: _identify_procedure(ctx, h, way)


def _identify_procedure(ctx: Ctx, h: Household, way: str) -> bool:
    f, rng = ctx.rec("archive", h).f, ctx.rng
    if way == "order":
        f["review_date"] = f["apply_date"] - timedelta(days=rng.randint(3, 10))
        detail = "民主评议早于农户申请"
    else:
        f["village_notice_date"] = None
        detail = "缺少村级公示日期"
    ctx.add("identify_procedure", h, "", "archive", detail)
    return True


# --- registers ------------------------------------------------------------------------------
def ineligible(kind: str):
    return lambda ctx, h: _ineligible(ctx, h, kind)


def _ineligible(ctx: Ctx, h: Household, kind: str) -> bool:
    adults = [p for p in h.members if 18 <= ctx.age(p) <= 60 and not p.student]
    if not adults:
        return False
    p, rng = ctx.rng.choice(adults), ctx.rng
    c = ctx.county
    row = {"public_employee": lambda: employee_row(c, p, rng), "vehicle": lambda: vehicle_row(p, h, rng, ctx.year),
           "property": lambda: property_row(c, p, h, rng), "business": lambda: business_row(c, p, h, rng)}[kind]()
    ctx.v.add_reg(kind, row)
    label = {"public_employee": "财政供养人员", "vehicle": "有登记车辆", "property": "有商品房", "business": "有工商登记"}
    ctx.add("ineligible_member", h, p.pid, kind, f"{p.relation}{p.name}{label[kind]}")
    return True


def deceased(ctx: Ctx, h: Household) -> bool:
    others = sorted(h.members[1:], key=lambda p: p.birth)
    if not others:
        return False
    p = others[0]
    row = death_row(p, ctx.rng, ctx.year)
    row.update({"township": h.village.town, "village": h.village.name})
    ctx.v.add_reg("death", row)
    for r in ctx.v.reg_rows("hukou", p.pid):
        r["_drop"] = True  # a death cancels the 户籍 entry
    ctx.add("deceased_listed", h, p.pid, "death", f"{p.relation}{p.name}于{row['death_date'].isoformat()}死亡注销")
    ctx.add("household_size_mismatch", h, "", "hukou", f"户籍注销后{len(h.members) - 1}人，系统{len(h.members)}人")
    return True


# --- helpers, visits, measures --------------------------------------------------------------
def cadre_overload(ctx: Ctx, h: Household) -> bool:
    c = h.cadre
    limit = int(ctx.params["cadre_household_limit"])
    if c is None:
        return False
    mine = list(ctx.by_cadre().get(c.pid, []))
    if not all(ctx.free(x) for x in mine):
        return False
    want = limit + 1 + ctx.rng.randint(0, 2) - len(mine)
    extra: list[Household] = []
    for hid in ctx.pool:
        if len(extra) >= want:
            break
        x = ctx.hh[hid]
        if ctx.free(x) and x.village.town == c.town and x.cadre is not c:
            extra.append(x)
    if len(extra) < want:
        return False
    for x in extra:
        ctx.by_cadre()[x.cadre.pid].remove(x)
        ctx.by_cadre()[c.pid].append(x)
        x.cadre = c
        for src in ("system", "archive", "manual"):
            rec = ctx.rec(src, x)
            if rec is not None:
                rec.f["cadre_name"] = c.name
                if "cadre_id" in rec.f:
                    rec.f["cadre_id"] = c.pid
                if "cadre_unit" in rec.f:
                    rec.f["cadre_unit"] = c.unit
        for v in ctx.v.visits[x.hid]:
            v["cadre_name"] = c.name
    group = mine + extra
    for x in group:
        ctx.add("cadre_overload", x, "", "system", f"帮扶责任人{c.name}结对{len(group)}户")
    return True


def visit_insufficient(monthly: bool):
    return lambda ctx, h: h.monthly_required == monthly and _visit_insufficient(ctx, h)


def _visit_insufficient(ctx: Ctx, h: Household) -> bool:
    visits = ctx.v.visits[h.hid]
    if h.monthly_required:
        m = ctx.rng.randint(1, 12)
        keep = [v for v in visits if v["visit_date"].month != m]
        detail = f"{m}月无走访记录（应每月走访）"
    else:
        q = ctx.rng.randint(0, 3)
        keep = [v for v in visits if (v["visit_date"].month - 1) // 3 != q]
        detail = f"第{q + 1}季度无走访记录（应每季度走访）"
    ctx.v.visits[h.hid] = keep
    h.visits = [v["visit_date"] for v in keep]
    ctx.add("visit_insufficient", h, "", "visits", detail)
    return True


def measure_cause(ctx: Ctx, h: Household) -> bool:
    fit = set(ctx.params["cause_measures"].get(h.main_cause, []))
    pool = [m for m in MEASURES if m not in fit and m not in ("低保兜底", "特困供养")]
    new = sorted(ctx.rng.sample(pool, ctx.rng.choice((1, 2))), key=MEASURES.index)
    h.measures = new
    set_everywhere(ctx, h, "measures", new)
    ctx.add("measure_cause_mismatch", h, "", "system,archive,manual", f"主要致贫原因{h.main_cause}，措施仅有{'、'.join(new)}")
    return True


def no_measure(ctx: Ctx, h: Household) -> bool:
    h.measures = []
    set_everywhere(ctx, h, "measures", [])
    ctx.add("no_measure", h, "", "system,archive,manual", "各来源帮扶措施均为空")
    for src in ("manual", "archive"):
        if "measures" in ctx.params["record_required"].get(src, []):
            ctx.add("record_incomplete", h, "", src, f"{'手册' if src == 'manual' else '台账'}帮扶措施为空")
    if h.elim_method == "帮扶消除":
        ctx.add("elimination_without_measure", h, "", "system", "帮扶消除，但没有帮扶措施")
    return True


# --- monitoring -----------------------------------------------------------------------------
def _eliminated(h: Household) -> bool:
    return h.risk == "已消除"


def rep_income(ctx: Ctx, h: Household) -> bool:
    if not _eliminated(h):
        return False
    target = ctx.rng.uniform(ctx.exit_line() + 400, ctx.mon_line() - 400)
    set_income(ctx, h, _scaled(h.inc20, target, ctx.rng))
    ctx.add("risk_elimination_premature", h, "", "system", f"风险已消除，人均纯收入{h.inc20.pc}元低于监测线")
    return True


def rep_illness(ctx: Ctx, h: Household) -> bool:
    if not _eliminated(h):
        return False
    adults = [p for p in h.members if ctx.age(p) >= 18] or h.members
    p = ctx.rng.choice(adults)
    p.health = "患有大病"
    set_labor(ctx.rng, p, ctx.county.ref)
    for src in ("system", "manual"):
        row = next((r for r in ctx.rec(src, h).persons if r.pid == p.pid), None)
        if row is not None:
            row.f.update({"health": p.health, "labor": p.labor})
    h.main_cause = "因病"
    h.other_causes = [c for c in h.other_causes if c != "因病"]
    if not set(ctx.params["cause_measures"]["因病"]) & set(h.measures):
        h.measures = [m for m in MEASURES if m in set(h.measures) | {"健康帮扶"}]
    for key, value in (("main_cause", "因病"), ("other_causes", h.other_causes), ("measures", h.measures)):
        set_everywhere(ctx, h, key, value)
    if ctx.county.monitoring:
        if not h.self_paid:  # a 因病 risk comes with medical costs
            h.self_paid = ctx.rng.randint(2000, 30000)
            set_everywhere(ctx, h, "medical_self_paid", h.self_paid)
        h.guarantee = guarantee_of(h)  # the ill member may have been the last who could work
        set_everywhere(ctx, h, "guarantee_household", h.guarantee)
    ctx.add("risk_elimination_premature", h, "", "system", f"因病致贫，{p.relation}{p.name}仍患有大病，风险已标注消除")
    return True


def rep_soon(ctx: Ctx, h: Household) -> bool:
    if not _eliminated(h):
        return False
    start = int(h.mon_start[:4]) * 12 + int(h.mon_start[4:]) - 1  # months since year 0: starts cross years
    months = ctx.rng.randint(1, int(ctx.params["risk_elimination_min_months"]) - 1)
    end = min(start + months, ctx.year * 12 + 11)
    h.risk_elim = f"{end // 12}{end % 12 + 1:02d}"
    set_everywhere(ctx, h, "risk_eliminated_date", h.risk_elim)
    ctx.add("risk_elimination_premature", h, "", "system", f"{h.mon_start}纳入监测，{h.risk_elim}即标注风险消除")
    return True


def outdated_terms(ctx: Ctx, h: Household) -> bool:
    since = int(ctx.params["retired_terms_from_year"])
    terms = ctx.params["retired_terms"]
    f = ctx.rec("archive", h).f
    t1, t2 = ctx.rng.sample(terms, 2)
    f["note"] = f"该户为{t1}，继续落实{t2}相关政策"
    f["record_date"] = date(since + ctx.rng.randint(0, 2), ctx.rng.randint(1, 12), ctx.rng.randint(1, 28))
    ctx.add("outdated_terms", h, "", "archive", f"{f['record_date'].isoformat()}更新的备注仍使用“{t1}”“{t2}”")
    return True
