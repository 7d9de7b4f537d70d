"""People and families: ages, schooling, health, labour, and plausible household structures."""

from __future__ import annotations

import random
from datetime import date, timedelta

from . import people as P
from .world import DISABILITY_TYPES, County, Person, _weighted


def _birth(rng: random.Random, ref: date, age_lo: int, age_hi: int) -> date:
    age_lo, age_hi = max(0, age_lo), max(0, age_hi)
    if age_hi < age_lo:
        age_hi = age_lo
    start = date(ref.year - age_hi - 1, ref.month, ref.day) + timedelta(days=1)
    end = date(ref.year - age_lo, ref.month, ref.day)
    end = min(end, ref)
    return P.random_date(rng, start, end)


def _school(rng: random.Random, age: int, birth_year: int) -> tuple[str, str]:
    """(文化程度, 在校生状况): exactly one is filled."""
    if age < 3:
        return "学龄前儿童", ""
    if age < 6:
        return "", "学前教育"
    if age <= 11:
        return "", "小学"
    if age <= 15:
        return "", "初中"
    if age <= 18:
        return ("", rng.choice(("高中", "高中", "中职"))) if rng.random() < 0.7 else ("初中", "")
    if age <= 22 and rng.random() < 0.25:
        return "", rng.choice(("大专", "本科及以上"))
    if birth_year < 1955:
        return _weighted(rng, (("文盲或半文盲", 40), ("小学", 45), ("初中", 15))), ""
    if birth_year < 1970:
        return _weighted(rng, (("小学", 35), ("初中", 50), ("高中", 15))), ""
    return _weighted(rng, (("初中", 50), ("高中", 30), ("大专", 15), ("本科及以上", 5))), ""


def _health(rng: random.Random, p: Person, age: int) -> None:
    r = rng.random()
    if age >= 60:
        cut = (0.28, 0.32, 0.36)
    elif age >= 18:
        cut = (0.06, 0.08, 0.11)
    else:
        cut = (0.0, 0.01, 0.03 if age >= 3 else 0.01)
    if r < cut[0]:
        p.health = "长期慢性病"
    elif r < cut[1]:
        p.health = "患有大病"
    elif r < cut[2]:
        set_disabled(rng, p)


def set_disabled(rng: random.Random, p: Person) -> None:
    p.health = "残疾"
    p.dis_type = _weighted(rng, DISABILITY_TYPES)
    p.dis_level = rng.choice((1, 2, 2, 3, 3, 4, 4))


def finish_person(rng: random.Random, p: Person, ref: date) -> None:
    """Education, health, labour, work and insurance from age (at 31 December of the year)."""
    age = P.age_at(p.birth, ref)
    p.education, p.student = _school(rng, age, p.birth.year)
    _health(rng, p, age)
    set_labor(rng, p, ref)
    p.medical = True
    p.pension = age >= 16 and not p.student


def set_labor(rng: random.Random, p: Person, ref: date) -> None:
    age = P.age_at(p.birth, ref)
    if p.student or age < 16:
        p.labor, p.migrant = "无劳动力", ""
        return
    if p.health in ("残疾", "患有大病"):
        p.labor = "丧失劳动力" if rng.random() < 0.6 else "弱劳动力或半劳动力"
    elif age >= 70:
        p.labor = rng.choice(("丧失劳动力", "弱劳动力或半劳动力"))
    elif age >= 60:
        p.labor = "弱劳动力或半劳动力" if rng.random() < 0.6 else "普通劳动力"
    else:
        p.labor = _weighted(rng, (("普通劳动力", 75), ("技能劳动力", 20), ("弱劳动力或半劳动力", 5)))
    p.migrant = ""
    if p.labor in ("普通劳动力", "技能劳动力") and age <= 55:
        p.migrant = _weighted(rng, (
            ("省外务工", 30), ("县外省内务工", 20), ("乡（镇）外县内务工", 10), ("乡（镇）内务工", 10), ("", 30),
        ))


def _region(county: County, rng: random.Random, home_share: float) -> str:
    return county.spec.code if rng.random() < home_share else rng.choice(county.spec.others)


