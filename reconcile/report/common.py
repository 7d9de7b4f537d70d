"""Shared pieces of the people-facing reports: labels, ID masking, evidence columns, column widths."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, lru_cache
from typing import cast

import polars as pl

from ..check.packs import kinds
from ..normalize.vector import map_unique
from ..schema import REGISTER_KIND_LABELS, ROLE_LABELS, source_labels
from .labels import (
    SEVERITY_LABELS as SEVERITY_LABELS,  # re-exported: the reports import their words from here
)
from .labels import people_key

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
STATUS_LABELS = {"new": "新发现", "open": "未整改", "reopened": "重新出现", "in_progress": "整改中",
                 "verified": "核实无误", "resolved": "已销号"}

# 表3 (督查发现问题汇总表) rows: category, sub-row; kinds.csv categories map onto them.
TABLE3_ROWS: list[tuple[str, str | None]] = [
    ("精准识别(漏评)", None),
    ("精准帮扶", "措施制定"),
    ("精准帮扶", "项目实施"),
    ("精准帮扶", "资金使用"),
    ("精准帮扶", "政策保障"),
    ("精准帮扶", "驻村帮扶"),
    ("精准脱贫(错退)", None),
    ("其他(资料、档案)", None),
]


def table3_row(category: str | None) -> tuple[str, str | None]:
    """kinds.csv category (e.g. 精准帮扶(措施制定), 其他(资料档案)) → (表3 category, sub-row)."""
    text = (category or "").replace("（", "(").replace("）", ")")
    for main, sub in TABLE3_ROWS:
        if sub and text == f"{main}({sub})":
            return main, sub
    if text.startswith("精准识别"):
        return "精准识别(漏评)", None
    if text.startswith("精准脱贫"):
        return "精准脱贫(错退)", None
    if text.startswith("精准帮扶"):
        return "精准帮扶", "措施制定"
    return "其他(资料、档案)", None


@cache
def kind_titles() -> dict[str, str]:
    return {k: v.title for k, v in kinds().items()}


@cache
def kind_order() -> dict[str, int]:
    return {k: i for i, k in enumerate(kinds())}


def evidence_label(key: str, sources: dict[str, str]) -> str:
    """An evidence key as people read it (`sources`: source key → role)."""
    return evidence_labeller(sources)(key)


def evidence_labeller(sources: dict[str, str]) -> Callable[[str], str]:
    """`evidence_label` for one configuration, each key worked out once: a findings sheet repeats a few dozen keys
    in every finding, so a loop over findings takes this once rather than calling `evidence_label`."""
    return _evidence_labeller(tuple(sorted(sources.items())))


# ---- ID masking (DESIGN §5: first 6 + last 4 digits shown) -------------------------------------

# Anything that looks like an ID number, valid or not: a run of 15–18 digits (the last may be X) — an ID, an old
# 15-digit one, one with a digit lost or a typo, an impossible birth date, an Excel-damaged one (430624199503144000)
# — and an ID with one or two digits appended (a 残疾人证号 typed into the ID column) when its birth date is
# plausible. 户编号 (19 digits, no birth date inside) and 人口编号 (21) stay readable.
_ID_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{14,17}[0-9Xx]"
    r"|\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]\d{1,2})"
    r"(?![0-9A-Za-z])"
)


def mask_id(value: str | None) -> str | None:
    """430624196907194917 → 430624********4917; values of 10 characters or fewer are left alone."""
    if value is None:
        return None
    text = str(value)
    if len(text) <= 10:
        return text
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def _mask_match(m: re.Match) -> str:
    whole = m.group(0)
    return mask_id(whole) or whole


def mask_text(value: str | None) -> str | None:
    """Mask every ID-like number inside free text (see `_ID_IN_TEXT`), valid or not."""
    if not value:
        return value
    return _ID_IN_TEXT.sub(_mask_match, value)


def mask_text_series(values: pl.Series) -> pl.Series:
    """`mask_text` over a column. Every pattern of `_ID_IN_TEXT` holds a run of 14 digits, so only the cells with
    one (a few in a hundred findings' messages) go through the regex; the rest are kept as they are."""
    text = values.cast(pl.String)
    suspect = text.str.contains(r"\d{14}").fill_null(False)
    if not suspect.any():
        return text
    rows = suspect.arg_true()
    return text.scatter(rows, pl.Series([mask_text(v) for v in text.gather(rows).to_list()], dtype=pl.String))


def mask_id_series(values: pl.Series) -> pl.Series:
    """`mask_id` over a column, once per distinct value."""
    return map_unique(values.cast(pl.String), mask_id, return_dtype=pl.String).alias(values.name)


def mask_id_expr(col: str) -> pl.Expr:
    return pl.col(col).map_batches(mask_id_series, return_dtype=pl.String).alias(col)


def mask_text_expr(col: str) -> pl.Expr:
    return pl.col(col).map_batches(mask_text_series, return_dtype=pl.String).alias(col)


ID_COLUMNS = ("head_id", "person_id", "id_number", "cadre_id")


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame fit to show people: ID columns (head_id, person_id, id_number, cadre_id and their
    `<name>_<source>` variants) masked whole, ID numbers inside every other text column masked in place."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        whole = any(name == c or name.startswith(c + "_") for c in ID_COLUMNS)
        exprs.append(mask_id_expr(name) if whole else mask_text_expr(name))
    return frame.with_columns(exprs) if exprs and frame.height else frame


# ---- evidence JSON → one text per source -------------------------------------------------------

def _scalar(value: object, show_ids: bool, labels: dict[str, str], key_label: Callable[[str], str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    if isinstance(value, list):
        return "、".join(_scalar(v, show_ids, labels, key_label) for v in value)
    if isinstance(value, dict):  # nested keys are sources, registers or parameters: each in its people's word
        return "; ".join(f"{key_label(str(k))}: {_scalar(v, show_ids, labels, key_label)}" for k, v in value.items())
    text = str(value)
    if text in labels:
        return labels[text]
    if "," in text:
        parts = text.split(",")
        if all(p in labels for p in parts):  # "manual,system": the sources that said it
            return "、".join(labels[p] for p in parts)
    return text if show_ids else (mask_text(text) or "")


def evidence_parts(evidence: str | None, show_ids: bool = False,
                   sources: dict[str, str] | None = None) -> dict[str, str]:
    """`{"system": "2", "hukou": {"户号": …}}` → {"system": "2", "hukou": "户号: …"}: top-level keys stay (the
    caller lays them out by source), everything inside reads in Chinese (`sources`: source key → role).
    The result is shared between the sheets that show one finding: do not change it."""
    if not evidence:
        return {}
    return _evidence_parts(evidence, show_ids, tuple(sorted((sources or {}).items())))


@lru_cache(maxsize=1 << 16)  # 问题台账 and its print view read each finding's evidence: parse it once
def _evidence_parts(evidence: str, show_ids: bool, sources: tuple[tuple[str, str], ...]) -> dict[str, str]:
    labels, key_label = _evidence_labels(sources), _evidence_labeller(sources)
    try:
        data = json.loads(evidence)
    except (TypeError, ValueError):
        return {"": evidence if show_ids else (mask_text(evidence) or "")}
    if not isinstance(data, dict):
        return {"": _scalar(data, show_ids, labels, key_label)}
    return {str(k): _scalar(v, show_ids, labels, key_label) for k, v in data.items()}


@lru_cache(maxsize=64)
def _evidence_labels(sources: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {**ROLE_LABELS, **source_labels(dict(sources))}


@lru_cache(maxsize=64)
def _evidence_labeller(sources: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    labels = source_labels(dict(sources))
    return lru_cache(maxsize=4096)(lambda key: people_key(key, labels))


def evidence_keys(evidence: pl.Series, sources: dict[str, str]) -> list[str]:
    """Evidence keys in display order: configured sources first (by role), then registers, then others."""
    seen: dict[str, None] = {}
    for text in evidence.drop_nulls().unique().to_list():
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict):
            for key in data:
                seen.setdefault(str(key), None)
    source_order = [k for k in sources if k in seen]
    registers = sorted(k for k in seen if k in REGISTER_KIND_LABELS and k not in sources)
    others = sorted(k for k in seen if k not in sources and k not in REGISTER_KIND_LABELS)
    return source_order + registers + others


# ---- column widths (CJK = 2) -------------------------------------------------------------------

def text_width(text: object) -> int:
    s = "" if text is None else str(text)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def display_width(text: pl.Expr) -> pl.Expr:
    """Each text's width on screen, a CJK character counted twice: UTF-8 stores ASCII in 1 byte and CJK in 3, so
    chars + (bytes - chars) / 2."""
    return text.str.len_chars() + (text.str.len_bytes() - text.str.len_chars()) // 2


def column_widths(frame: pl.DataFrame, headers: list[str], minimum: int = 4, maximum: int = 50) -> list[float]:
    """Display width per column: the widest cell (CJK counted twice), clamped; computed column-wise in polars."""
    widths = []
    for name, header in zip(frame.columns, headers, strict=True):
        col = frame[name].cast(pl.String).fill_null("")
        if col.len():
            # a count column: its max is an int (the stubs type Series.max as any Python literal)
            w = cast(int, col.to_frame().select(display_width(pl.col(name)).max()).item() or 0)
        else:
            w = 0
        widths.append(float(min(maximum, max(minimum, int(w), text_width(header))) + 2))
    return widths


def township_with_county(frame: pl.DataFrame) -> pl.DataFrame:
    """In a province's own reports a township is read with its county in front (安州县梅林镇): township names
    repeat across counties, and every table and sheet groups by township. The run's tables keep the two apart
    (`county`, `township`); a county's cut takes the county off again (`for_county`)."""
    if "county" not in frame.columns or "township" not in frame.columns:
        return frame
    return frame.with_columns(
        pl.when(pl.col("county").is_not_null())
        .then(pl.concat_str(pl.col("county"), pl.col("township").fill_null("")))
        .otherwise(pl.col("township")).alias("township"))
