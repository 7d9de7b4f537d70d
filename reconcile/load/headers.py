"""Header rows and header names: find the header in a sheet, name columns, map names to fields.

Two jobs live here because both are about what a column is called:

- `find_header` / `finalize_names`: locate the header row(s) above the data in a raw grid (title
  rows, two-row merged headers) and turn them into unique column names;
- `suggest_mapping` / `normalize_header` / `nearest`: map raw header names onto canonical fields
  (DESIGN §3) from the built-in synonyms in synonyms.yaml, for `profile: auto`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")

# Units that forms append to a header and that do not change what the column is.
_UNIT = r"(?:元|万元|人|口|户|个|亩|岁|次|平方米|㎡|m2|元/人|元/年|元/人/年|元/月|人/户)"
_TRAILING_UNIT = re.compile(rf"(?:\({_UNIT}\)|\[{_UNIT}\]|/{_UNIT})$")
_SPACE = re.compile(r"\s+")


def normalize_header(h: str) -> str:
    """The form headers are compared in: NFKC, no whitespace or line breaks, no trailing unit.

    NFKC turns full-width brackets, letters and digits into ASCII, so "（元）" and "(元)" are one
    thing; people type both. A leading/trailing "*" (required-field marker on templates) is dropped.
    """
    s = unicodedata.normalize("NFKC", str(h or ""))
    s = _SPACE.sub("", s).strip("*")
    s = _TRAILING_UNIT.sub("", s)
    return s.casefold()


@cache
def _synonym_index() -> dict[str, tuple[str, ...]]:
    """normalized spelling -> canonical fields in file order (first one that fits wins)."""
    raw = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8")) or {}
    index: dict[str, list[str]] = {}
    for field, spellings in raw.items():
        for spelling in [field, *(spellings or [])]:
            fields = index.setdefault(normalize_header(str(spelling)), [])
            if field not in fields:
                fields.append(field)
    return {key: tuple(fields) for key, fields in index.items()}


def synonyms() -> dict[str, list[str]]:
    """The built-in synonyms as written in synonyms.yaml (canonical field -> spellings)."""
    raw = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8")) or {}
    return {str(k): [str(s) for s in (v or [])] for k, v in raw.items()}


def header_keys(h: str) -> list[str]:
    """Spellings to try for one header, most specific first.

    A joined two-row header "户主_证件号码" should be head_id (try it without the "_"), and
    "家庭收入_工资性收入" should be income_wage (fall back to the lowest header cell).
    """
    norm = normalize_header(h)
    keys = [norm]
    if "_" in norm:
        keys.append(norm.replace("_", ""))
        keys.append(normalize_header(h.rsplit("_", 1)[-1]))
    return keys


def suggest_mapping(headers: list[str], targets: Iterable[str]) -> dict[str, str]:
    """raw header -> canonical field for the headers the built-in synonyms recognise.

    Only fields in `targets` are returned, each at most once: the first header (in file order) that
    matches a field takes it. Matching is exact after normalisation; fuzzy guesses are left to the
    person writing `columns:` (a wrong automatic mapping is worse than a missing one).
    """
    allowed = set(targets)
    index = _synonym_index()
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        for key in header_keys(header):
            field = next((f for f in index.get(key, ()) if f in allowed and f not in used), None)
            if field is not None:
                mapping[header] = field
                used.add(field)
                break
    return mapping


def spellings_for(fields: Iterable[str]) -> list[str]:
    """Every built-in spelling of these canonical fields, e.g. to pass as `text_sensitive` when the
    mapping is not known before the file is read (profile: auto)."""
    wanted = set(fields)
    return [s for field, spellings in synonyms().items() if field in wanted for s in spellings]


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, for "您是不是指 …" hints; None when nothing is close."""
    pool = list(dict.fromkeys(candidates))
    if not pool:
        return None
    folded = {c.casefold(): c for c in pool}
    hit = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.5)
    if hit:
        return folded[hit[0]]
    # Chinese labels are short, so compare normalised headers too ("身份证号码" vs "身份证号").
    norm = {normalize_header(c): c for c in pool}
    hit = difflib.get_close_matches(normalize_header(word), list(norm), n=1, cutoff=0.5)
    return norm[hit[0]] if hit else None


# ---- locating the header in a raw grid ----------------------------------------------------------

Cell = str | None


@dataclass(frozen=True)
class HeaderLayout:
    names: list[str | None]  # one per column: joined header text, None where the header is blank
    header_row: int  # 0-based index in the grid of the last header row; -1 when there is none
    data_start: int  # 0-based index of the first data row


def _filled(cell: Cell) -> bool:
    return cell is not None and cell.strip() != ""


def _count(row: Sequence[Cell]) -> int:
    return sum(1 for c in row if _filled(c))


def clean_header_cell(cell: Cell) -> str | None:
    """Header text as a person reads it: trimmed, line breaks of wrapped cells removed."""
    if not _filled(cell):
        return None
    return re.sub(r"\s*[\r\n]+\s*", "", str(cell)).strip()


