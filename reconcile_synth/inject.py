"""Problem injection: which households get which problem, background noise, and the survey sample.

Each chosen registered household gets exactly one problem (a recipe of `catalogue`), so every finding
is attributable; every finding a change implies is recorded in `Ctx.findings`. Households no recipe
and no noise touched stay clean in every source and register.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import people as P
from .attrs import income_floor, line, visit_dates
from .views import HRec, PRow, Views, income_of, put_income, visit_row
from .world import County, Household, Income, Person


@dataclass
class Finding:
    kind: str
    hid: int | None  # the true household; None for a person only registers know
    pid: str = ""  # the person concerned (person kinds, register-only suspects)
    source: str = ""
    detail: str = ""


class Ctx:
    def __init__(self, county: County, views: Views, rng: random.Random):
        self.county, self.v, self.rng = county, views, rng
        self.params = county.params
        self.year = county.year
        self.hh: dict[int, Household] = {h.hid: h for h in county.households}
        self.people: dict[str, Person] = {}
        for h in county.households:
            for p in h.members:
                self.people[p.pid] = p
        for p in county.deceased + county.outsiders:
            self.people[p.pid] = p
        self.findings: list[Finding] = []
        self.used: set[int] = set()  # households a problem touches
        self.dirty: set[int] = set()  # households noise touched without a finding
        self.survey_block: set[int] = set()
        self.survey_force: list[int] = []
        self.survey_over: dict[int, dict[str, Any]] = {}
        self.pool: list[int] = [h.hid for h in county.households if h.registered]
        rng.shuffle(self.pool)
        self._by_cadre: dict[str, list[Household]] | None = None
        self.cache: dict[str, Any] = {}  # lookups recipes build once per county

    def by_cadre(self) -> dict[str, list[Household]]:
        """Households of each helper (by the helper's ID), kept current by the recipes that reassign."""
        if self._by_cadre is None:
            self._by_cadre = {}
            for h in self.county.households:
                if h.cadre is not None:
                    self._by_cadre.setdefault(h.cadre.pid, []).append(h)
        return self._by_cadre

    # --- findings and lookups -------------------------------------------------------------
    def add(self, kind: str, h: Household | None, pid: str = "", source: str = "", detail: str = "") -> None:
        self.findings.append(Finding(kind, h.hid if h else None, pid, source, detail))
        if h is not None:
            self.used.add(h.hid)

    def rec(self, source: str, h: Household) -> HRec | None:
        return self.v.sources[source].get(h.hid)

    def age(self, p: Person) -> int:
        return P.age_at(p.birth, self.county.ref)

    def free(self, h: Household) -> bool:
        return h.hid not in self.used and h.hid not in self.dirty

    def floor(self, h: Household, year: int | None = None) -> float:
        return income_floor(self.county, h, year or self.year)

    def exit_line(self, year: int | None = None) -> float:
        return line(self.params, "exit_line", year or self.year)

    def mon_line(self) -> float:
        return line(self.params, "monitoring_line", self.year)


def prow(rec: HRec | None, pid: str) -> PRow | None:
    if rec is None:
        return None
    return next((r for r in rec.persons if r.pid == pid), None)


def resize(ctx: Ctx, rec: HRec, size: int, lift_year: int | None = None, h: Household | None = None) -> None:
    """Record a new household size and recompute per-capita income so the record stays arithmetic."""
    rec.f["hh_size"] = size
    inc = income_of(rec.f, size)
    if h is not None and lift_year is not None:
        inc.lift(ctx.floor(h, lift_year))
    put_income(rec.f, inc)


def set_income(ctx: Ctx, h: Household, inc: Income) -> None:
    """The household's true 2020 income changes: every source carrying 2020 income shows it."""
    h.inc20 = inc
    for src in ("system", "archive"):
        rec = ctx.rec(src, h)
        if rec is not None:
            put_income(rec.f, inc)


def set_everywhere(ctx: Ctx, h: Household, key: str, value: Any) -> None:
    for src in ("system", "archive", "manual"):
        rec = ctx.rec(src, h)
        if rec is not None and key in rec.f:
            rec.f[key] = list(value) if isinstance(value, list) else value


def monthly_visits(ctx: Ctx, h: Household) -> None:
    """Visit monthly: satisfies the rule whichever status a rule believes."""
    h.visits = visit_dates(ctx.rng, ctx.year, True)
    ctx.v.visits[h.hid] = [visit_row(h, d, ctx.rng) for d in h.visits]


# --- problem selection ---------------------------------------------------------------------
def problems(ctx: Ctx, share: float, recipes: list) -> None:
    """Round 0 gives every recipe (every variant) one household; later rounds give each kind one more,
    rotating through its variants, so every kind shows at least twice before any shows often. Each
    recipe takes the first eligible free household in its own pass over the shuffled pool."""
    budget = int(round(share * len(ctx.pool)))
    by_kind: dict[str, list[int]] = {}
    for i, recipe in enumerate(recipes):
        by_kind.setdefault(recipe.kind, []).append(i)
    cursors = [0] * len(recipes)
    rnd, progress = 0, True
    while budget > 0 and progress:
        progress = False
        order = range(len(recipes)) if rnd == 0 else [ix[(rnd - 1) % len(ix)] for ix in by_kind.values()]
        for i in order:
            recipe = recipes[i]
            if budget <= 0:
                break
            if rnd % recipe.every:
                continue
            while cursors[i] < len(ctx.pool):
                h = ctx.hh[ctx.pool[cursors[i]]]
                cursors[i] += 1
                if not ctx.free(h) or (recipe.survey == "force" and h.edge):
                    continue
                before = len(ctx.used)
                if recipe.apply(ctx, h):
                    ctx.used.add(h.hid)
                    budget -= max(1, len(ctx.used) - before)
                    if recipe.survey == "force":
                        ctx.survey_force.append(h.hid)
                    elif recipe.survey == "no":
                        ctx.survey_block.add(h.hid)
                    progress = True
                    break
        rnd += 1


def missed(ctx: Ctx, recipes: list, count: int) -> None:
    """Missed suspects among non-registered households: `count` instances per recipe."""
    pool = [h.hid for h in ctx.county.households if not h.registered and not h.mark]
    ctx.rng.shuffle(pool)
    for recipe in recipes:
        done = 0
        for hid in pool:
            h = ctx.hh[hid]
            if done >= count:
                break
            if ctx.free(h) and recipe.apply(ctx, h):
                ctx.used.add(hid)
                if recipe.survey == "force":
                    ctx.survey_force.append(hid)
                done += 1


# --- background noise ---------------------------------------------------------------------
def background(ctx: Ctx, corr) -> None:
    rng = ctx.rng
    for hid in list(ctx.pool):
        h = ctx.hh[hid]
        if ctx.free(h) and rng.random() < corr.split_rate and _split(ctx, h):
            ctx.survey_block.add(hid)
    for hid in ctx.pool:
        h = ctx.hh[hid]
        if hid in ctx.used:
            continue
        for p in h.members:
            r = rng.random()
            if r < corr.typo_rate:
                _typo(ctx, h, p)
            elif r < corr.typo_rate + corr.missing_id_rate:
                row = prow(ctx.rec("manual", h), p.pid)
                if row is not None:
                    row.f["id_number"] = ""
                    ctx.add("record_incomplete", h, "", "manual", f"手册成员{p.name}身份证号未填写")
            elif r < corr.typo_rate + corr.missing_id_rate + corr.mangled_id_rate:
                _mangle(ctx, h, p)
    for rec in list(ctx.v.sources["archive"].values()) + ctx.v.extras["archive"]:
        if rng.random() < corr.missing_hh_code_rate:
            rec.f["hh_code"] = ""
            ctx.dirty.add(rec.hid)


def _split(ctx: Ctx, h: Household) -> bool:
    """An adult child set up a household of his own: 户籍 and the manual know, system and archive not."""
    movers = [p for p in h.members[1:] if p.relation in ("之子", "之女") and ctx.age(p) >= 20 and not p.student]
    man = ctx.rec("manual", h)
    if not movers or man is None or len(h.members) < 3:
        return False
    p = movers[0]
    man.persons = [r for r in man.persons if r.pid != p.pid]
    resize(ctx, man, len(man.persons), ctx.year - 1, h)
    for row in ctx.v.reg_rows("hukou", p.pid):
        no = row["hukou_no"]  # [county prefix] + village order (3) + serial (6): a new serial, same village
        row["hukou_no"] = no[:-6] + f"9{int(no[-6:]) % 100000:05d}"
        row["relation"] = "02"
    ctx.add("member_missing", h, p.pid, "manual", "分户：该成员已另立户，扶贫手册已删除，系统和台账未更新")
    ctx.add("household_size_mismatch", h, "", "manual,hukou", f"分户后手册及户籍{len(man.persons)}人，系统{len(h.members)}人")
    return True


def _typo(ctx: Ctx, h: Household, p: Person) -> None:
    man = ctx.rec("manual", h)
    row = prow(man, p.pid)
    wrong = P.misspell(ctx.rng, p.name)
    if row is None or wrong == p.name:
        return
    row.f["name"] = wrong
    if p is h.head:
        man.f["head_name"] = wrong
    ctx.add("name_mismatch", h, p.pid, "manual", f"手册姓名误录为{wrong}")


def _mangle(ctx: Ctx, h: Household, p: Person) -> None:
    rng = ctx.rng
    r = rng.random()
    if r < 0.5 and p.pid[-1].isdigit():
        mangle_excel(ctx, h, p)
        return
    row = prow(ctx.rec("manual", h), p.pid)
    if row is None:
        return
    if r < 0.75:
        row.f["id_number"] = P.typo_id(rng, p.pid)
        ctx.add("id_invalid", h, p.pid, "manual", f"手册身份证号录错一位：{row.f['id_number']}")
    else:
        row.f["id_number"] = p.pid[:17]
        ctx.add("id_invalid", h, p.pid, "manual", "手册身份证号少录一位（17位）")


def mangle_excel(ctx: Ctx, h: Household, p: Person) -> bool:
    sys_rec = ctx.rec("system", h)
    row = prow(sys_rec, p.pid)
    # what Excel keeps (15 digits, then 000; read back through a float, other digits) must not pass GB 11643 by
    # chance: a file that keeps it as text (a checker's ="…" export) could not tell it from a real number
    if row is None or not p.pid[-1].isdigit() or any(
            P.is_valid_id(kept) for kept in (p.pid[:15] + "000", str(int(P.excel_number(p.pid))))):
        return False
    row.id_cell = "number"
    if p is h.head:
        sys_rec.f["head_id_cell"] = "number"
    ctx.add("id_invalid", h, p.pid, "system", "系统导出中身份证号存为Excel数值，后三位变为000")
    return True


# --- people outside the register that department data lists -----------------------------------
def register_leads(ctx: Ctx) -> None:
    """Everyone outside the register whom a 低保/特困/残疾/大病 register lists is a lead to verify (missed_suspect),
    with or without a second mark: person by person, and as a household too where inspectors surveyed it."""
    groups = ctx.params["missed_register_groups"]
    people = {f.pid for f in ctx.findings if f.kind == "missed_suspect" and f.hid is None}
    households = {f.hid for f in ctx.findings if f.kind == "missed_suspect" and f.hid is not None}
    for h in ctx.county.households:
        if h.registered:
            continue
        listed = [(p, [k for k in groups if ctx.v.reg_rows(k, p.pid)]) for p in h.members]
        listed = [(p, kinds) for p, kinds in listed if kinds]
        if not listed:
            continue
        if h.hid in ctx.v.sources["survey"] and h.hid not in households:
            ctx.add("missed_suspect", h, "", "survey," + ",".join(sorted({k for _, ks in listed for k in ks})),
                    "非建档立卡核查户，" + "、".join(f"{p.name}在{'、'.join(ks)}名单中" for p, ks in listed))
        for p, kinds in listed:
            if p.pid not in people:
                ctx.add("missed_suspect", None, p.pid, ",".join(kinds), f"{p.name}在{'、'.join(kinds)}名单中，不在任何登记户")
        ctx.used.add(h.hid)


# --- the survey -------------------------------------------------------------------------------
def survey(ctx: Ctx, share: float = 0.25) -> None:
    """Draw the inspection sample and record what inspectors saw (derived from the final state)."""
    rng = ctx.rng
    forced = list(dict.fromkeys(ctx.survey_force))
    eligible = [hid for hid in ctx.pool
                if hid not in ctx.survey_block and hid not in forced and not ctx.hh[hid].edge
                and ctx.rec("system", ctx.hh[hid]) is not None]
    k = max(0, int(round(share * len(ctx.pool))) - len(forced))
    chosen = forced + rng.sample(eligible, min(k, len(eligible)))
    extra_pool = [h.hid for h in ctx.county.households
                  if not h.registered and not h.mark and ctx.free(h) and h.housing in "AB"]
    chosen += rng.sample(extra_pool, min(len(extra_pool), max(3, len(ctx.pool) // 100)))
    hukou_count: dict[str, int] = {}
    for row in ctx.v.registers["hukou"]:
        if not row.get("_drop"):
            hukou_count[row["hukou_no"]] = hukou_count.get(row["hukou_no"], 0) + 1
    for hid in chosen:
        h = ctx.hh[hid]
        rec = HRec(hid, survey_fields(ctx, h, hukou_count))
        rec.f.update(ctx.survey_over.get(hid, {}))
        ctx.v.sources["survey"][hid] = rec


def survey_fields(ctx: Ctx, h: Household, hukou_count: dict[str, int]) -> dict[str, Any]:
    rng, v = ctx.rng, ctx.v
    pids = [p.pid for p in h.members]
    housing = v.reg_rows("housing", h.head.pid)
    f: dict[str, Any] = {
        "township": h.village.town, "village": h.village.name, "head_name": h.head.name, "head_id": h.head.pid,
        "status": h.status if h.registered else "非贫困户", "hh_size": len(h.members), "hukou_size": hukou_count.get(h.hukou_no, 0),
        "housing_safe": all(r["housing_grade"] in "AB" for r in housing), "water_safe": h.water,
        "dropout": any(r["student_status"] == "辍学" for pid in pids for r in v.reg_rows("student", pid)),
        "all_medical_insured": all(r["insured_status"] == "正常参保" for pid in pids
                                   for r in v.reg_rows("medical", pid)),
        "income_year": ctx.year,
        "survey_date": P.random_date(rng, date(ctx.year, 11, 1), date(ctx.year, 12, 25)),
    }
    sys_rec, man = ctx.rec("system", h), ctx.rec("manual", h)
    if h.registered:
        pc = sys_rec.f["income_per_capita"]
        noise = rng.choice((0, 0, rng.randint(-50, 50)))
        if pc + noise < ctx.floor(h):
            noise = abs(noise)
        f.update({"card_size": sys_rec.f["hh_size"], "manual_size": len(man.persons) if man else None,
                  "knows_cadre": True, "visits_reported": len(v.visits.get(h.hid, [])),
                  "income_per_capita": round(pc + noise, 2)})
    else:
        f.update({"card_size": None, "manual_size": None, "knows_cadre": None, "visits_reported": None,
                  "income_per_capita": round(rng.uniform(2.2, 6) * ctx.mon_line(), 2)})
    return f
