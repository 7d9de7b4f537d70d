"""Household attributes of the true county that follow from its members and parameters:
years, procedure dates, incomes, helpers, visits, and the people only registers know."""

from __future__ import annotations

import random
from datetime import date, timedelta

from . import people as P
from .family import _birth, make_person
from .world import CLEAN_NOTES, Cadre, County, Household, Income, Person, _weighted

MARGIN = 60  # 元 above a line: a clean income never sits on the edge of a threshold


def line(params: dict, key: str, year: int) -> float:
    table = params[key]
    if year in table:
        return float(table[year])
    years = sorted(table)
    return float(table[years[0]] if year < years[0] else table[years[-1]])


def complete(county: County, rng: random.Random) -> None:
    for h in county.registered():
        _years(county, rng, h)
        _dates(county, rng, h)
        _income(county, rng, h)
        h.housing = "A" if rng.random() < 0.55 else "B"
        h.water = True
        h.note = rng.choice(CLEAN_NOTES)
        h.record_date = P.random_date(rng, date(county.year, 10, 1), date(county.year + 2, 6, 30))
    _cadres(county, rng)
    for h in county.registered():
        h.visits = visit_dates(rng, county.year, h.monthly_visits)
    if county.monitoring:
        for h in county.registered():
            _monitoring_record(county, rng, h)
    _nonregistered(county, rng)
    _outsiders(county, rng)


def _years(county: County, rng: random.Random, h: Household) -> None:
    if county.monitoring:
        _monitoring_years(county, rng, h)
        return
    y = county.year
    if h.edge:
        h.identify_year = y
    else:
        h.identify_year = _weighted(rng, ((y - 6, 70), (y - 5, 15), (y - 4, 15)))
    if h.exited:
        h.exit_year = _weighted(rng, ((y - 5, 5), (y - 4, 15), (y - 3, 20), (y - 2, 25), (y - 1, 25), (y, 10)))
        if h.exit_year <= h.identify_year:
            h.identify_year = y - 6
    if h.monitor_type:
        first = 4 if h.edge else 1
        start = rng.randint(first, 6)
        h.mon_start = f"{y}{start:02d}"
        if h.risk == "已消除":
            min_months = int(county.params["risk_elimination_min_months"])
            h.risk_elim = f"{y}{rng.randint(min(12, start + min_months), 12):02d}"


def _monitoring_years(county: County, rng: random.Random, h: Household) -> None:
    """Identified 2014–2016, exited 2016–2020; monitored from some month of 2021 … the assessment year, the
    risk eliminated at least the minimum months later and no later than the year's end."""
    y, first_year = county.year, int(county.params["monitoring_from_year"])
    h.identify_year = _weighted(rng, ((2014, 80), (2015, 10), (2016, 10)))
    if h.exited:
        h.exit_year = _weighted(rng, ((2016, 15), (2017, 20), (2018, 25), (2019, 25), (2020, 15)))
        if h.exit_year <= h.identify_year:
            h.identify_year = 2014
    if not h.monitor_type:
        return
    min_months = int(county.params["risk_elimination_min_months"])
    last_start = 12 * (y - first_year) + 12 - (min_months if h.risk == "已消除" else 1)
    start = rng.randint(0, max(0, last_start - 1))
    start_year, start_month = first_year + start // 12, start % 12 + 1
    h.mon_start = f"{start_year}{start_month:02d}"
    if h.edge:
        h.identify_year = start_year
    if h.risk == "已消除":
        end = rng.randint(min(start + min_months, 12 * (y - first_year) + 11), 12 * (y - first_year) + 11)
        h.risk_elim = f"{first_year + end // 12}{end % 12 + 1:02d}"
        h.elim_method = "帮扶消除" if rng.random() < 0.8 else "自然消除"


def _steps(rng: random.Random, first: date, gaps: tuple[int, ...]) -> list[date]:
    out = [first]
    for gap in gaps:
        out.append(out[-1] + timedelta(days=gap))
    return out


