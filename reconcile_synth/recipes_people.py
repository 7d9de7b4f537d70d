"""Problems of identity and household values: heads, names, IDs, relations, status, type, cause,
helpers, and required fields left empty."""

from __future__ import annotations

from collections.abc import Callable

from . import people as P
from .attrs import make_cadre
from .inject import Ctx, mangle_excel, monthly_visits, prow
from .recipes import _others, _spouse
from .views import dibao_row, income_of, put_income
from .world import Household


# --- heads, names, IDs, relations --------------------------------------------------------------
def head_archive(ctx: Ctx, h: Household) -> bool:
    adults = [p for p in _others(h) if ctx.age(p) >= 18]
    if not adults:
        return False
    p = _spouse(h) or adults[0]
    arc = ctx.rec("archive", h)
    arc.f["head_name"], arc.f["head_id"] = p.name, p.pid
    ctx.add("head_mismatch", h, "", "archive", f"台账户主登记为{p.relation}{p.name}")
    return True


def head_manual(ctx: Ctx, h: Household) -> bool:
    sp = _spouse(h)
    if sp is None:
        return False
    man = ctx.rec("manual", h)
    man.f["head_name"], man.f["head_id"] = sp.name, sp.pid
    prow(man, sp.pid).f["relation"] = "户主"
    prow(man, h.head.pid).f["relation"] = "配偶"
    ctx.add("head_mismatch", h, "", "manual", f"手册户主登记为配偶{sp.name}")
    ctx.add("relation_mismatch", h, h.head.pid, "manual", "手册中户主登记为配偶")
    ctx.add("relation_mismatch", h, sp.pid, "manual", "手册中配偶登记为户主")
    return True


def _rename(ctx: Ctx, h: Household, src: str, heads: bool) -> bool:
    rec = ctx.rec(src, h)
    cands = [p for p in (h.members if heads else _others(h)) if P.misspell(ctx.rng, p.name) != p.name]
    if not cands:
        return False
    p = ctx.rng.choice(cands)
    wrong = P.misspell(ctx.rng, p.name)
    while wrong == p.name:
        wrong = P.misspell(ctx.rng, p.name)
    prow(rec, p.pid).f["name"] = wrong
    if p is h.head:
        rec.f["head_name"] = wrong
    ctx.add("name_mismatch", h, p.pid, src, f"{'手册' if src == 'manual' else '系统'}姓名为{wrong}")
    return True


def name_manual(ctx: Ctx, h: Household) -> bool:
    return _rename(ctx, h, "manual", True)


def name_system(ctx: Ctx, h: Household) -> bool:
    return _rename(ctx, h, "system", False)


def id_mismatch(ctx: Ctx, h: Household) -> bool:
    if len(h.members) < 2:
        return False
    p = ctx.rng.choice(_others(h))
    other = ctx.county.ids.sibling(p.pid)
    prow(ctx.rec("manual", h), p.pid).f["id_number"] = other
    ctx.add("id_mismatch", h, p.pid, "manual", f"手册身份证号为{other}（有效但不同）")
    return True


def idinv_excel(ctx: Ctx, h: Household) -> bool:
    cands = [p for p in h.members if p.pid[-1].isdigit()]
    return bool(cands) and mangle_excel(ctx, h, ctx.rng.choice(cands))


def idinv_manual(ctx: Ctx, h: Household) -> bool:
    if len(h.members) < 2:
        return False
    p = ctx.rng.choice(_others(h))
    row = prow(ctx.rec("manual", h), p.pid)
    if ctx.rng.random() < 0.5:
        row.f["id_number"] = P.typo_id(ctx.rng, p.pid)
        ctx.add("id_invalid", h, p.pid, "manual", f"手册身份证号录错一位：{row.f['id_number']}")
    else:
        row.f["id_number"] = p.pid[:17]
        ctx.add("id_invalid", h, p.pid, "manual", "手册身份证号少录一位（17位）")
    return True


def idinv_archive(ctx: Ctx, h: Household) -> bool:
    pid = h.head.pid
    if not pid[-1].isdigit():
        return False
    arc = ctx.rec("archive", h)
    if ctx.rng.random() < 0.6:
        arc.f["head_id"] = P.sci_text(pid)
        ctx.add("id_invalid", h, pid, "archive", f"台账户主身份证号为科学计数法文本{arc.f['head_id']}")
    else:
        arc.f["head_id"] = pid[:17]
        ctx.add("id_invalid", h, pid, "archive", "台账户主身份证号少录一位（17位）")
    return True


