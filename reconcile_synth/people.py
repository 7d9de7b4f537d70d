"""Names, resident ID numbers (GB 11643) and the typing errors made when they are copied.

Everything here draws from a `random.Random` passed in, so a seed fixes every name and ID.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# Region codes (a county's own, where spouses come from, ...) belong to the county: see place.CountySpec.


def check_char(body17: str) -> str:
    total = sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid_id(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return check_char(value[:17]) == value[17]


class IdFactory:
    """Issues unique valid IDs; every ID ever issued is remembered so none is reused."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, region: str, birth: date, male: bool) -> str:
        stem = region + birth.strftime("%Y%m%d")
        for _ in range(2000):
            seq = self.rng.randrange(1, 500) * 2 - (1 if male else 0)  # odd = male
            body = f"{stem}{seq:03d}"
            pid = body + check_char(body)
            if pid not in self.used:
                self.used.add(pid)
                return pid
        raise RuntimeError(f"no free sequence for {stem}")

    def sibling(self, pid: str) -> str:
        """A different valid ID with the same region, birth date and sex (a wrong but valid number)."""
        birth = date(int(pid[6:10]), int(pid[10:12]), int(pid[12:14]))
        return self.make(pid[:6], birth, int(pid[16]) % 2 == 1)

    def reserve(self, pid: str) -> None:
        self.used.add(pid)


# Surnames with rough relative frequencies (national top names, Hunan-leaning).
SURNAMES = (
    ("李", 74), ("王", 72), ("张", 70), ("刘", 64), ("陈", 62), ("杨", 45), ("黄", 40), ("赵", 28),
    ("周", 33), ("吴", 28), ("徐", 20), ("孙", 15), ("胡", 22), ("朱", 18), ("高", 12), ("林", 14),
    ("何", 16), ("郭", 12), ("罗", 20), ("梁", 8), ("宋", 8), ("郑", 9), ("谢", 14), ("唐", 16),
    ("冯", 6), ("邓", 14), ("许", 8), ("彭", 15), ("曾", 12), ("肖", 13), ("蒋", 10), ("袁", 9),
    ("丁", 5), ("魏", 5), ("叶", 7), ("余", 9), ("潘", 6), ("杜", 5), ("戴", 6), ("夏", 5),
    ("钟", 6), ("汪", 5), ("田", 6), ("任", 4), ("姜", 4), ("范", 4), ("方", 5), ("石", 5),
    ("姚", 4), ("谭", 10), ("廖", 8), ("邹", 7), ("熊", 6), ("金", 3), ("陆", 3), ("毛", 5),
    ("易", 6), ("龙", 5), ("万", 3), ("段", 3), ("雷", 4), ("汤", 5), ("尹", 4), ("黎", 5),
    ("常", 2), ("文", 4), ("贺", 5), ("龚", 4), ("左", 3), ("单", 1), ("区", 1), ("仇", 1),
)
_SURNAME_LIST = [s for s, _ in SURNAMES]
_SURNAME_W = [w for _, w in SURNAMES]

MALE_CHARS = "伟强军平刚勇峰波建国志文春海华明辉斌杰涛磊鹏超俊飞新德福贵荣生清林宇浩云龙祥胜"
FEMALE_CHARS = "芳红英兰秀梅丽敏静玲燕霞娟婷云珍凤莲菊玉琴香桂华春清琳雪佳欣月"
# Characters outside GBK: a name carrying one must survive GB18030 files.
RARE_CHARS = "䶮𠀀"

# Homophones and look-alike characters, as typed from a paper booklet (李明华 → 李明化).
TYPO_MAP: dict[str, str] = {
    "伟": "玮炜", "强": "蔷墙", "军": "君均", "平": "萍坪", "刚": "钢岗", "勇": "永咏", "峰": "锋丰",
    "波": "博泊", "建": "健剑", "国": "帼果", "志": "智治", "文": "雯闻", "春": "椿纯", "海": "亥",
    "华": "化花", "明": "名鸣", "辉": "晖徽", "斌": "彬滨", "杰": "洁捷", "涛": "滔韬", "磊": "垒",
    "鹏": "朋蓬", "超": "潮朝", "俊": "骏峻", "飞": "菲非", "新": "欣鑫", "德": "得", "福": "富甫",
    "贵": "桂", "荣": "蓉容", "生": "升声", "清": "青卿", "林": "琳霖", "宇": "雨羽", "浩": "皓昊",
    "云": "芸耘", "龙": "隆", "祥": "翔样", "胜": "圣盛", "芳": "方放", "红": "洪宏", "英": "莹瑛",
    "兰": "岚蓝", "秀": "绣", "梅": "玫媚", "丽": "莉利", "敏": "闵珉", "静": "靖婧", "玲": "铃龄",
    "燕": "艳雁", "霞": "侠", "娟": "鹃绢", "婷": "亭庭", "珍": "真贞", "凤": "风奉", "莲": "连涟",
    "菊": "桔", "玉": "钰王", "琴": "勤芹", "香": "湘", "桂": "贵", "琳": "林霖", "雪": "雷", "佳": "嘉家",
    "欣": "新鑫", "月": "悦",
}

UYGHUR_MALE = ("买买提", "阿不都", "艾力", "吐尔逊", "热合曼", "努尔")
UYGHUR_FEMALE = ("阿依古丽", "古丽米拉", "帕提古丽", "热依拉", "阿娜尔")
UYGHUR_FATHER = ("买买提", "吐尔逊", "艾合买提", "热合曼", "阿不拉")


def surname(rng: random.Random) -> str:
    return rng.choices(_SURNAME_LIST, _SURNAME_W)[0]


def given_name(rng: random.Random, male: bool, generation: str | None = None) -> str:
    pool = MALE_CHARS if male else FEMALE_CHARS
    if generation is not None:
        return generation + rng.choice(pool)
    if rng.random() < 0.18:
        return rng.choice(pool)
    first = rng.choice(pool)
    if rng.random() < 0.005:
        return first + rng.choice(RARE_CHARS)
    return first + rng.choice(pool)


def full_name(rng: random.Random, sname: str, male: bool, generation: str | None = None) -> str:
    return sname + given_name(rng, male, generation)


def uyghur_name(rng: random.Random, male: bool) -> str:
    own = rng.choice(UYGHUR_MALE if male else UYGHUR_FEMALE)
    return f"{own}·{rng.choice(UYGHUR_FATHER)}"


def misspell(rng: random.Random, name: str) -> str:
    """The name with one given-name character swapped for a homophone or look-alike."""
    if "·" in name:
        return name
    positions = [i for i in range(1, len(name)) if name[i] in TYPO_MAP]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + rng.choice(TYPO_MAP[name[i]]) + name[i + 1:]


def typo_id(rng: random.Random, pid: str) -> str:
    """One mistyped digit, chosen so the check character no longer fits."""
    for _ in range(100):
        pos = rng.randrange(0, 17)
        digit = str((int(pid[pos]) + rng.randrange(1, 10)) % 10)
        out = pid[:pos] + digit + pid[pos + 1:]
        if check_char(out[:17]) != out[17]:
            return out
    return pid[:17] + ("0" if pid[17] != "0" else "1")


def excel_number(pid: str) -> float:
    """What Excel keeps of an ID typed as a number: 15 significant digits, the rest zeros."""
    return float(int(pid[:15]) * 1000)


def sci_text(pid: str) -> str:
    """The ID as Excel shows a numeric cell in General format, saved to CSV: '4.30624E+17'."""
    return f"{float(pid):.5E}"


def random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def age_at(birth: date, when: date) -> int:
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))
