"""Township and village names.

Village names are the blocking key of household linkage (DESIGN §6), and every source spells them
differently: 大田村 / 大田村委会 / 大田村民委员会 / 大田 / 城关镇大田村. ``village_key`` reduces
them all to the core name; ``normalize_village`` gives one display form.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ._text import squeeze

# Longest first, so that 村民委员会 is not read as 村民委员会 minus 会.
_VILLAGE_SUFFIXES = (
    "社区居民委员会", "社区居委会", "村民委员会", "居民委员会", "村委会", "居委会", "社区", "村委", "村",
)
_COMMUNITY_SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "社区")
# Township names have at least two characters before 镇/乡/街道; a shorter match is usually part of
# a village name (古镇口村, 龙乡坪村).
_TOWNSHIP_PREFIX = re.compile(r"(.{2,}?(?:镇|乡|街道))(.+)")
_TOWNSHIP_NOISE = ("人民政府", "政府", "街道办事处", "办事处", "街道办")
_TOWNSHIP_ENDINGS = ("镇", "乡", "街道")
# A township written with its county in front (湘阴县东塘镇, 某某自治县城关镇): the county is the run's, not part
# of the township's name. At least two characters stay before 镇/乡/街道 (高新区街道 is kept whole).
_COUNTY_IN_FRONT = re.compile(r"^(?:.{1,8}?(?:自治县|自治旗|县|旗|市|区))(.{2,}?(?:镇|乡|街道))$")


@lru_cache(maxsize=1 << 16)
def _normalize_township(raw: str) -> str | None:
    text = squeeze(raw)
    for noise in _TOWNSHIP_NOISE:
        if text.endswith(noise) and len(text) > len(noise):
            text = text[: -len(noise)]
            # "东城办事处" is the office of 东城街道; keep the level so it matches the plain name.
            if noise in ("街道办事处", "办事处", "街道办") and not text.endswith(_TOWNSHIP_ENDINGS):
                text += "街道"
            break
    while county := _COUNTY_IN_FRONT.match(text):  # 永州市冷水滩区梅湾街道: city, then district
        text = county.group(1)
    return text or None


def normalize_township(raw: str | None) -> str | None:
    if raw is None:
        return None
    return _normalize_township(raw if isinstance(raw, str) else str(raw))


def _strip_suffixes(text: str, keep_one: bool) -> str:
    """Drop village-level suffixes repeatedly; with ``keep_one`` never return an empty string."""
    while True:
        for suffix in _VILLAGE_SUFFIXES:
            if text.endswith(suffix):
                shorter = text[: -len(suffix)]
                if shorter or not keep_one:
                    text = shorter
                    break
        else:
            return text
        if not text:
            return text


def _drop_township(text: str, township: str | None) -> str:
    # A prefix only counts as a township when a real village name follows it: 新乡村 is a village.
    if township and text.startswith(township) and _strip_suffixes(text[len(township):], False):
        return text[len(township):]
    match = _TOWNSHIP_PREFIX.fullmatch(text)
    if match and _strip_suffixes(match.group(2), False):
        return match.group(2)
    return text


@lru_cache(maxsize=1 << 16)
def _village_key(raw: str, township: str | None) -> str | None:
    text = squeeze(raw)
    # Each pass only shortens the text, and iterating to a fixed point makes the key idempotent.
    while text:
        shorter = _strip_suffixes(_drop_township(text, township), True)
        if shorter == text:
            break
        text = shorter
    return text or None


def village_key(raw: str | None, township: str | None = None) -> str | None:
    """The core village name used for blocking; None for an empty cell."""
    if raw is None:
        return None
    return _village_key(raw if isinstance(raw, str) else str(raw), normalize_township(township))


def normalize_village(raw: str | None, township: str | None = None) -> str | None:
    """Display form: the core name + 社区 for a 社区/居委会, + 村 otherwise (大田村委会 -> 大田村)."""
    key = village_key(raw, township)
    if key is None:
        return None
    text = squeeze(raw if isinstance(raw, str) else str(raw))
    suffix = "社区" if text.endswith(_COMMUNITY_SUFFIXES) else "村"
    return key if key.endswith(suffix) else key + suffix