def idd_birth(ctx: Ctx, h: Household) -> bool:
    p = ctx.rng.choice(h.members)
    b = p.birth
    month = b.month % 12 + 1 if b.day <= 28 else (b.month % 11) + 1
    wrong = b.replace(month=month, day=min(b.day, 28))
    if wrong == b:
        wrong = b.replace(day=b.day % 28 + 1)
    prow(ctx.rec("system", h), p.pid).f["birth_date"] = wrong
    ctx.add("id_demographic_conflict", h, p.pid, "system", f"系统出生日期{wrong.isoformat()}与身份证号不符")
    return True


def idd_sex(ctx: Ctx, h: Household) -> bool:
    if _spouse(h) is not None:
        return False
    p = h.head
    wrong = "女" if p.sex == "男" else "男"
    prow(ctx.rec("manual", h), p.pid).f["sex"] = wrong
    ctx.add("id_demographic_conflict", h, p.pid, "manual", f"手册性别为{wrong}，与身份证号不符")
    return True


REL_SWAP = {"之子": "之孙子", "之女": "之孙女", "之孙子": "之子", "之孙女": "之女", "之儿媳": "之女",
            "之父": "之岳父", "之母": "之岳母"}


def rel_manual(ctx: Ctx, h: Household) -> bool:
    cands = [p for p in h.members if p.relation in REL_SWAP]
    if not cands:
        return False
    p = ctx.rng.choice(cands)
    prow(ctx.rec("manual", h), p.pid).f["relation"] = REL_SWAP[p.relation]
    ctx.add("relation_mismatch", h, p.pid, "manual", f"手册登记为{REL_SWAP[p.relation]}，系统为{p.relation}")
    return True


def rel_two_heads(ctx: Ctx, h: Household) -> bool:
    sp = _spouse(h)
    if sp is None:
        return False
    prow(ctx.rec("system", h), sp.pid).f["relation"] = "户主"
    ctx.add("relation_mismatch", h, sp.pid, "system", "系统中配偶也登记为户主（一户两个户主）")
    return True


def rel_child_older(ctx: Ctx, h: Household) -> bool:
    p = next((p for p in h.members if p.relation in ("之父", "之母")), None)
    if p is None:
        return False
    wrong = "之子" if p.sex == "男" else "之女"
    prow(ctx.rec("system", h), p.pid).f["relation"] = wrong
    ctx.add("relation_mismatch", h, p.pid, "system", f"系统将{p.relation}登记为{wrong}（子女比户主年长）")
    return True


# --- status, type, cause ------------------------------------------------------------------------
def _plain_exited(h: Household) -> bool:
    return h.exited and not h.monitor_type


def status_src(src: str) -> Callable[[Ctx, Household], bool]:
    def fn(ctx: Ctx, h: Household) -> bool:
        if not _plain_exited(h):
            return False
        ctx.rec(src, h).f["status"] = "未脱贫"
        monthly_visits(ctx, h)
        ctx.add("status_mismatch", h, "", src, f"{'台账' if src == 'archive' else '手册'}为未脱贫，系统为已脱贫")
        return True
    return fn


def risk_archive(field: str) -> Callable[[Ctx, Household], bool]:
    """The village archive records a monitored household's risk differently from the system."""
    def fn(ctx: Ctx, h: Household) -> bool:
        rec = ctx.rec("archive", h)
        if not h.monitor_type or rec is None or (field == "risk_eliminated_date" and not h.risk_elim):
            return False
        if field == "risk_status":
            value = "未消除" if h.risk == "已消除" else "已消除"
        elif field == "monitor_type":
            value = "突发严重困难户" if h.monitor_type != "突发严重困难户" else "脱贫不稳定户"
        else:
            month = int(h.risk_elim[4:])
            value = f"{h.risk_elim[:4]}{month + 1 if month < 12 else month - 1:02d}"
        rec.f[field] = value
        label, system = _RISK_FIELDS[field]
        ctx.add("status_mismatch", h, "", "archive", f"台账{label}为{value}，系统为{getattr(h, system)}")
        return True
    return fn


