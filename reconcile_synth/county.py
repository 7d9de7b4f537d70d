"""Build the true county: townships, villages, registered and non-registered households, codes."""

from __future__ import annotations

import random

from . import people as P
from .family import make_members, set_disabled, set_labor
from .place import DEFAULT_COUNTY, TOWN_STEMS, CountySpec
from .world import (
    CAUSES,
    GENERAL_MEASURES,
    MEASURES,
    VILLAGE_STEMS,
    County,
    Household,
    Village,
    _weighted,
)

HOUSEHOLDS_PER_TOWN = 1000  # counties of the simulated province grow townships (not village size) with households


def build(rng: random.Random, params: dict, year: int, households: int, nonreg_ratio: float,
          spec: CountySpec = DEFAULT_COUNTY) -> County:
    ids = P.IdFactory(rng)
    n_towns = rng.randint(3, 5)
    if spec.index:
        n_towns = max(n_towns, min(len(TOWN_STEMS), round(households / HOUSEHOLDS_PER_TOWN)))
    towns = spec.towns(n_towns)
    villages: list[Village] = []
    for tname, tcode in towns:
        stems = rng.sample(VILLAGE_STEMS, rng.randint(4, 8))
        for k, stem in enumerate(stems):
            villages.append(Village(stem + "村", stem, f"{200 + k + 1:03d}", tname, tcode))
    county = County(year, params, towns, villages, [], [], ids, spec=spec)
    weights = [rng.uniform(0.5, 1.5) for _ in villages]
    hid = 0
    for registered, count in ((True, households), (False, int(round(households * nonreg_ratio)))):
        for _ in range(count):
            village = rng.choices(villages, weights)[0]
            h = Household(hid, registered, village, [])
            hid += 1
            county.households.append(h)
            if registered:
                _registered_profile(county, rng, h)
            else:
                h.members = make_members(county, rng, _size(rng), (25, 85))
                h.housing = "A" if rng.random() < 0.7 else "B"
    _codes(county, rng)
    return county


def _size(rng: random.Random) -> int:
    return _weighted(rng, ((1, 10), (2, 20), (3, 22), (4, 22), (5, 14), (6, 8), (7, 4)))


def _registered_profile(county: County, rng: random.Random, h: Household) -> None:
    """Type, status, members and causes of a registered household (income etc. come later)."""
    r = rng.random()
    if county.monitoring:  # every poor household exited by 2020; monitoring watches some, and newcomers
        if r < 0.03:
            h.monitor_type, h.status = "边缘易致贫户", "非贫困户"
        elif r < 0.045:
            h.monitor_type, h.status = "突发严重困难户", "非贫困户"
        else:
            h.status = "已脱贫"
            if rng.random() < 0.12:
                h.monitor_type = "脱贫不稳定户"
    elif r < 0.03:
        h.monitor_type, h.status = "边缘易致贫户", "非贫困户"
    elif r < 0.11:
        h.status = "未脱贫"
    else:
        h.status = "已脱贫"
        if rng.random() < 0.12:
            h.monitor_type = "脱贫不稳定户"
    if h.edge:
        h.hh_type = ""
    else:
        h.hh_type = _weighted(rng, (("一般户", 72), ("低保户", 24), ("特困户", 4)))
    if h.hh_type == "特困户":  # one person in the monitoring era, where each member is flagged 特困供养人员
        size = 1 if county.monitoring else rng.choice((1, 1, 1, 2))
        h.members = make_members(county, rng, size, (62, 88))
    else:
        h.members = make_members(county, rng, _size(rng), (26, 80))
    for p in h.members:
        p.dibao = h.hh_type == "低保户"
    if h.monitor_type:
        h.risk = "已消除" if rng.random() < 0.5 else "未消除"
    _cause(county, rng, h)


def _cause(county: County, rng: random.Random, h: Household) -> None:
    ref = county.ref
    if h.hh_type == "特困户":
        cause = rng.choice(("缺劳力", "因病", "因残"))
    else:
        cause = _weighted(rng, CAUSES)
    workers = [p for p in h.members if p.migrant]
    if county.monitoring and h.monitor_type and workers and rng.random() < 0.25:
        cause = "因务工就业不稳"  # a monitoring-era risk: someone works, but not steadily
    students = [p for p in h.members if p.student and p.student != "学前教育"]
    if cause == "因学" and not students:
        cause = "缺技术"
    if cause in ("因学", "因残") and h.risk == "已消除":
        cause = "缺技术"  # a pupil still at school or a disabled member keeps that risk standing
    adults = [p for p in h.members if P.age_at(p.birth, ref) >= 18] or h.members
    if cause == "因病" and not any(p.health in ("长期慢性病", "患有大病") for p in h.members):
        p = rng.choice(adults)
        p.health = "患有大病" if rng.random() < 0.5 else "长期慢性病"
        set_labor(rng, p, ref)
    if cause == "因病" and h.risk == "已消除":
        for p in h.members:  # a serious illness would keep the risk open
            if p.health == "患有大病":
                p.health = "长期慢性病"
    if cause == "因残" and not any(p.health == "残疾" for p in h.members):
        p = rng.choice(adults)
        set_disabled(rng, p)
        set_labor(rng, p, ref)
    h.main_cause = cause
    others = [c for c, _ in CAUSES if c != cause and c not in ("因学", "因病", "因残")]
    h.other_causes = sorted(rng.sample(others, rng.choice((0, 0, 1, 1, 2))), key=lambda c: others.index(c))
    # 低保兜底/特困供养 belong to households of that type only
    barred = {"一般户": {"低保兜底", "特困供养"}, "低保户": {"特困供养"}, "特困户": {"低保兜底"}}.get(h.hh_type, set())
    fit = [m for m in county.params["cause_measures"][cause] if m not in barred] or county.params["cause_measures"][cause]
    chosen = set(rng.sample(fit, min(len(fit), rng.choice((1, 1, 2)))))
    chosen |= set(rng.sample(GENERAL_MEASURES, rng.choice((0, 1, 1, 2))))
    if h.hh_type == "低保户":
        chosen.add("低保兜底")
    if h.hh_type == "特困户":
        chosen.add("特困供养")
    if cause == "因病" and rng.random() < 0.6:
        chosen.add("健康帮扶")
    h.measures = [m for m in MEASURES if m in chosen]


def _codes(county: County, rng: random.Random) -> None:
    """户编号 for registered households (serial within village), 户号 for every household."""
    order = {v.code + v.town_code: i for i, v in enumerate(county.villages)}
    serial: dict[str, int] = {}
    hukou_serial = 0
    home, prefix = county.spec.code, county.spec.hukou_prefix()
    for h in sorted(county.households, key=lambda h: (order[h.village.code + h.village.town_code], h.hid)):
        key = h.village.town_code + h.village.code
        if h.registered:
            serial[key] = serial.get(key, 0) + rng.randint(1, 9)
            h.hh_code = f"{home}{h.village.town_code}{h.village.code}{serial[key]:07d}"
        hukou_serial += rng.randint(1, 5)
        h.hukou_no = f"{prefix}{order[h.village.code + h.village.town_code]:03d}{hukou_serial:06d}"