IDENT_KEYS = ("apply_date", "review_date", "village_notice_date", "township_notice_date", "county_notice_date")
EXIT_KEYS = ("exit_review_date", "exit_village_notice_date", "exit_township_notice_date", "exit_county_notice_date")


def _dates(county: County, rng: random.Random, h: Household) -> None:
    nd = county.params["notice_days"]
    y0 = h.identify_year or county.year
    if h.edge:
        first = date(y0, 1, rng.randint(2, 10))
    else:
        first = date(y0, rng.randint(3, 6), rng.randint(1, 28))
    gaps = (rng.randint(5, 20), rng.randint(1, 4), nd["identify_village"] + rng.randint(1, 6),
            nd["identify_township"] + rng.randint(1, 6))
    h.ident_dates = dict(zip(IDENT_KEYS, _steps(rng, first, gaps), strict=True))
    if h.exited and h.exit_year:
        first = date(h.exit_year, rng.randint(8, 10), rng.randint(1, 28))
        gaps = (rng.randint(1, 4), nd["exit_village"] + rng.randint(1, 6), nd["exit_township"] + rng.randint(1, 6))
        h.exit_dates = dict(zip(EXIT_KEYS, _steps(rng, first, gaps), strict=True))


def income_floor(county: County, h: Household, year: int) -> float:
    """The lowest per-capita income a clean household may show for `year`."""
    params = county.params
    floor = 0.0
    if h.exited and h.exit_year and year >= h.exit_year:
        floor = line(params, "exit_line", year) + MARGIN
    if h.risk == "已消除":
        floor = max(floor, line(params, "monitoring_line", county.year) + MARGIN)
    if county.monitoring and h.exited and not h.monitor_type and year >= int(params["monitoring_from_year"]):
        floor = max(floor, line(params, "monitoring_line", year) + MARGIN)  # else it should be monitored
    return floor


def _income(county: County, rng: random.Random, h: Household) -> None:
    y, params = county.year, county.params
    exit_l, mon_l = line(params, "exit_line", y), line(params, "monitoring_line", y)
    n = len(h.members)
    if h.risk == "已消除":
        target = rng.uniform(mon_l * 1.1, mon_l * 2.2)
    elif h.monitor_type:
        target = rng.uniform(exit_l + 300, mon_l - 200)
    elif h.exited and county.monitoring:
        target = rng.uniform(mon_l * 1.1, mon_l * 3.0)
    elif h.exited:
        target = rng.uniform(exit_l * 1.2, exit_l * 3.5)
    else:
        target = rng.uniform(exit_l * 0.6, exit_l * 1.1)
    net_target = target * n
    if h.hh_type == "低保户":
        transfer = n * rng.uniform(2400, 3600)
    elif h.hh_type == "特困户":
        transfer = n * rng.uniform(4000, 6000)
    else:
        transfer = rng.uniform(300, 1500)
    if county.monitoring and h.monitor_type and h.risk != "已消除":
        transfer = min(transfer, net_target * 0.8)  # a risk still open: income stays under the monitoring line
    prop = rng.uniform(100, 800) if rng.random() < 0.4 else 0.0
    business = net_target * rng.uniform(0.1, 0.4)
    expense = business * rng.uniform(0.15, 0.4)
    wage = max(0.0, net_target - (business + prop + transfer - expense))
    inc = Income(y, int(wage), int(business), int(prop), int(transfer), int(expense), n)
    inc.lift(income_floor(county, h, y))
    h.inc20 = inc
    h.inc19 = last_year(county, rng, h, inc)


def last_year(county: County, rng: random.Random, h: Household, inc: Income) -> Income:
    """The previous year's income page: every component re-measured, so none is copied."""
    def shrink(v: int) -> int:
        return int(v * rng.uniform(0.8, 0.96))

    prev = Income(inc.year - 1, shrink(inc.wage), shrink(inc.business), shrink(inc.property),
                  shrink(inc.transfer), shrink(inc.expense), inc.size)
    prev.lift(income_floor(county, h, inc.year - 1))
    if prev.components() == inc.components():
        prev.wage += 137
    return prev


