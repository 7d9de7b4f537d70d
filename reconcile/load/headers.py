"""Header rows and header names: find the header in a sheet, name columns, map names to fields.

Two jobs live here because both are about what a column is called:

- `find_header` / `finalize_names`: locate the header row(s) above the data in a raw grid (title
  rows, two-row merged headers) and turn them into unique column names;
- `match_columns` (and `suggest_mapping`, its mapping only), `normalize_header`, `nearest`: map raw
  header names onto canonical fields (DESIGN §3) — the config's `columns:` first, then the built-in
  spellings of synonyms.yaml, then similarity — and say for every header how it was decided.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import fuzz, process

from ..schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, REGISTER_FIELDS, SURVEY_FIELDS, VISIT_FIELDS, Field

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")

# Similarity is rapidfuzz's normalised Indel ratio of the normalised texts, character by character
# (Chinese has no word boundaries to tokenise on), and only between texts that agree on every
# `distinct` group of synonyms.yaml. The two thresholds were set on the variants and near misses
# of tests/unit/test_headers.py. A wrong automatic mapping is worse than a missing one, because a
# wrong column gives findings that look real; a missing one is listed and can be added in a line.
#
# Mapped without asking: variants that survive normalisation score 0.86-0.92 (工资收入 ≈ 工资性收入
# 0.89, 生产经营收入 ≈ 生产经营性收入 0.92, 明白卡上人口 ≈ 明白卡人口 0.91); the closest pairs the
# `distinct` groups let through that may be different columns score 0.80 (户号 ≈ 户编号, 县级公示日期
# ≈ 县级公告日期, 脱贫户属性 ≈ 贫困户属性), so the line sits between them and those are asked.
SIMILAR_THRESHOLD = 0.85
# 致贫/返贫风险1 … 5, 风险类型1 …, 返贫致贫风险2 … as normalize_header leaves them (brackets and slashes kept or not)
_NUMBERED_RISK = re.compile(r"(?:致贫/?返贫|返贫/?致贫|致贫返贫|返贫致贫)?风险(?:类型)?([1-9])")
# Worth a question (proposed, not mapped) from here: 劳动力状况 ≈ 劳动能力 0.67, 人口编码 ≈ 人口编号 0.75.
# Below it the pairs seen are different columns (注销日期 ≈ 死亡日期 0.5, 低保证号 ≈ 低保类别 0.5): a
# question about them would teach people to click "yes" without reading.
PROPOSE_THRESHOLD = 0.6

STATUSES = ("explicit", "synonym", "similar", "proposed", "extra")
MAPPED = frozenset({"explicit", "synonym", "similar"})


# ---- the rules of synonyms.yaml --------------------------------------------------------------------

@dataclass(frozen=True)
class _Rules:
    drop: re.Pattern[str]  # bracket content dropped with its brackets (a unit or a qualifier)
    rewrite: tuple[tuple[re.Pattern[str], str], ...]
    distinct: tuple[tuple[str, re.Pattern[str]], ...]  # ("group#label", pattern) for every group's words
    not_mapped: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]


def _read_synonyms_file() -> dict:
    # the C loader reads this file in 7 ms, the pure-Python one in 160 ms (once per process)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SYNONYMS_FILE.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 (safe loader)


@cache
def _rules() -> _Rules:
    raw = _read_synonyms_file()
    norm = raw.get("normalise") or {}
    drop = "|".join(f"(?:{alt})" for alt in [*norm.get("unit", []), *norm.get("qualifier", [])])
    return _Rules(
        drop=re.compile(drop or r"(?!)"),
        rewrite=tuple((re.compile(pattern), repl) for pattern, repl in norm.get("rewrite", [])),
        distinct=tuple((f"{k}#{label}", re.compile(rx)) for k, group in enumerate(raw.get("distinct", []))
                       for label, rx in group.items()),
        not_mapped=tuple(str(s) for s in raw.get("not_mapped", [])),
        fields={str(k): tuple(str(s) for s in (v or [])) for k, v in (raw.get("fields") or {}).items()},
    )


# ---- normalisation -----------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff*※★☆]+")
_OPENING, _CLOSING = "[{<【〔〖《〈「『〘〚", "]}>】〕〗》〉」』〙〛"
_BRACKETS = str.maketrans(_OPENING + _CLOSING, "(" * len(_OPENING) + ")" * len(_CLOSING))
_GROUP = re.compile(r"\(([^()]*)\)")
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=16384)
def normalize_header(h: str) -> str:
    """The form headers and `columns:` keys are compared in (the steps are in synonyms.yaml).

    "家庭人口数（人）", "家 庭\\n人口数" and "*家庭人口数" are one header; so are "身份证号码",
    "公民身份号码" and "证件号码", "乡公示时间" and "乡镇公示日期", "村委会" and "村名".
    """
    rules = _rules()
    s = unicodedata.normalize("NFKC", str(h or "")).casefold()
    s = _INVISIBLE.sub("", s).translate(_BRACKETS)
    s = _GROUP.sub(lambda m: "" if rules.drop.fullmatch(m[1]) else m[0], s)
    for pattern, repl in rules.rewrite:
        s = pattern.sub(repl, s)
    return s


def header_keys(h: str) -> list[str]:
    """Normalised spellings to try for one header, most specific first.

    A joined two-row header "户主_证件号码" should be head_id (try it without the "_"), and
    "家庭收入_工资性收入" should be income_wage (fall back to the lowest header cell).
    """
    keys = [normalize_header(h)]
    if "_" in h:
        keys += [normalize_header(h.replace("_", "")), normalize_header(h.rsplit("_", 1)[-1])]
    return list(dict.fromkeys(keys))


@lru_cache(maxsize=16384)
def _signature(norm: str) -> frozenset[str]:
    """Which words of the `distinct` groups the normalised text carries: two texts agree on every group
    when these sets are equal."""
    return frozenset([word for word, rx in _rules().distinct if rx.search(norm)])


def synonyms() -> dict[str, list[str]]:
    """The built-in spellings as written in synonyms.yaml (canonical field -> spellings)."""
    return {field: list(spellings) for field, spellings in _rules().fields.items()}


def spellings_for(fields: Iterable[str]) -> list[str]:
    """Every built-in spelling of these canonical fields, e.g. to pass as `text_sensitive` when the
    mapping is not known before the file is read (profile: auto)."""
    wanted = set(fields)
    return [s for field, spellings in _rules().fields.items() if field in wanted for s in spellings]


# ---- the decision per header -------------------------------------------------------------------

@dataclass(frozen=True)
class HeaderDecision:
    """What one raw header of a file was taken for."""

    raw: str  # the header as the file has it
    field: str | None  # canonical field (or an `x_` name from columns:); for `proposed`, the one suggested
    status: str  # explicit / synonym / similar / proposed / extra
    score: float  # 1.0 for explicit and synonym; the similarity otherwise (for extra: the best one seen)
    how: str  # how it was recognised, in Chinese: 同义词「身份证号」, 相似度 0.86「…」≈「…」

    @property
    def mapped(self) -> bool:
        return self.status in MAPPED

    @property
    def columns_line(self) -> str | None:
        """The `columns:` line that maps this header to its field, as YAML (quoted when it must be)."""
        if self.field is None:
            return None
        return yaml.safe_dump({self.raw: self.field}, allow_unicode=True, width=1000).strip()


@dataclass(frozen=True)
class ColumnMatch:
    """The result of `match_columns` for one file."""

    headers: list[str]  # the file's headers, in order
    mapping: dict[str, str]  # raw header -> field: what is used (explicit, synonym, similar)
    decisions: list[HeaderDecision]  # one per header, in file order
    explicit_missing: list[str]  # `columns:` keys with no header in the file, even after normalisation
    proposals: list[HeaderDecision]  # the `proposed` decisions: ask before using them

    @property
    def extra(self) -> list[str]:
        """Headers that stay in `extra` (not mapped and not proposed)."""
        return [d.raw for d in self.decisions if d.status == "extra"]


@dataclass(frozen=True)
class _Spelling:
    text: str  # as written: a field's label, a spelling of synonyms.yaml, or a not_mapped header
    norm: str
    field: str | None  # None for not_mapped
    rank: int  # 0 for the label, then the position in the field's list


_KNOWN: dict[str, Field] = {**REGISTER_FIELDS, **VISIT_FIELDS, **SURVEY_FIELDS, **HOUSEHOLD_FIELDS, **PERSON_FIELDS}


def _labels(targets: Mapping[str, Field] | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(field, Chinese label or "") for the allowed fields."""
    if isinstance(targets, Mapping):  # name -> Field, or name -> label as the web page keeps them
        pairs = [(name, f if isinstance(f, str) else getattr(f, "label", "") or "") for name, f in targets.items()]
    else:
        pairs = [(name, _KNOWN[name].label if name in _KNOWN else "") for name in targets]
    return tuple((name, label if _CJK.search(label) else "") for name, label in pairs)


