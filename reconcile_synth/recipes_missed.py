"""Missed suspects: non-registered households that look like ones the register should hold."""

from __future__ import annotations

from datetime import date

from .family import set_disabled
from .inject import Ctx
from .recipes_rules import _school_child
from .views import dibao_row, disability_row
from .world import Household


# --- missed suspects (non-registered households) --------------------------------------------
def missed_survey(way: str):
    return lambda ctx, h: _missed_survey(ctx, h, way)


def _missed_survey(ctx: Ctx, h: Household, way: str) -> bool:
    rng = ctx.rng
    child = _school_child(ctx, h)
    if way == "dropout" and child is None:
        return False
    if way == "income":
        pc = round(ctx.exit_line() * rng.uniform(0.45, 0.85), 2)
        ctx.survey_over[h.hid] = {"income_per_capita": pc}
        detail = f"非建档立卡户，人均纯收入{pc}元低于标准"
    elif way == "housing":
        h.housing = rng.choice("CD")
        for row in ctx.v.reg_rows("housing", h.head.pid):
            row["housing_grade"] = h.housing
        detail = f"非建档立卡户，住房为{h.housing}级危房"
    else:
        for row in ctx.v.reg_rows("student", child.pid):
            row["student_status"] = "辍学"
        detail = f"非建档立卡户，{child.relation}{child.name}辍学"
    ctx.add("missed_suspect", h, "", "survey", detail)
    return True


def missed_register(way: str):
    return lambda ctx, h: _missed_register(ctx, h, way)


def _missed_register(ctx: Ctx, h: Household, way: str) -> bool:
    rng = ctx.rng
    adults = [p for p in h.members if ctx.age(p) >= 18]
    if not adults or any(p.health == "残疾" for p in h.members):
        return False
    # 低保 is applied for by the household, its head named first; 特困 supports one person
    p = h.head if way.startswith("dibao") and h.head in adults else rng.choice(adults)
    if way == "dibao+housing":
        ctx.v.add_reg("dibao", dibao_row(p, h, rng, ctx.year))
        h.housing = rng.choice("CD")
        for row in ctx.v.reg_rows("housing", p.pid):
            row["housing_grade"] = h.housing
        srcs, detail = "dibao,housing", f"享受低保且住房为{h.housing}级危房，未纳入建档立卡/监测"
    else:
        set_disabled(rng, p)
        ctx.v.add_reg("disability", disability_row(p, h, rng, ctx.year))
        if way == "dibao+disability":
            ctx.v.add_reg("dibao", dibao_row(p, h, rng, ctx.year))
        else:
            ctx.v.add_reg("tekun", {"_pid": p.pid, "id_number": p.pid, "name": p.name, "township": h.village.town,
                                    "village": h.village.name, "support_mode": "分散供养",
                                    "approved_date": date(ctx.year, rng.randint(1, 9), rng.randint(1, 28))})
        kind = way.split("+")[0]
        srcs = f"{kind},disability"
        detail = f"{'享受低保' if kind == 'dibao' else '特困供养'}且持残疾证，未纳入建档立卡/监测"
    ctx.add("missed_suspect", None, p.pid, srcs, detail)
    ctx.used.add(h.hid)
    return True