def make_person(county: County, rng: random.Random, name: str, male: bool, birth: date, relation: str,
                region: str | None = None, ethnicity: str = "汉族") -> Person:
    """A person born in `region` (default: the county itself)."""
    pid = county.ids.make(region or county.spec.code, birth, male)
    p = Person(pid, name, "男" if male else "女", birth, relation, ethnicity)
    finish_person(rng, p, county.ref)
    return p


def make_members(county: County, rng: random.Random, size: int, head_age: tuple[int, int]) -> list[Person]:
    """A household of up to `size` people with a plausible structure (head, spouse, parents, children,
    daughter-in-law, grandchildren); fewer when the ages do not allow more."""
    ref = county.ref
    eth = _weighted(rng, (("汉族", 90), ("土家族", 5), ("苗族", 4), ("回族", 1)))
    male_head = rng.random() < (0.5 if size == 1 else 0.85)
    head_sn = P.surname(rng)
    hb = _birth(rng, ref, *head_age)
    head = make_person(county, rng, P.full_name(rng, head_sn, male_head), male_head, hb, "户主", ethnicity=eth)
    members = [head]
    slots = size - 1
    hage = P.age_at(hb, ref)
    youngest_parent = hage
    father_sn = head_sn
    if slots and rng.random() < (0.75 if size == 2 else 0.88):
        region = _region(county, rng, 0.7)
        if region != county.spec.code and rng.random() < 0.1:
            region = rng.choice(county.spec.xinjiang)
            name, s_eth = P.uyghur_name(rng, not male_head), "维吾尔族"
        else:
            name, s_eth = P.full_name(rng, P.surname(rng), not male_head), eth
        sb = _birth(rng, ref, max(20, hage - 5), hage + 5)
        members.append(make_person(county, rng, name, not male_head, sb, "配偶", region, s_eth))
        youngest_parent = min(hage, P.age_at(sb, ref))
        if not male_head:
            father_sn = name[0] if "·" not in name else head_sn
        slots -= 1
    if slots and hage <= 58 and rng.random() < 0.22:
        pmale = rng.random() < 0.4
        pb = _birth(rng, ref, hage + 20, min(95, hage + 32))
        pname = P.full_name(rng, head_sn if pmale else P.surname(rng), pmale)
        members.append(make_person(county, rng, pname, pmale, pb, "之父" if pmale else "之母", ethnicity=eth))
        slots -= 1
    child_max = youngest_parent - 20
    if slots and child_max >= 0:
        generation = rng.choice(P.MALE_CHARS) if rng.random() < 0.35 else None
        if slots >= 3 and child_max >= 24 and rng.random() < 0.6:
            son_b = _birth(rng, ref, 24, child_max)
            son = make_person(county, rng, P.full_name(rng, father_sn, True, generation), True, son_b, "之子",
                              ethnicity=eth)
            sage = P.age_at(son_b, ref)
            dil_b = _birth(rng, ref, max(21, sage - 4), min(sage + 3, youngest_parent - 20))
            dil = make_person(county, rng, P.full_name(rng, P.surname(rng), False), False, dil_b, "之儿媳",
                              _region(county, rng, 0.7), eth)
            members += [son, dil]
            slots -= 2
            gc_max = min(sage, P.age_at(dil_b, ref)) - 20
            while slots and gc_max >= 0:
                gmale = rng.random() < 0.5
                gb = _birth(rng, ref, 0, gc_max)
                members.append(make_person(county, rng, P.full_name(rng, father_sn, gmale), gmale, gb,
                                           "之孙子" if gmale else "之孙女", ethnicity=eth))
                slots -= 1
        while slots:
            cmale = rng.random() < 0.5
            cb = _birth(rng, ref, 0, min(child_max, 40))
            members.append(make_person(county, rng, P.full_name(rng, father_sn, cmale, generation if cmale else None),
                                       cmale, cb, "之子" if cmale else "之女", ethnicity=eth))
            slots -= 1
    return members
