"""Who a generated county is: its name, its region codes, its townships.

Index 0 is the bundled sample county (湖南省岳阳市湘阴县, 430624, with real neighbouring codes).
Index k ≥ 1 is a fictitious county of a simulated province whose every region code — its own, the
pool of places spouses married in from, the Xinjiang pool and the pool of helpers' birthplaces —
belongs to it alone, so ID numbers (region + birth date + sequence), 户编号 (region + town + village
+ serial) and 户号 (prefixed with the region) of counties generated independently, with any seeds,
never collide.

Codes of county k are `PP` + slot + `kkk` (k on three digits, so k ≤ 999): PP a valid province code
(ID validation checks only the province), slot a digit telling the code's role. The sample county's
codes all have 0–3 after the province (430624, 360424, 653101, …) and PP 36/42/65 only with 0–3, so
slots 4–9 can never meet them; within a county, (PP, slot) pairs are distinct.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

MAX_INDEX = 999

_SAMPLE_OTHERS = (
    "430621", "430626", "430681", "430682", "430623", "430602", "430103", "430922",
    "360424", "420621", "431021", "430521",
)
_SAMPLE_XINJIANG = ("653101", "650102", "652901")
_SAMPLE_CADRE = ("430602", "430103", "430621")
_SAMPLE_TOWNS = (("文星镇", "101"), ("南湖洲镇", "102"), ("东塘镇", "103"), ("新泉镇", "104"), ("岭北镇", "105"))

# (province, slot) of each role for k ≥ 1
_HOME = ("43", "5")
_OTHERS = (("43", "4"), ("43", "6"), ("43", "9"), ("43", "8"), ("36", "5"), ("42", "5"), ("44", "5"),
           ("45", "5"), ("50", "5"), ("51", "5"), ("52", "5"), ("35", "5"))
_XINJIANG = (("65", "5"), ("65", "6"), ("65", "7"))
_CADRE = (("43", "7"), ("43", "8"), ("43", "6"))

# Fictitious names: two characters from these lists (+ 县 / 市); some pairs exist somewhere in China,
# as they would in any made-up list, but no county of the simulated province is meant to be real.
_FIRST = "安宝昌常崇丹德东丰福高广海和华嘉江金靖乐临龙隆罗明南宁平清庆瑞"
_SECOND = "安昌川丰冈谷河湖华江津康乐林陵宁平浦桥泉山水顺台潭溪阳源岳云州兴城通"
TOWN_STEMS = (
    "城关", "长乐", "金龙", "白沙", "清水", "高桥", "石门", "龙潭", "太平", "永和", "黄土", "杨林", "花桥", "双峰",
    "马头", "青树", "平安", "水口", "乌石", "大坪", "铁山", "福田", "三塘", "坪上", "桥头", "洪山", "新市", "东山",
    "西河", "合兴", "梅林", "牛形", "金盆", "茶园", "观音", "樟木", "云溪", "古城", "横塘", "柳林",
)


def _code(prov_slot: tuple[str, str], index: int) -> str:
    return f"{prov_slot[0]}{prov_slot[1]}{index:03d}"


@cache
def _names(suffix: str, salt: str) -> tuple[str, ...]:
    pairs = [a + b for a in _FIRST for b in _SECOND if a != b]
    random.Random(salt).shuffle(pairs)
    return tuple(p + suffix for p in pairs)


def county_name(index: int) -> str:
    """The fictitious name of county `index` ≥ 1 of the simulated province (distinct for every index)."""
    return _names("县", "county-names")[index - 1]


def city_name(index: int) -> str:
    """Eight counties to a prefecture-level city."""
    return _names("市", "city-names")[(index - 1) // 8]


@dataclass(frozen=True)
class CountySpec:
    """A county's identity. `code` is derived from `index` when left empty (and must match it otherwise);
    `province` and `city` default to 湖南省/岳阳市 for index 0 and 模拟省/a made-up city otherwise."""

    index: int
    name: str
    code: str = ""
    province: str = ""
    city: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_INDEX:
            raise ValueError(f"county index must be 0..{MAX_INDEX}, got {self.index}")
        expected = "430624" if self.index == 0 else _code(_HOME, self.index)
        if not self.code:
            object.__setattr__(self, "code", expected)
        elif self.code != expected:
            raise ValueError(f"county {self.index} has region code {expected}, not {self.code}")
        if not self.province:
            object.__setattr__(self, "province", "湖南省" if self.index == 0 else "模拟省")
        if not self.city:
            object.__setattr__(self, "city", "岳阳市" if self.index == 0 else city_name(self.index))

    @classmethod
    def of(cls, index: int) -> CountySpec:
        """County `index` of the simulated province (0: the sample county)."""
        return DEFAULT_COUNTY if index == 0 else cls(index, county_name(index))

    @property
    def folder(self) -> str:
        return f"{self.code}_{self.name}"

    @property
    def others(self) -> tuple[str, ...]:
        """Region codes of people who married in or moved in from elsewhere."""
        return _SAMPLE_OTHERS if self.index == 0 else tuple(_code(r, self.index) for r in _OTHERS)

    @property
    def xinjiang(self) -> tuple[str, ...]:
        return _SAMPLE_XINJIANG if self.index == 0 else tuple(_code(r, self.index) for r in _XINJIANG)

    @property
    def cadre_regions(self) -> tuple[str, ...]:
        """Birthplaces of helpers not born in the county."""
        return _SAMPLE_CADRE if self.index == 0 else tuple(_code(r, self.index) for r in _CADRE)

    @property
    def all_regions(self) -> frozenset[str]:
        return frozenset((self.code, *self.others, *self.xinjiang, *self.cadre_regions))

    def hukou_prefix(self) -> str:
        """Prefix of every 户号: none in the sample county, the region code elsewhere."""
        return "" if self.index == 0 else self.code

    def towns(self, n: int) -> list[tuple[str, str]]:
        """The first `n` townships (name, 3-digit code); a county's townships depend on its index only."""
        if self.index == 0:
            return list(_SAMPLE_TOWNS[:n])
        stems = random.Random(f"towns:{self.code}").sample(TOWN_STEMS, min(n, len(TOWN_STEMS)))
        return [(stem + ("乡" if i % 4 == 3 else "镇"), f"{101 + i}") for i, stem in enumerate(stems)]


DEFAULT_COUNTY = CountySpec(0, "湘阴县", "430624", "湖南省", "岳阳市")