@dataclass(frozen=True)
class _Index:
    spellings: tuple[_Spelling, ...]  # grouped by field, fields in preference order, not_mapped last
    norms: tuple[str, ...]
    fuzzy: np.ndarray  # bool per spelling: compared by similarity (Chinese), else only exactly
    sig: np.ndarray  # int signature id per spelling
    field_of: np.ndarray  # field position per spelling; len(fields) for not_mapped
    rank: np.ndarray
    fields: tuple[str, ...]
    display: dict[str, str]  # field -> how to name it to a person
    written: dict[tuple[str | None, str], tuple[str, ...]]  # (field, normalised) -> every way it is written


_SIG_IDS: dict[frozenset[str], int] = {}


def _sig_id(norm: str) -> int:
    return _SIG_IDS.setdefault(_signature(norm), len(_SIG_IDS))


@lru_cache(maxsize=64)
def _index(labels: tuple[tuple[str, str], ...]) -> _Index:
    table = _rules().fields
    order = {name: k for k, name in enumerate(table)}
    fields = tuple(sorted((name for name, _ in labels), key=lambda n: (order.get(n, len(order)), n)))
    label_of = dict(labels)
    spellings: list[_Spelling] = []
    written: dict[tuple[str | None, str], list[str]] = {}
    for name in fields:
        label = [label_of[name]] if label_of[name] else []
        for rank, text in enumerate([*label, *table.get(name, ()), name], start=0 if label else 1):
            norm = normalize_header(text)
            if norm and (name, norm) not in written:
                spellings.append(_Spelling(text, norm, name, rank))
            written.setdefault((name, norm), []).append(text)
    for text in _rules().not_mapped:
        spellings.append(_Spelling(text, normalize_header(text), None, 0))
        written.setdefault((None, normalize_header(text)), []).append(text)
    position = {name: k for k, name in enumerate(fields)}
    display = {name: label_of[name] or next(iter(table.get(name, ())), name) for name in fields}
    return _Index(
        spellings=tuple(spellings),
        norms=tuple(s.norm for s in spellings),
        fuzzy=np.array([bool(_CJK.search(s.norm)) for s in spellings]),
        sig=np.array([_sig_id(s.norm) for s in spellings]),
        field_of=np.array([position[s.field] if s.field is not None else len(fields) for s in spellings]),
        rank=np.array([s.rank for s in spellings]),
        fields=fields,
        display=display,
        written={key: tuple(texts) for key, texts in written.items()},
    )


