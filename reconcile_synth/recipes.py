"""Four-consistency problems: records, members, identities and values that differ between sources.

Each recipe checks that the household suits it (returning False without changing anything when it
does not), changes what one source says, and records every finding the change implies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .attrs import newborn
from .inject import Ctx, monthly_visits, resize
from .views import GBT4761, HRec, PRow, income_of, person_fields, put_income
from .world import Household, Person


@dataclass(frozen=True)
class Recipe:
    kind: str
    variant: str
    fn: Callable[[Ctx, Household], bool]
    survey: str = "ok"  # ok: may be sampled; no: never; force: always in the survey
    every: int = 1  # takes part in every n-th round only (for recipes that consume several households)

    def apply(self, ctx: Ctx, h: Household) -> bool:
        return self.fn(ctx, h)


def _others(h: Household) -> list[Person]:
    return h.members[1:]


def _spouse(h: Household) -> Person | None:
    return next((p for p in h.members if p.relation == "配偶"), None)


# --- household records ------------------------------------------------------------------------
def hm_archive(ctx: Ctx, h: Household) -> bool:
    del ctx.v.sources["archive"][h.hid]
    ctx.add("household_missing", h, "", "archive", "村级台账中无该户")
    return True


def hm_manual(ctx: Ctx, h: Household) -> bool:
    del ctx.v.sources["manual"][h.hid]
    ctx.add("household_missing", h, "", "manual", "无该户扶贫手册")
    return True


def hm_system(ctx: Ctx, h: Household) -> bool:
    del ctx.v.sources["system"][h.hid]
    monthly_visits(ctx, h)  # no system status to say which frequency applies: monthly satisfies both
    ctx.add("household_missing", h, "", "system", "台账和手册有该户，国家系统导出中无")
    return True


def hd_archive(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("archive", h)
    dup = HRec(h.hid, dict(rec.f))
    dup.f["record_date"] = None
    ctx.v.extras["archive"].append(dup)
    ctx.add("household_duplicate", h, "", "archive", "村级台账中该户登记两行")
    return True


def hd_manual(ctx: Ctx, h: Household) -> bool:
    rec = ctx.rec("manual", h)
    code = rec.f["hh_code"]
    second = code[:12] + f"{9000000 + h.hid:07d}"
    dup = HRec(h.hid, {**rec.f, "hh_code": second}, [PRow(r.pid, dict(r.f)) for r in rec.persons])
    ctx.v.extras["manual"].append(dup)
    ctx.add("household_duplicate", h, "", "manual", f"扶贫手册以第二个户编号{second}重复录入该户")
    return True


# --- members ------------------------------------------------------------------------------------
def mm_manual(ctx: Ctx, h: Household) -> bool:
    if len(h.members) < 2:
        return False
    p = ctx.rng.choice(_others(h))
    man = ctx.rec("manual", h)
    man.persons = [r for r in man.persons if r.pid != p.pid]
    resize(ctx, man, len(man.persons), ctx.year - 1, h)
    ctx.add("member_missing", h, p.pid, "manual", f"扶贫手册漏登{p.relation}")
    ctx.add("household_size_mismatch", h, "", "manual", f"手册{len(man.persons)}人，系统{len(h.members)}人")
    return True


def mm_system(ctx: Ctx, h: Household) -> bool:
    if len(h.members) < 2:
        return False
    p = ctx.rng.choice(_others(h))
    rec = ctx.rec("system", h)
    rec.persons = [r for r in rec.persons if r.pid != p.pid]
    ctx.add("member_missing", h, p.pid, "system", f"系统导出缺少{p.relation}（家庭人口数未改）")
    ctx.add("household_size_mismatch", h, "", "system",
            f"系统家庭人口数{len(h.members)}与成员行数{len(rec.persons)}不符")
    return True


def mm_hukou(ctx: Ctx, h: Household) -> bool:
    baby = newborn(ctx.county, ctx.rng, h)
    if baby is None:
        return False
    ctx.people[baby.pid] = baby
    ctx.v.add_reg("hukou", {"_pid": baby.pid, "id_number": baby.pid, "name": baby.name,
                            "township": h.village.town, "village": h.village.name, "hukou_no": h.hukou_no,
                            "relation": GBT4761[baby.relation], "sex": baby.sex, "birth_date": baby.birth,
                            "ethnicity": baby.ethnicity})
    ctx.v.add_reg("medical", {"_pid": baby.pid, "id_number": baby.pid, "name": baby.name,
                              "township": h.village.town, "village": h.village.name, "enrol_year": ctx.year,
                              "insurance_type": "城乡居民基本医疗保险", "insured_status": "正常参保"})
    ctx.add("member_missing", h, baby.pid, "hukou", f"户籍有新生儿（{baby.relation}），各来源均未登记")
    ctx.add("household_size_mismatch", h, "", "hukou", f"户籍{len(h.members) + 1}人，系统{len(h.members)}人")
    return True


def _movers(ctx: Ctx) -> list[tuple[Household, Person, int]]:
    """Adult children of plain 一般户 households who could have married into another household."""
    if "movers" not in ctx.cache:
        out = []
        for hid in ctx.pool:
            b = ctx.hh[hid]
            if b.hh_type == "一般户" and not b.monitor_type:
                out += [(b, x, ctx.age(x)) for x in _others(b) if x.relation in ("之子", "之女")
                        and 20 <= ctx.age(x) <= 40 and not x.student and x.health != "残疾"]
        ctx.cache["movers"] = out
    return ctx.cache["movers"]


def pmh(ctx: Ctx, a: Household) -> bool:
    """A married-out child still listed at home and also in the spouse's household (both registered)."""
    if a.hh_type != "一般户" or len(a.members) > 6 or a.monitor_type:
        return False
    head_age = ctx.age(a.head)
    for b, x, age in _movers(ctx):
        if b is a or not ctx.free(b) or head_age < age + 20:
            continue
        _add_member(ctx, a, x, "之儿媳" if x.sex == "女" else "之女婿")
        ctx.add("person_multi_household", a, x.pid, "system,manual", f"{b.hh_code}户的{x.relation}同时登记在本户")
        ctx.add("person_multi_household", b, x.pid, "system,manual", f"该{x.relation}同时登记在{a.hh_code}户")
        ctx.add("household_size_mismatch", a, "", "hukou", f"户籍{len(a.members)}人，各来源{len(a.members) + 1}人")
        return True
    return False