def visit_dates(rng: random.Random, year: int, monthly: bool) -> list[date]:
    """One visit in every calendar month (monthly) or quarter, plus a few extra."""
    out = []
    if monthly:
        for m in range(1, 13):
            out.append(date(year, m, rng.randint(1, 28)))
    else:
        for q in range(4):
            out.append(date(year, q * 3 + rng.randint(1, 3), rng.randint(1, 28)))
    for _ in range(rng.choice((0, 0, 1, 2))):
        out.append(P.random_date(rng, date(year, 1, 1), date(year, 12, 31)))
    return sorted(out)


def make_cadre(county: County, rng: random.Random, town: str) -> Cadre:
    male = rng.random() < 0.6
    birth = _birth(rng, county.ref, 25, 55)
    region = county.spec.code if rng.random() < 0.8 else rng.choice(county.spec.cadre_regions)
    pid = county.ids.make(region, birth, male)
    unit = rng.choice(county.units) if rng.random() < 0.7 else f"{town}人民政府"
    return Cadre(P.full_name(rng, P.surname(rng), male), pid, unit, town)


def _cadres(county: County, rng: random.Random) -> None:
    """Each helper takes 1..cadre_household_limit households of one township."""
    limit = int(county.params["cadre_household_limit"])
    for town, _ in county.towns:
        hhs = [h for h in county.registered() if h.village.town == town]
        rng.shuffle(hhs)
        i = 0
        while i < len(hhs):
            load = rng.choices(range(1, limit + 1), [15, 20, 25, 20, 20][:limit] + [20] * max(0, limit - 5))[0]
            cadre = make_cadre(county, rng, town)
            county.cadres.append(cadre)
            for h in hhs[i:i + load]:
                h.cadre = cadre
            i += load


def _nonregistered(county: County, rng: random.Random) -> None:
    """Marks of non-registered households, at most one kind each so none is a missed suspect by accident."""
    for h in county.households:
        if h.registered:
            continue
        ages = [P.age_at(p.birth, county.ref) for p in h.members]
        r = rng.random()
        if r < 0.06:
            h.mark = "dibao"
        elif r < 0.075 and len(h.members) == 1 and ages[0] >= 60:
            h.mark = "tekun"
        elif r < 0.10 and not any(p.health == "残疾" for p in h.members):
            h.mark = "housing"
            h.housing = rng.choice("CD")
        if h.mark in ("dibao", "tekun"):
            for p in h.members:
                if p.health == "残疾":
                    p.health, p.dis_type, p.dis_level = "长期慢性病", "", 0
                p.dibao = h.mark == "dibao"