_RISK_FIELDS = {"risk_status": ("风险是否消除", "risk"), "monitor_type": ("监测对象类别", "monitor_type"),
                "risk_eliminated_date": ("风险消除时间", "risk_elim")}


def eym_manual(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h):
        return False
    y = h.exit_year
    wrong = y + 1 if y + 1 <= ctx.year else y - 1
    if wrong <= h.identify_year:
        return False
    man = ctx.rec("manual", h)
    man.f["exit_year"] = wrong
    if wrong < y:  # the booklet's earlier exit puts its last-year income under that year's line
        inc = income_of(man.f)
        inc.lift(ctx.exit_line(ctx.year - 1) + 60)
        put_income(man.f, inc)
    ctx.add("exit_year_mismatch", h, "", "manual", f"手册脱贫年度{wrong}，系统{y}")
    return True


def eym_archive(ctx: Ctx, h: Household) -> bool:
    if not _plain_exited(h) or h.exit_year - 1 <= h.identify_year:
        return False
    arc = ctx.rec("archive", h)
    arc.f["exit_year"] = h.exit_year - 1
    for key, d in h.exit_dates.items():  # the ledger's own exit steps follow its own year
        arc.f[key] = d.replace(year=d.year - 1)
    ctx.add("exit_year_mismatch", h, "", "archive", f"台账脱贫时间{h.exit_year - 1}，系统{h.exit_year}")
    return True


def htm_archive(ctx: Ctx, h: Household) -> bool:
    if not h.hh_type:
        return False
    wrong = {"一般户": "低保户", "低保户": "一般户", "特困户": "低保户"}[h.hh_type]
    ctx.rec("archive", h).f["hh_type"] = wrong
    ctx.add("household_type_mismatch", h, "", "archive", f"台账为{wrong}，系统为{h.hh_type}")
    return True


def htm_dibao(ctx: Ctx, h: Household) -> bool:
    if h.hh_type != "一般户":
        return False
    ctx.v.add_reg("dibao", dibao_row(h.head, h, ctx.rng, ctx.year))
    ctx.add("household_type_mismatch", h, "", "dibao", "户主在民政低保名单中，各来源均为一般户")
    return True


def cause_src(src: str) -> Callable[[Ctx, Household], bool]:
    def fn(ctx: Ctx, h: Household) -> bool:
        fit = ctx.params["cause_measures"]
        cands = [c for c in fit if c not in (h.main_cause, "因病", "因学", "因残")
                 and set(fit[c]) & set(h.measures)]
        if not cands:
            return False
        wrong = ctx.rng.choice(cands)
        ctx.rec(src, h).f["main_cause"] = wrong
        ctx.add("cause_mismatch", h, "", src, f"{'台账' if src == 'archive' else '手册'}主要致贫原因为{wrong}，系统为{h.main_cause}")
        return True
    return fn


# --- helpers and record completeness ------------------------------------------------------------
def cadre_manual(ctx: Ctx, h: Household) -> bool:
    if h.cadre is None:
        return False
    old = make_cadre(ctx.county, ctx.rng, h.village.town)
    man = ctx.rec("manual", h)
    man.f["cadre_name"], man.f["cadre_unit"] = old.name, old.unit
    ctx.add("cadre_mismatch", h, "", "manual", f"手册帮扶责任人为{old.name}，系统为{h.cadre.name}")
    return True


def cadre_survey(ctx: Ctx, h: Household) -> bool:
    ctx.survey_over[h.hid] = {"knows_cadre": False}
    ctx.add("cadre_mismatch", h, "", "survey", "入户核查时说不出帮扶干部")
    return True


SAFE_REQUIRED = ("main_cause", "cadre_name")
LABELS = {"main_cause": "主要致贫原因", "cadre_name": "帮扶责任人"}


def ri_src(src: str) -> Callable[[Ctx, Household], bool]:
    def fn(ctx: Ctx, h: Household) -> bool:
        fields = [f for f in ctx.params["record_required"].get(src, []) if f in SAFE_REQUIRED]
        if not fields:
            return False
        field = ctx.rng.choice(fields)
        rec = ctx.rec(src, h)
        rec.f[field] = ""
        if field == "cadre_name" and "cadre_unit" in rec.f:
            rec.f["cadre_unit"] = ""
        ctx.add("record_incomplete", h, "", src, f"{'台账' if src == 'archive' else '手册'}{LABELS[field]}为空")
        return True
    return fn