def _add_member(ctx: Ctx, h: Household, x: Person, relation: str) -> None:
    n = len(h.members) + 1
    for src, full in (("system", True), ("manual", False)):
        rec = ctx.rec(src, h)
        pf = person_fields(x, full)
        pf["relation"] = relation
        if src == "system":
            pf["rec_id"] = f"{h.hh_code}{n:02d}"
        rec.persons.append(PRow(x.pid, pf))
        resize(ctx, rec, n, ctx.year if src == "system" else ctx.year - 1, h)
    sys_f = ctx.rec("system", h).f
    arc = ctx.rec("archive", h)
    arc.f["hh_size"] = n
    put_income(arc.f, income_of(sys_f, n))
    h.inc20 = income_of(sys_f, n)


def hsm_manual(ctx: Ctx, h: Household) -> bool:
    man = ctx.rec("manual", h)
    n = len(h.members)
    size = n + 1 if n == 1 or ctx.rng.random() < 0.5 else n - 1
    resize(ctx, man, size, ctx.year - 1, h)
    ctx.add("household_size_mismatch", h, "", "manual", f"手册家庭人口{size}人，成员{n}人，系统{n}人")
    return True


def hsm_survey(ctx: Ctx, h: Household) -> bool:
    n = len(h.members)
    card = n + 1 if n == 1 or ctx.rng.random() < 0.5 else n - 1
    ctx.survey_over[h.hid] = {"card_size": card}
    ctx.add("household_size_mismatch", h, "", "survey", f"明白卡人口{card}人，系统{n}人")
    return True