def _outsiders(county: County, rng: random.Random) -> None:
    """People only registers know: the deceased, and residents of elsewhere (employees, owners)."""
    n_people = sum(len(h.members) for h in county.households)
    for _ in range(max(3, n_people // 100)):
        male = rng.random() < 0.55
        birth = _birth(rng, date(county.year - 1, 12, 31), 60, 95)
        p = Person(county.ids.make(county.spec.code, birth, male), P.full_name(rng, P.surname(rng), male),
                   "男" if male else "女", birth, "")
        county.deceased.append(p)
    for _ in range(max(5, n_people // 40)):
        male = rng.random() < 0.55
        birth = _birth(rng, county.ref, 23, 60)
        region = county.spec.code if rng.random() < 0.6 else rng.choice(county.spec.others)
        p = Person(county.ids.make(region, birth, male), P.full_name(rng, P.surname(rng), male),
                   "男" if male else "女", birth, "")
        county.outsiders.append(p)


def newborn(county: County, rng: random.Random, h: Household) -> Person | None:
    """A baby born this year to the household (a grandchild when a son lives there), or None."""
    ref = county.ref
    sons = [p for p in h.members if p.relation == "之子" and 21 <= P.age_at(p.birth, ref) <= 45]
    head = h.head
    male = rng.random() < 0.5
    birth = P.random_date(rng, date(county.year, 1, 1), date(county.year, 11, 30))
    if sons and any(p.relation == "之儿媳" for p in h.members):
        rel, sname = ("之孙子" if male else "之孙女"), sons[0].name[0]
    elif 21 <= P.age_at(head.birth, ref) <= 45 and any(p.relation == "配偶" for p in h.members):
        rel = "之子" if male else "之女"
        father = head if head.sex == "男" else next(p for p in h.members if p.relation == "配偶")
        sname = father.name[0] if "·" not in father.name else "李"
    else:
        return None
    return make_person(county, rng, P.full_name(rng, sname, male), male, birth, rel)



# --- what the monitoring export records (assessment years from 2021) -------------------------------
WORK_PLACES = {"省外务工": "省外", "县外省内务工": "县外省内", "乡（镇）外县内务工": "乡（镇）外县内",
               "乡（镇）内务工": "乡（镇）内"}
AWAY = ("省外务工", "县外省内务工")
POST_TYPES = ("护林员", "保洁员", "护路员", "水管员", "孤寡老人看护员", "河道管护员")
NO_LABOR = ("丧失劳动力", "无劳动力")


def phone_number(rng: random.Random) -> str:
    return "1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9))


def _monitoring_record(county: County, rng: random.Random, h: Household) -> None:
    """Work, 公益岗, schemes and phones of every member; contact, flags, costs and land of the household —
    all consistent, so a clean household passes every check of the monitoring export."""
    ref = county.ref
    for p in h.members:
        age = P.age_at(p.birth, ref)
        p.tekun = h.hh_type == "特困户"
        p.serious_insured = True
        if p.migrant:
            p.work_place = WORK_PLACES[p.migrant]
            p.work_months = rng.randint(3, 12)
            p.channel = rng.choice(("自主就业", "劳务输出")) if p.migrant in AWAY else \
                rng.choice(("自主就业", "自主就业", "帮扶车间"))
            if p.migrant in AWAY and age <= 55 and rng.random() < 0.08:
                p.medical, p.employee_medical = False, True  # insured where he works: 职工医保
        if p is h.head or (age >= 18 and rng.random() < 0.5):
            p.phone = phone_number(rng)
        if 6 <= age <= 18 and not p.student:
            p.school_reason = "已完成义务教育"
        p.yulu = p.student == "中职" and "教育资助" in h.measures
    if "公益岗位" in h.measures:  # one member near home holds the post the measure names
        able = [p for p in h.members if p.labor not in NO_LABOR and p.migrant not in AWAY and not p.tekun
                and 18 <= P.age_at(p.birth, ref) <= 64]
        if able:
            p = rng.choice(able)
            p.post_type, p.post_months = rng.choice(POST_TYPES), rng.randint(6, 12)
            p.migrant, p.work_place, p.work_months = "乡（镇）内务工", "乡（镇）内", p.post_months
            p.channel = "公益性岗位"
    h.phone = h.head.phone
    if h.monitor_type:
        h.contact, h.contact_phone = (h.cadre.name if h.cadre else "村监测员"), phone_number(rng)
    h.guarantee = guarantee_of(h)
    ill = "因病" in (h.main_cause, *h.other_causes)
    h.self_paid = rng.randint(2000, 30000) if ill else rng.choice((0, 0, rng.randint(100, 3000)))
    h.arable = round(rng.uniform(0.5, 12), 1)
    h.forest = round(rng.uniform(0, 30), 1) if rng.random() < 0.5 else 0.0


def guarantee_of(h: Household) -> bool:
    """整户无劳动能力兜底保障户: nobody can work and the household lives on 低保 or 特困供养."""
    return all(p.labor in NO_LABOR for p in h.members) and (
        h.hh_type in ("低保户", "特困户") or any(p.dibao or p.tekun for p in h.members))
