"""Person names: one spelling per person across sources, without losing minority-name dots."""

from __future__ import annotations

import re
from functools import lru_cache

from ._text import squeeze

# Minority names (买买提·吐尔逊) are typed with whatever dot the keyboard offers; all mean U+00B7.
_DOT_VARIANTS = re.compile("[\u2022\u2027\u30fb\uff65\u2219\u22c5\u0387\u16eb\u2e31\u00b7]")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_ASCII_DOT_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\.(?=[{_CJK}])")
_DIGITS = re.compile(r"[0-9]")
_LATIN = re.compile(r"[A-Za-z]")


def _one_pass(text: str) -> str:
    text = squeeze(text)
    text = _DOT_VARIANTS.sub("\u00b7", text)
    return _ASCII_DOT_BETWEEN_CJK.sub("\u00b7", text)


@lru_cache(maxsize=1 << 18)
def _normalize_name(raw: str) -> str | None:
    # Removing a space can bring a base letter next to a combining mark that NFKC then composes, so
    # iterate to a fixed point: the result must be stable when normalised again.
    text = _one_pass(raw)
    for _ in range(8):
        again = _one_pass(text)
        if again == text:
            break
        text = again
    return text or None


def normalize_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    return _normalize_name(raw if isinstance(raw, str) else str(raw))


def name_problem(raw: object) -> str | None:
    """Why a name cell looks like something other than a name, or None."""
    name = normalize_name(raw if raw is None or isinstance(raw, str) else str(raw))
    if name is None:
        return None
    if _DIGITS.search(name):
        return "name_has_digits"
    if _LATIN.search(name):
        return "name_has_latin"
    return None