def _scores(headers: list[str], index: _Index) -> np.ndarray:
    """headers × spellings similarity in [0, 1]; -1 where the `distinct` groups disagree."""
    keys = [header_keys(h) for h in headers]
    rows = [k for ks in keys for k in ks]
    if not rows or not index.norms:
        return np.full((len(headers), len(index.norms)), -1.0)
    raw = process.cdist(rows, index.norms, scorer=fuzz.ratio, dtype=np.float64, workers=1) / 100.0
    starts = np.cumsum([0] + [len(ks) for ks in keys[:-1]])
    best = np.maximum.reduceat(raw, starts, axis=0)
    best = np.where(index.fuzzy[None, :] | (best >= 1.0), best, 0.0)
    # the groups are judged on the whole header ("户主_证件号码" is the head's even where its last
    # cell alone reads like the member's 证件号码)
    whole = np.array([_sig_id(normalize_header(h.replace("_", ""))) for h in headers])
    return np.where(whole[:, None] == index.sig[None, :], np.round(best, 4), -1.0)


def _say(score: float) -> str:
    return f"{score:.2f}"


def match_columns(
    headers: list[str],
    targets: Mapping[str, Field] | Iterable[str],
    explicit: Mapping[str, str],
    auto: bool,
) -> ColumnMatch:
    """Decide, for every header of one file, which canonical field it is.

    `targets`: the fields this file may provide (a name -> Field mapping such as
    `schema.source_fields(role, level)`, or field names). `explicit`: the config's `columns:`
    (raw header -> field or `x_` name). `auto`: `profile: auto`; when False only `columns:` maps, and
    what the synonyms and similarity recognise is returned as `proposed`.

    1. `columns:` keys map the header they name, the exact text first, else the header equal to the
       key after normalisation (full-width brackets, 号/号码 ...); keys with no such header are
       returned in `explicit_missing`.
    2. Every other header is compared with the labels and built-in spellings of the remaining
       fields. Pairs are taken best first (an assignment: each field goes to the header that fits it
       best, each header to one field): equal after normalisation is `synonym`, similarity ≥
       SIMILAR_THRESHOLD `similar` (both mapped when `auto`), ≥ PROPOSE_THRESHOLD `proposed` (never
       mapped: the caller asks, or prints `decision.columns_line`), the rest `extra`. On a tie the
       field that lists the spelling earlier wins ("姓名" is `name` before `head_name`), then the
       earlier header. A header closer to a `not_mapped` header of synonyms.yaml (序号, 年收入 ...)
       than to any field stays in `extra`.
    """
    headers = list(headers)
    decided: dict[str, HeaderDecision] = {}
    taken: dict[str, str] = {}  # field -> the header that has it
    missing: list[str] = []

    # 1. explicit `columns:` — exact text first, so a normalised key never steals another key's header
    pending: list[tuple[str, str]] = []
    for key, target in explicit.items():
        if key in headers and key not in decided:
            decided[key] = HeaderDecision(key, target, "explicit", 1.0, f"配置 columns:「{key}」")
            taken.setdefault(target, key)
        else:
            pending.append((key, target))
    for key, target in pending:
        norm = normalize_header(key)
        candidates = [h for h in headers if h not in decided and normalize_header(h) == norm]
        if not candidates:
            missing.append(key)
            continue
        light = unicodedata.normalize("NFKC", key)
        raw = max(candidates, key=lambda h: fuzz.ratio(light, unicodedata.normalize("NFKC", h)))
        decided[raw] = HeaderDecision(raw, target, "explicit", 1.0, f"配置 columns:「{key}」(规范化后与列名一致)")
        taken.setdefault(target, raw)

    # 1b. the monitoring export's numbered risk columns (致贫/返贫风险1 … 5): the first is the main risk, the
    #     rest are read together as the further risks — several columns, one list field
    allowed = set(targets)
    for raw in headers:
        match = None if raw in decided else _NUMBERED_RISK.fullmatch(normalize_header(raw))
        if not match:
            continue
        target = "main_cause" if match.group(1) == "1" else "other_causes"
        if target not in allowed or (target == "main_cause" and target in taken):
            continue
        how = "编号的风险列:第1列为主要风险" if target == "main_cause" else "编号的风险列:第2列起合并为其他风险"
        decided[raw] = HeaderDecision(raw, target, "synonym" if auto else "proposed", 1.0,
                                      how if auto else how + "(本文件只按配置的 columns: 对应,未自动采用)")
        if auto:
            taken.setdefault(target, raw)

    # 2. the other headers against the labels and spellings of the fields still free
    index = _index(_labels(targets))
    free = [h for h in headers if h not in decided]
    scores = _scores(free, index)
    n_fields = len(index.fields)
    other = index.field_of == n_fields
    best_other = scores[:, other].max(axis=1, initial=-1.0) if free else np.zeros(0)
    field_scores = np.where(other[None, :], -1.0, scores)
    pairs = []
    for i, j in zip(*np.nonzero(field_scores >= PROPOSE_THRESHOLD), strict=True):
        f = index.field_of[j]
        score = round(float(field_scores[i, j]), 4)
        if index.fields[f] not in taken and score > best_other[i]:
            pairs.append((-score, int(index.rank[j]), int(f), int(i), int(j)))
    pairs.sort()
    for neg, _rank, f, i, j in pairs:
        raw, name = free[i], index.fields[f]
        if raw in decided or name in taken:
            continue
        score, spelling = -neg, index.spellings[j]
        status = "synonym" if score >= 1.0 else "similar" if score >= SIMILAR_THRESHOLD else "proposed"
        how = _found(raw, score, spelling, index)
        if not auto:
            status, how = "proposed", how + "(本文件只按配置的 columns: 对应,未自动采用)"
        decided[raw] = HeaderDecision(raw, name, status, score, how)
        taken[name] = raw

    # 3. what is left stays in extra, with the reason
    for i, raw in enumerate(free):
        if raw not in decided:
            decided[raw] = _extra(raw, scores[i], float(best_other[i]), index, decided, taken)

    decisions = [decided[h] for h in headers]
    return ColumnMatch(
        headers=headers,
        mapping={d.raw: d.field for d in decisions if d.mapped and d.field is not None},
        decisions=decisions,
        explicit_missing=missing,
        proposals=[d for d in decisions if d.status == "proposed"],
    )


