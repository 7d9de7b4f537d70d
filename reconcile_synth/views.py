"""What each source and register records of the true county, in canonical fields, before injections.

A source record is an `HRec` (household fields, plus person rows for person-level sources); a register
row is a dict of canonical fields plus `_pid`, the true ID of the person it is about. Writers turn
both into raw files later, adding only formatting noise that normalisation undoes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from . import people as P
from .world import County, Household, Income, Person

GBT4761 = {
    "户主": "02", "配偶": "10", "之子": "20", "之女婿": "28", "之女": "30", "之儿媳": "38", "之孙子": "41",
    "之孙女": "42", "之父": "51", "之母": "52", "之岳父": "55", "之岳母": "56", "其他": "99",
}
INCOME_KEYS = ("income_wage", "income_business", "income_property", "income_transfer", "expense_business")
K12 = ("小学", "初中", "高中", "中职")
SERIOUS_DISEASES = ("恶性肿瘤", "尿毒症", "重性精神病", "耐多药结核病", "终末期肾病", "脑卒中后遗症", "慢性心力衰竭")


@dataclass
class PRow:
    pid: str  # the true ID of the person this row is about
    f: dict[str, Any]
    id_cell: str = "text"  # "number": written as an Excel number (digits past 15 lost)


@dataclass
class HRec:
    hid: int
    f: dict[str, Any]
    persons: list[PRow] = field(default_factory=list)


@dataclass
class Views:
    sources: dict[str, dict[int, HRec]]
    extras: dict[str, list[HRec]]  # second records of a household (duplicates), written after the first
    registers: dict[str, list[dict[str, Any]]]
    visits: dict[int, list[dict[str, Any]]]
    _index: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def rec(self, source: str, hid: int) -> HRec | None:
        return self.sources[source].get(hid)

    def reg_rows(self, kind: str, pid: str) -> list[dict[str, Any]]:
        """Rows of a register about one person (rows marked `_drop` are deleted ones)."""
        if kind not in self._index:
            index: dict[str, list[dict[str, Any]]] = {}
            for row in self.registers[kind]:
                index.setdefault(row["_pid"], []).append(row)
            self._index[kind] = index
        return [r for r in self._index[kind].get(pid, []) if not r.get("_drop")]

    def add_reg(self, kind: str, row: dict[str, Any]) -> None:
        self.registers[kind].append(row)
        if kind in self._index:
            self._index[kind].setdefault(row["_pid"], []).append(row)


def put_income(f: dict[str, Any], inc: Income) -> None:
    f.update({
        "income_year": inc.year, "income_wage": inc.wage, "income_business": inc.business,
        "income_property": inc.property, "income_transfer": inc.transfer, "expense_business": inc.expense,
        "income_total": inc.net, "income_per_capita": inc.pc,
    })


def income_of(f: dict[str, Any], size: int | None = None) -> Income:
    return Income(f["income_year"], f["income_wage"], f["income_business"], f["income_property"],
                  f["income_transfer"], f["expense_business"], size or f["hh_size"])


def _where(h: Household, county: str) -> dict[str, Any]:
    return {"county": county, "township": h.village.town, "village": h.village.name, "hh_code": h.hh_code}


def _cadre(h: Household) -> dict[str, Any]:
    c = h.cadre
    return {"cadre_name": c.name if c else "", "cadre_id": c.pid if c else "", "cadre_unit": c.unit if c else ""}


def person_fields(p: Person, full: bool) -> dict[str, Any]:
    f = {"name": p.name, "id_number": p.pid, "sex": p.sex, "birth_date": p.birth, "relation": p.relation,
         "ethnicity": p.ethnicity, "education": p.education, "student_status": p.student, "health": p.health,
         "labor": p.labor}
    if full:
        f.update({"migrant_work": p.migrant, "medical_insured": p.medical, "pension_insured": p.pension,
                  "dibao": p.dibao,
                  # the monitoring export's person columns (written only in its layout)
                  "work_place": p.work_place, "work_months": p.work_months, "employment_channel": p.channel,
                  "public_post_type": p.post_type, "public_post_months": p.post_months,
                  "employee_medical_insured": p.employee_medical, "serious_illness_insured": p.serious_insured,
                  "tekun": p.tekun, "member_phone": p.phone, "out_of_school_reason": p.school_reason,
                  # yes/no columns no rule judges beyond being filled in: what the person's facts imply
                  "employee_pension_insured": p.employee_medical, "commercial_medical_insured": False,
                  "medical_aid": p.health == "患有大病", "other_health_aid": p.health in ("患有大病", "长期慢性病"),
                  "works_abroad": False, "speaks_mandarin": True, "yulu_plan": p.yulu})
    return f


def system_rec(h: Household, county: str) -> HRec:
    f = {**_where(h, county), "head_name": h.head.name, "head_id": h.head.pid, "hh_size": len(h.members),
         "hh_type": h.hh_type, "status": h.status, "exit_year": h.exit_year, "identify_year": h.identify_year,
         "main_cause": h.main_cause, "other_causes": list(h.other_causes), "housing_grade": h.housing,
         "water_safe": h.water, "measures": list(h.measures), "monitor_type": h.monitor_type,
         "risk_status": h.risk, "monitor_start_date": h.mon_start, "risk_eliminated_date": h.risk_elim,
         **_cadre(h),
         # the monitoring export's household columns (written only in its layout)
         "elimination_method": h.elim_method, "monitor_contact": h.contact, "monitor_contact_phone": h.contact_phone,
         "household_phone": h.phone, "guarantee_household": h.guarantee, "medical_self_paid": h.self_paid,
         "arable_land_area": h.arable, "forest_land_area": h.forest}
    put_income(f, h.inc20)
    persons = []
    for k, p in enumerate(h.members, start=1):
        pf = person_fields(p, True)
        pf["rec_id"] = f"{h.hh_code}{k:02d}"
        persons.append(PRow(p.pid, pf))
    return HRec(h.hid, f, persons)


def archive_rec(h: Household, county: str) -> HRec:
    f = {**_where(h, county), "head_name": h.head.name, "head_id": h.head.pid, "hh_size": len(h.members),
         "hh_type": h.hh_type, "status": h.status, "exit_year": h.exit_year, "main_cause": h.main_cause,
         "monitor_type": h.monitor_type, "risk_status": h.risk, "risk_eliminated_date": h.risk_elim,
         "cadre_name": h.cadre.name if h.cadre else "", "measures": list(h.measures), "note": h.note,
         "record_date": h.record_date, **h.ident_dates, **h.exit_dates}
    put_income(f, h.inc20)
    return HRec(h.hid, f)


def manual_rec(h: Household, rng: random.Random, year: int, county: str) -> HRec:
    c = _cadre(h)
    f = {**_where(h, county), "head_name": h.head.name, "head_id": h.head.pid, "hh_size": len(h.members),
         "hh_type": h.hh_type, "status": h.status, "exit_year": h.exit_year, "main_cause": h.main_cause,
         "other_causes": list(h.other_causes), "cadre_name": c["cadre_name"], "cadre_unit": c["cadre_unit"],
         "measures": list(h.measures),
         "record_date": P.random_date(rng, date(year, 3, 1), date(year, 12, 20))}
    put_income(f, h.inc19)
    return HRec(h.hid, f, [PRow(p.pid, person_fields(p, False)) for p in h.members])


def build(county: County, rng: random.Random) -> Views:
    reg = county.registered()
    sources = {
        "system": {h.hid: system_rec(h, county.name) for h in reg},
        "archive": {h.hid: archive_rec(h, county.name) for h in reg},
        "manual": {h.hid: manual_rec(h, rng, county.year, county.name) for h in reg},
        "survey": {},
    }
    visits = {h.hid: [visit_row(h, d, rng) for d in h.visits] for h in reg}
    return Views(sources, {"system": [], "archive": [], "manual": [], "survey": []}, registers(county, rng), visits)


VISIT_NOTES = ("了解家庭收入情况", "宣传帮扶政策", "核实家庭人口变化", "落实产业帮扶措施", "询问家庭成员身体状况",
               "指导春耕生产", "了解子女就学情况", "协助办理医保缴费", "走访慰问", "核实务工就业情况")


def visit_row(h: Household, d: date, rng: random.Random) -> dict[str, Any]:
    return {"hh_code": h.hh_code, "head_name": h.head.name, "head_id": h.head.pid, "township": h.village.town,
            "village": h.village.name, "cadre_name": h.cadre.name if h.cadre else "", "visit_date": d,
            "note": rng.choice(VISIT_NOTES)}


def _base(p: Person, h: Household | None) -> dict[str, Any]:
    return {"_pid": p.pid, "id_number": p.pid, "name": p.name,
            "township": h.village.town if h else "", "village": h.village.name if h else ""}


def grade_of(p: Person, ref: date, county: str) -> tuple[str, str]:
    age = P.age_at(p.birth, ref)
    town = ""
    if p.student == "小学":
        return town + "中心小学", f"{max(1, min(6, age - 5))}年级"
    if p.student == "初中":
        return town + "中学", ("七年级", "八年级", "九年级")[max(0, min(2, age - 12))]
    if p.student == "高中":
        return f"{county}第一中学", ("高一", "高二", "高三")[max(0, min(2, age - 16))]
    return f"{county}职业中专", ("一年级", "二年级", "三年级")[max(0, min(2, age - 16))]


def student_row(p: Person, h: Household, ref: date, county: str, status: str = "在读") -> dict[str, Any]:
    school, grade = grade_of(p, ref, county)
    if p.student in ("小学", "初中"):
        school = h.village.town.rstrip("镇乡") + school
    return {**_base(p, h), "school": school, "grade": grade, "student_status": status}


def registers(county: County, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    ref, year = county.ref, county.year
    regs: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "dibao", "tekun", "disability", "illness", "death", "hukou", "public_employee", "vehicle", "property", "business",
        "student", "medical", "housing")}
    nonreg_adults: list[tuple[Person, Household]] = []
    for h in county.households:
        tekun = h.hh_type == "特困户" or h.mark == "tekun"
        for p in h.members:
            row = _base(p, h)
            regs["hukou"].append({**row, "hukou_no": h.hukou_no, "relation": GBT4761.get(p.relation, "99"),
                                  "sex": p.sex, "birth_date": p.birth, "ethnicity": p.ethnicity})
            scheme = "城镇职工基本医疗保险" if p.employee_medical else "城乡居民基本医疗保险"
            regs["medical"].append({**row, "enrol_year": year, "insurance_type": scheme, "insured_status": "正常参保"})
            if p.dibao:
                regs["dibao"].append(dibao_row(p, h, rng, year))
            if tekun:
                regs["tekun"].append({**row, "support_mode": "分散供养",
                                      "approved_date": P.random_date(rng, date(year - 6, 1, 1), date(year, 6, 30))})
            if p.health == "残疾":
                regs["disability"].append(disability_row(p, h, rng, year))
            if p.health == "患有大病":
                regs["illness"].append({**row, "disease": rng.choice(SERIOUS_DISEASES),
                                        "identified_date": P.random_date(rng, date(year - 4, 1, 1), date(year, 9, 30))})
            if p.student in K12:
                regs["student"].append(student_row(p, h, ref, county.name))
            if not h.registered and 23 <= P.age_at(p.birth, ref) <= 60:
                nonreg_adults.append((p, h))
        regs["housing"].append(housing_row(h.head, h, h.housing, rng, year))
    for c in county.cadres:
        regs["public_employee"].append({"_pid": c.pid, "id_number": c.pid, "name": c.name, "township": "",
                                        "village": "", "employer": c.unit, "staff_type": "在编"})
    for p in county.deceased:
        regs["death"].append(death_row(p, rng, year))
    owners = [(p, None) for p in county.outsiders] + nonreg_adults
    for p, h in owners:
        r = rng.random()
        if h is None and r < 0.5:
            regs["public_employee"].append(employee_row(county, p, rng))
        if rng.random() < (0.3 if h is None else 0.08):
            regs["vehicle"].append(vehicle_row(p, h, rng, year))
        if rng.random() < (0.2 if h is None else 0.03):
            regs["property"].append(property_row(county, p, h, rng))
        if rng.random() < (0.2 if h is None else 0.04):
            regs["business"].append(business_row(county, p, h, rng))
    return regs


def dibao_row(p: Person, h: Household, rng: random.Random, year: int) -> dict[str, Any]:
    return {**_base(p, h), "dibao_class": rng.choice(("A类", "B类", "C类")),
            "monthly_amount": rng.choice((260, 300, 330, 360, 400)),
            "approved_date": P.random_date(rng, date(year - 6, 1, 1), date(year, 6, 30))}


def disability_row(p: Person, h: Household | None, rng: random.Random, year: int) -> dict[str, Any]:
    codes = {"视力": "1", "听力": "2", "言语": "3", "肢体": "4", "智力": "5", "精神": "6", "多重": "7"}
    level = p.dis_level or 2
    dtype = p.dis_type or "肢体"
    return {**_base(p, h), "sex": p.sex, "cert_no": p.pid + codes[dtype] + str(level), "disability_type": dtype,
            "disability_level": level, "issued_date": P.random_date(rng, date(year - 10, 1, 1), date(year, 6, 30))}


def housing_row(head: Person, h: Household, grade: str, rng: random.Random, year: int) -> dict[str, Any]:
    return {**_base(head, h), "housing_grade": grade,
            "assessed_date": P.random_date(rng, date(year - 2, 1, 1), date(year, 9, 30))}


def death_row(p: Person, rng: random.Random, year: int) -> dict[str, Any]:
    died = P.random_date(rng, date(year - 1, 1, 1), date(year, 11, 30))
    return {"_pid": p.pid, "id_number": p.pid, "name": p.name, "township": "", "village": "", "sex": p.sex,
            "death_date": died, "cancel_reason": "死亡", "cancel_date": died + timedelta(days=rng.randint(3, 40))}


def employee_row(county: County, p: Person, rng: random.Random, employer: str | None = None) -> dict[str, Any]:
    name, town = county.name, county.towns[0][0]
    employer = employer or rng.choice((f"{name}第一中学", f"{name}人民医院", f"{name}税务局", f"{name}公安局",
                                       f"{town}中心小学", f"{name}城市管理局", f"{county.spec.city}第二人民医院"))
    return {"_pid": p.pid, "id_number": p.pid, "name": p.name, "township": "", "village": "",
            "employer": employer, "staff_type": rng.choice(("在编", "在编", "聘用"))}


def vehicle_row(p: Person, h: Household | None, rng: random.Random, year: int) -> dict[str, Any]:
    plate = "湘F·" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
    return {**_base(p, h), "plate": plate, "vehicle_type": rng.choice(("小型轿车", "小型普通客车", "轻型货车")),
            "registered_date": P.random_date(rng, date(year - 8, 1, 1), date(year, 10, 31))}


def property_row(county: County, p: Person, h: Household | None, rng: random.Random) -> dict[str, Any]:
    estate = rng.choice(("洋沙湖花园", "左宗棠广场", "湘江新城", "书院路小区", "金龙名苑"))
    address = f"{county.name}{county.towns[0][0]}{estate}{rng.randint(1, 20)}栋{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}"
    return {**_base(p, h), "address": address, "property_type": "商品房",
            "floor_area": round(rng.uniform(70, 160), 2)}


def business_row(county: County, p: Person, h: Household | None, rng: random.Random) -> dict[str, Any]:
    shop = rng.choice(("商行", "农资店", "便利店", "建材店", "养殖场", "餐馆", "五金店"))
    return {**_base(p, h), "business_name": f"{county.name}{p.name}{shop}", "business_type": "个体工商户",
            "registered_capital": rng.choice((1, 3, 5, 10, 20, 50))}
