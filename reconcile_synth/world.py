"""The true county: every household and person as they really are, before any source records them.

Registered households (建档立卡 and 监测对象) carry the full set of attributes; non-registered
households exist too (they show up in registers and, a few, in the survey). Every value a clean
household shows in any source is derived from this world, so a clean household agrees everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from . import people as P
from .place import DEFAULT_COUNTY, CountySpec

VILLAGE_STEMS = (
    "大田", "青山", "新华", "和平", "东湖", "白马", "石塘", "杨柳", "荷花", "金星", "红旗", "长岭", "桃源",
    "双江", "洞庭", "明月", "凤凰", "兴隆", "三合", "团山", "古塘", "望湖", "高峰", "樟树", "新河", "永兴",
    "荆塘", "莲花", "枫林", "沙田",
)
CAUSES = (
    ("因病", 24), ("因残", 11), ("因学", 8), ("因灾", 4), ("缺土地", 4), ("缺水", 2), ("缺技术", 15),
    ("缺劳力", 10), ("缺资金", 14), ("交通条件落后", 3), ("自身发展动力不足", 5),
)
MEASURES = (
    "产业帮扶", "就业帮扶", "公益岗位", "小额信贷", "教育资助", "健康帮扶", "医疗救助", "残疾人补贴",
    "危房改造", "易地扶贫搬迁", "低保兜底", "特困供养", "临时救助", "饮水安全", "技能培训",
)
GENERAL_MEASURES = ("产业帮扶", "就业帮扶", "小额信贷", "技能培训")
UNITS = (  # helpers' units, "{}" is the county's name
    "{}农业农村局", "{}教育局", "{}卫生健康局", "{}自然资源局", "{}交通运输局",
    "{}财政局", "{}人民医院", "国网{}供电公司", "{}水利局", "{}民政局",
)
DISABILITY_TYPES = (("肢体", 50), ("视力", 12), ("听力", 12), ("言语", 4), ("智力", 10), ("精神", 8), ("多重", 4))
CLEAN_NOTES = (
    "", "", "", "", "户主常年外出务工", "已落实产业帮扶", "家中有慢性病人员，已签约家庭医生", "子女在县城务工",
    "房屋已完成改造", "已享受教育资助", "已开展技能培训", "收入来源稳定", "家庭成员无变化", "已落实小额信贷",
)


@dataclass
class Person:
    pid: str
    name: str
    sex: str
    birth: date
    relation: str
    ethnicity: str = "汉族"
    education: str = ""
    student: str = ""
    health: str = "健康"
    dis_type: str = ""
    dis_level: int = 0
    labor: str = "普通劳动力"
    migrant: str = ""
    medical: bool = True
    pension: bool = False
    dibao: bool = False
    # what the monitoring export (2021 on) records besides: work, 公益岗, schemes, phone
    work_place: str = ""
    work_months: int | None = None
    channel: str = ""
    post_type: str = ""
    post_months: int | None = None
    employee_medical: bool = False
    serious_insured: bool = True
    tekun: bool = False
    phone: str = ""
    school_reason: str = ""
    yulu: bool = False  # 雨露计划 grant (中职 students)


@dataclass
class Income:
    year: int
    wage: int
    business: int
    property: int
    transfer: int
    expense: int
    size: int

    @property
    def net(self) -> int:
        return self.wage + self.business + self.property + self.transfer - self.expense

    @property
    def pc(self) -> float:
        return round(self.net / self.size, 2)

    def components(self) -> tuple[int, int, int, int, int]:
        return (self.wage, self.business, self.property, self.transfer, self.expense)

    def lift(self, floor: float) -> None:
        """Raise wages until per-capita income is at least `floor` (a clean household clears its lines)."""
        if self.pc < floor:
            self.wage += int((floor - self.pc) * self.size) + self.size * 20 + 1


@dataclass
class Village:
    name: str
    stem: str
    code: str
    town: str
    town_code: str


@dataclass
class Cadre:
    name: str
    pid: str
    unit: str
    town: str


@dataclass
class Household:
    hid: int
    registered: bool
    village: Village
    members: list[Person]
    hukou_no: str = ""
    hh_code: str = ""
    hh_type: str = ""
    status: str = "非贫困户"
    identify_year: int | None = None
    exit_year: int | None = None
    main_cause: str = ""
    other_causes: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)
    inc20: Income | None = None
    inc19: Income | None = None
    housing: str = "A"
    water: bool = True
    cadre: Cadre | None = None
    monitor_type: str = ""
    risk: str = ""
    mon_start: str = ""
    risk_elim: str = ""
    ident_dates: dict[str, date | None] = field(default_factory=dict)
    exit_dates: dict[str, date | None] = field(default_factory=dict)
    note: str = ""
    record_date: date | None = None
    visits: list[date] = field(default_factory=list)
    mark: str = ""  # non-registered: dibao / tekun / housing / ""
    # the monitoring export's household columns (2021 on)
    elim_method: str = ""
    contact: str = ""
    contact_phone: str = ""
    phone: str = ""
    guarantee: bool = False
    self_paid: int = 0
    arable: float = 0.0
    forest: float = 0.0

    @property
    def head(self) -> Person:
        return self.members[0]

    @property
    def exited(self) -> bool:
        return self.status == "已脱贫"

    @property
    def edge(self) -> bool:
        """Monitored without ever being registered poor (边缘易致贫户, 突发严重困难户): 户状态 非贫困户."""
        return self.monitor_type in ("边缘易致贫户", "突发严重困难户")

    @property
    def monthly_visits(self) -> bool:
        """Visits the generator gives: monthly for every monitored household (more than required)."""
        return self.status != "已脱贫" or bool(self.monitor_type)

    @property
    def monthly_required(self) -> bool:
        """DESIGN §5: monthly while not exited, or monitored with the risk not eliminated; else quarterly."""
        return self.status != "已脱贫" or (bool(self.monitor_type) and self.risk != "已消除")


@dataclass
class County:
    year: int
    params: dict
    towns: list[tuple[str, str]]
    villages: list[Village]
    households: list[Household]
    cadres: list[Cadre]
    ids: P.IdFactory
    deceased: list[Person] = field(default_factory=list)  # register-only people who died
    outsiders: list[Person] = field(default_factory=list)  # register-only people living elsewhere
    spec: CountySpec = DEFAULT_COUNTY  # name and region codes

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def units(self) -> tuple[str, ...]:
        return tuple(u.format(self.spec.name) for u in UNITS)

    @property
    def ref(self) -> date:
        return date(self.year, 12, 31)

    @property
    def monitoring(self) -> bool:
        """An assessment year of the monitoring era (2021 on): every registered household has exited or
        is monitored, and the system export is the 防返贫监测 export."""
        return self.year >= int(self.params["monitoring_from_year"])

    def registered(self) -> list[Household]:
        return [h for h in self.households if h.registered]


def _weighted(rng: random.Random, table) -> str:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]