def _is_sub_header(top: Sequence[Cell], below: Sequence[Cell]) -> bool:
    """Is `below` the second row of a merged two-row header under `top`?

    True when some blank top cells (the tail of a horizontally merged parent such as "家庭收入")
    have text below them, and every single-column top header has nothing (or itself) below it
    (vertically merged cells such as "姓名"). A data row is virtually never blank under every
    single-column header, so this does not swallow data.
    """
    n = max(len(top), len(below))
    up = [clean_header_cell(c) for c in top] + [None] * (n - len(top))
    low = [clean_header_cell(c) for c in below] + [None] * (n - len(below))
    if not any(up) or not any(low):
        return False
    # cont[j]: top cell j continues the parent on its left — blank (merged) or, in exports that
    # unmerge before saving, a repeat of the parent's text.
    cont = [False] * n
    parent: str | None = None
    for j in range(n):
        cont[j] = parent is not None and (up[j] is None or up[j] == parent)
        parent = up[j] or parent
    child_under_merge = False
    for j in range(n):
        if cont[j]:
            child_under_merge = child_under_merge or low[j] is not None
        elif up[j] is None:
            if low[j] is not None:  # text below a blank cell with no parent to its left
                return False
        else:
            group = j + 1 < n and cont[j + 1] and low[j + 1] is not None
            if not group and low[j] is not None and low[j] != up[j]:
                return False
    return child_under_merge


def _join(rows: list[Sequence[Cell]], width: int) -> list[str | None]:
    """Join header rows per column, forward-filling merged parents over their children."""
    grid = [[clean_header_cell(r[j]) if j < len(r) else None for j in range(width)] for r in rows]
    for k in range(len(grid) - 1):
        row = grid[k]
        has_below = [any(grid[m][j] for m in range(k + 1, len(grid))) for j in range(width)]
        for j in range(1, width):
            # A merged cell's value sits in its first column only; carry it right while the
            # columns below it carry sub-headers, and stop at the first column without one.
            if row[j] is None and row[j - 1] is not None and has_below[j] and has_below[j - 1]:
                row[j] = row[j - 1]
    names: list[str | None] = []
    for j in range(width):
        parts: list[str] = []
        for row in grid:
            if row[j] and (not parts or parts[-1] != row[j]):
                parts.append(row[j])
        names.append("_".join(parts) if parts else None)
    return names


def _width(rows: Sequence[Sequence[Cell]]) -> int:
    # Trailing empty fields count: a header line ending in "," has data lines ending in "," too.
    return max((len(r) for r in rows), default=0)


def find_header(
    rows: Sequence[Sequence[Cell]], *, header_rows: int | None = None, skip_rows: int = 0
) -> HeaderLayout | None:
    """Locate the header in the first rows of a grid (cells as text, None when empty).

    header_rows=None (auto): skip empty and title-like rows (at most one non-empty cell, e.g. a
    merged "XX县建档立卡人口信息表"), take the next row as the header and, if the row after it is
    the lower half of a merged two-row header, that row too. header_rows=N: the N rows after
    `skip_rows` are the header block (data starts right below it); empty and title-like rows in
    it are dropped, except the last one, and the rest are joined per column ("家庭收入_工资性收入").
    Returns None when auto mode finds no header row at all.
    """
    # The header decides how many columns there are; longer data rows are the reader's business
    # (ragged CSV lines). Without any header row, the widest row does.
    if header_rows is not None:
        start, end = skip_rows, skip_rows + header_rows
        block = list(rows[start:end])
        keep = [r for k, r in enumerate(block) if k == len(block) - 1 or _count(r) > 1]
        keep = [r for r in keep if _count(r) > 0]
        width = _width(keep) if keep else _width(rows)
        names = _join(keep, width) if keep else [None] * width
        return HeaderLayout(names, end - 1, end)
    i = skip_rows
    wide_after = [False] * (len(rows) + 1)
    for k in range(len(rows) - 1, -1, -1):
        wide_after[k] = wide_after[k + 1] or _count(rows[k]) > 1
    while i < len(rows) and (_count(rows[i]) == 0 or (_count(rows[i]) == 1 and wide_after[i + 1])):
        i += 1
    if i >= len(rows):
        return None
    block = [rows[i]]
    if i + 1 < len(rows) and _is_sub_header(rows[i], rows[i + 1]):
        block.append(rows[i + 1])
        i += 1
    return HeaderLayout(_join(block, _width(block)), i, i + 1)


def finalize_names(
    names: Sequence[str | None], positions: Sequence[int] | None = None, reserved: Iterable[str] = ()
) -> list[str]:
    """Unique column names: blank headers become "列{n}" (n = 1-based column number in the file),
    repeated headers get "_2", "_3" in file order; `reserved` names count as taken."""
    positions = list(positions) if positions is not None else list(range(len(names)))
    taken = set(reserved)
    out: list[str] = []
    for name, pos in zip(names, positions, strict=True):
        base = name if name else f"列{pos + 1}"
        candidate, k = base, 1
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        out.append(candidate)
    return out