def _found(raw: str, score: float, spelling: _Spelling, index: _Index) -> str:
    """How a header resembles a spelling, in Chinese, naming the written form closest to the header."""
    texts = index.written[(spelling.field, spelling.norm)]
    plain = unicodedata.normalize("NFKC", raw)
    text = max(texts, key=lambda t: fuzz.ratio(plain, unicodedata.normalize("NFKC", t)))
    if score < 1.0:
        return f"相似度 {_say(score)}「{raw}」≈「{text}」"
    return f"标准名称「{text}」" if spelling.rank == 0 and text == texts[0] else f"同义词「{text}」"


def _extra(raw: str, row: np.ndarray, best_other: float, index: _Index,
           decided: dict[str, HeaderDecision], taken: dict[str, str]) -> HeaderDecision:
    """A header that stays in `extra`, with the reason: a known other column, a field that went to a
    closer header, or nothing close enough."""
    is_other = index.field_of == len(index.fields)
    fields_only = np.where(is_other, -1.0, row)
    j = int(np.argmax(fields_only)) if fields_only.size else -1
    score = float(fields_only[j]) if j >= 0 else -1.0
    if best_other >= PROPOSE_THRESHOLD and best_other >= score:
        k = int(np.argmax(np.where(is_other, row, -1.0)))
        text = index.spellings[k].text
        how = (f"已知的其他列「{text}」,不对应标准字段" if best_other >= 1.0
               else f"接近已知的其他列「{text}」(相似度 {_say(best_other)}),不对应标准字段")
        return HeaderDecision(raw, None, "extra", max(score, 0.0), how)
    if score <= 0:
        return HeaderDecision(raw, None, "extra", 0.0, "未识别")
    spelling = index.spellings[j]
    if score < PROPOSE_THRESHOLD:
        return HeaderDecision(raw, None, "extra", score, f"未识别:最接近「{spelling.text}」(相似度 {_say(score)})")
    name = spelling.field
    assert name is not None
    holder = taken.get(name)
    if holder is None:  # not reached: a free field this close is assigned above; kept for safety
        return HeaderDecision(raw, None, "extra", score, _found(raw, score, spelling, index))
    how = (f"{_found(raw, score, spelling, index)},但「{index.display[name]}」"
           + ("已由配置中的" if decided[holder].status == "explicit" else "已由更接近的")
           + f"「{holder}」列" + ("对应(待确认)" if decided[holder].status == "proposed" else "对应"))
    return HeaderDecision(raw, None, "extra", score, how)


def suggest_mapping(headers: list[str], targets: Mapping[str, Field] | Iterable[str]) -> dict[str, str]:
    """raw header -> canonical field for the headers recognised automatically (synonym or similar):
    the `mapping` of `match_columns` with no `columns:`, as `profile: auto` gives it."""
    return match_columns(headers, targets, {}, True).mapping


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
            cell = row[j]
            if cell and (not parts or parts[-1] != cell):
                parts.append(cell)
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
        names: list[str | None] = _join(keep, width) if keep else [None] * width
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
