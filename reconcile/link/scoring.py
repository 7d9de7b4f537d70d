"""Score candidate pairs with comparison levels and choose one-to-one links by optimal assignment.

A linker is configured by data: a list of comparisons (which column of each side, which kind of
comparison, one weight per level) and thresholds. The score of a pair is the sum of the weights of
the levels its comparisons fall into. Pairs at or above `link` are links; pairs in [`possible`,
`link`) are shown to a person as possible matches. One-to-one: inside each connected group of
candidate pairs the assignment with the highest total score wins (Hungarian algorithm), never the
first pair that happened to come along.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import did_you_mean
from .compare import date_levels, equal_levels, id_levels, member_overlap, name_levels, size_levels

LEVEL_NAMES = {
    "name": ["null", "exact", "homophone", "fuzzy", "else"],
    "id": ["null", "exact", "near", "same_birth", "else"],
    "date": ["null", "exact", "year_month", "year", "else"],
    "size": ["null", "exact", "off_by_one", "else"],
    "members": ["null", "all", "most", "some", "none"],
    "equal": ["null", "exact", "else"],
    "overlap": ["null", "all", "majority", "some", "none"],
}

# each level as a person reads it (explain-link); the codes above stay in the candidate tables
LEVEL_LABELS = {"null": "缺值", "exact": "一致", "homophone": "同音", "fuzzy": "相近", "else": "不同",
                "near": "接近(错一两位或少一位)", "same_birth": "同地同生日", "year_month": "同年同月",
                "year": "同年", "off_by_one": "差一", "all": "全部对上", "most": "大多对上", "majority": "过半对上",
                "some": "少数对上", "none": "没有对上"}

# What a comparison of each linker can read: its name → the column of the pair records (link/__init__.py builds
# the pairs with these columns; a comparison added in a config names one with `column:`) ...
COMPARED_FIELDS = {
    "household": {"head_id": "head_id", "hh_code": "hh_code", "member_ids": "member_ids_share",
                  "head_name": "head_name", "members": "members", "hh_size": "hh_size"},
    "person": {"id_number": "id_number", "name": "name", "birth": "birth", "relation": "relation"},
}
# ... and the kinds whose level function accepts that column's values (an ID compared as a date would stop the run)
COLUMN_KINDS = {
    "head_id": ("id", "equal"), "id_number": ("id", "equal"), "hh_code": ("equal",), "member_ids_share": ("overlap",),
    "head_name": ("name", "equal"), "name": ("name", "equal"), "members": ("members",), "hh_size": ("size", "equal"),
    "birth": ("date", "equal"), "relation": ("equal",),
}
COMPARISON_KEYS = ("kind", "label", "fuzzy", "weights", "column")
THRESHOLDS = ("link", "possible", "margin", "trusted")
REQUIRED_THRESHOLDS = ("link", "possible")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _listing(names) -> str:
    return "(可用: " + ", ".join(map(str, names)) + ")"


def _comparison_problems(name: str, comp: object, fields: dict[str, str]) -> list[tuple[tuple, str]]:
    if not isinstance(comp, dict):
        return [((), f"应为比较项的映射 {{kind, weights, label, fuzzy}},实际为 {comp!r}")]
    out: list[tuple[tuple, str]] = [
        ((key,), f"未知的比较项设置{did_you_mean(key, COMPARISON_KEYS)}{_listing(COMPARISON_KEYS)}")
        for key in comp if key not in COMPARISON_KEYS]
    columns = sorted(set(fields.values()))
    column = comp.get("column", fields.get(name))
    if "column" in comp and column not in columns:
        out.append((("column",), f"未知的比较字段 `{column}`{did_you_mean(column, columns)}{_listing(columns)}"))
    elif column is None:
        out.append(((), f"未知的比较字段 `{name}`{did_you_mean(name, fields)}{_listing(fields)};"
                        "新增的比较项须用 column 指明比较哪个字段"))
    kind = comp.get("kind")
    if kind not in LEVEL_NAMES:
        out.append((("kind",), f"未知的比较方式 {kind!r}{did_you_mean(kind, LEVEL_NAMES)}{_listing(LEVEL_NAMES)}"))
    elif column in COLUMN_KINDS and kind not in COLUMN_KINDS[column]:
        out.append((("kind",), f"字段 {column} 不能用 {kind} 方式比较{_listing(COLUMN_KINDS[column])}"))
    weights = comp.get("weights")
    if not isinstance(weights, dict) or not weights:
        out.append((("weights",), f"应为“等级: 权重”的映射,实际为 {weights!r}"))
        weights = {}
    for level, weight in weights.items():
        if level is None:  # YAML reads a bare `null:` key as no key at all
            out.append((("weights", "null"), "等级 null 须加引号写成 'null',否则 YAML 把它读作空值"))
        elif kind in LEVEL_NAMES and level not in LEVEL_NAMES[kind]:
            out.append((("weights", level), f"比较方式 {kind} 没有等级 `{level}`{did_you_mean(level, LEVEL_NAMES[kind])}"
                                            f"{_listing(LEVEL_NAMES[kind])}"))
        if not _number(weight):
            out.append((("weights", level), f"权重应为数字,实际为 {weight!r}"))
    if "fuzzy" in comp and not (_number(comp["fuzzy"]) and 0 < comp["fuzzy"] <= 1):
        out.append((("fuzzy",), f"应为 0 到 1 之间的相似度,实际为 {comp['fuzzy']!r}"))
    if "label" in comp and not isinstance(comp["label"], str):
        out.append((("label",), f"应为文本(比较项的中文名称),实际为 {comp['label']!r}"))
    return out


def linkage_problems(entity: str, spec: object) -> list[tuple[tuple, str]]:
    """Why a `linkage.<entity>` mapping could not build a linker: (key path under it, Chinese message) for every
    problem at once, so a run stops at config time instead of inside the link stage."""
    if not isinstance(spec, dict):
        return [((), f"应为匹配参数的映射(link, possible, margin, trusted, comparisons),实际为 {spec!r}")]
    allowed = (*THRESHOLDS, "comparisons")
    out = [((key,), f"未知的匹配参数{did_you_mean(key, allowed)}{_listing(allowed)}") for key in spec
           if key not in allowed]
    for key in THRESHOLDS:
        if key in spec and not _number(spec[key]):
            out.append(((key,), f"应为数字(匹配得分),实际为 {spec[key]!r}"))
        elif key not in spec and key in REQUIRED_THRESHOLDS:
            out.append(((key,), "缺少匹配得分"))
    if _number(spec.get("link")) and _number(spec.get("possible")) and spec["possible"] > spec["link"]:
        out.append((("possible",), f"可能匹配的得分 {spec['possible']} 不应高于自动匹配的得分 link {spec['link']}"))
    comparisons = spec.get("comparisons")
    if not isinstance(comparisons, dict) or not comparisons:
        return [*out, (("comparisons",), "应为“比较项: {kind, weights …}”的映射,至少一项")]
    fields = COMPARED_FIELDS.get(entity, {})
    for name, comp in comparisons.items():
        out += [(("comparisons", name, *path), text) for path, text in _comparison_problems(name, comp, fields)]
    return out


@dataclass
class Comparison:
    """One comparison of a linker: `kind` picks the level function; weights are per level name."""

    name: str
    kind: str
    left: str
    right: str
    weights: dict[str, float]
    fuzzy: float = 0.8
    label: str = ""

    def levels(self, left: pl.Series, right: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        """(level index, similarity or -1) for every aligned pair.

        A name's level depends on the two names only: each distinct pair of names is compared once and its level
        spread back to every pair that has it (issue 18: household pairs repeat their head names a lot). The
        other kinds are compared column-wise in polars and numpy, faster than finding the distinct pairs."""
        if self.kind != "name" or left.len() == 0:
            return self._levels(left, right)
        pairs = pl.DataFrame([left.alias("l"), right.alias("r")])
        # each pair's first row with the same two values (nulls alike), one hash grouping: no join back
        first = pairs.with_row_index("_i").select(pl.col("_i").min().over(["l", "r"]))["_i"].to_numpy()
        starts = np.flatnonzero(first == np.arange(first.size))
        if starts.size == first.size:
            return self._levels(left, right)
        distinct = pairs[starts]
        position = np.empty(first.size, dtype=np.int64)
        position[starts] = np.arange(starts.size)
        where = position[first]
        levels, sim = self._levels(distinct["l"], distinct["r"])
        return levels[where], sim[where]

    def _levels(self, left: pl.Series, right: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        sim = np.full(left.len(), -1.0, dtype=np.float32)
        if self.kind == "members":
            sim = member_overlap(left, right, self.fuzzy)
            levels = np.select([sim < 0, sim >= 0.999, sim >= 0.6, sim > 0], [0, 1, 2, 3], 4).astype(np.int8)
            return levels, sim
        if self.kind == "date":  # dates, or texts numpy reads as dates
            return date_levels(left, right), sim
        if self.kind == "name":
            return name_levels(left, right, self.fuzzy)
        if self.kind == "id":
            return id_levels(left, right), sim
        if self.kind == "overlap":  # share of shared exact keys (e.g. member IDs) precomputed on the pair
            sim = left.cast(pl.Float32).fill_null(-1.0).to_numpy()
            levels = np.select([sim < 0, sim >= 0.999, sim > 0.5, sim > 0], [0, 1, 2, 3], 4).astype(np.int8)
            return levels, sim
        if self.kind == "equal":
            return equal_levels(left, right), sim
        if self.kind == "size":
            return size_levels(left, right), sim
        raise ValueError(f"unknown comparison kind {self.kind}")

    def weight_array(self) -> np.ndarray:
        return np.array([float(self.weights.get(level, 0.0)) for level in LEVEL_NAMES[self.kind]], dtype=np.float32)


@dataclass
class Linker:
    comparisons: list[Comparison]
    link: float
    possible: float
    margin: float = 1.0
    trusted: float = 100.0  # a pair at or above this is never downgraded for ambiguity (exact keys)
    extra: dict = field(default_factory=dict)


def linker_from_params(spec: dict, columns: dict[str, tuple[str, str]] | None = None) -> Linker:
    """Build a linker from a `linkage.<entity>` parameter mapping."""
    comparisons = []
    for name, c in spec["comparisons"].items():
        left, right = (columns or {}).get(name, (c.get("column", name), c.get("column", name)))
        comparisons.append(Comparison(name=name, kind=c["kind"], left=left, right=right, weights=c["weights"],
                                      fuzzy=float(c.get("fuzzy", 0.8)), label=c.get("label", name)))
    return Linker(comparisons, float(spec["link"]), float(spec["possible"]), float(spec.get("margin", 1.0)),
                  float(spec.get("trusted", 100.0)))


# cheapest first: a pair that can no longer reach `possible` after the cheap comparisons skips the dear ones
KIND_COST = {"equal": 0, "size": 0, "overlap": 0, "id": 1, "date": 2, "name": 3, "members": 4}


# the kinds whose comparison gives a similarity besides the level (`<comparison>_sim`); the others' is always -1
SIMILARITY_KINDS = ("name", "members", "overlap")


def score_pairs(pairs: pl.DataFrame, linker: Linker, prune: bool = False,
                records: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add `<comparison>_level`, `<comparison>_sim` (for the kinds that measure a similarity) and the total `score`
    to candidate pairs.

    `pairs` carries, for each comparison, the left and right columns it names (suffixes _l/_r), or, with
    `records`, the positions `ia` and `ib` of its two records there: a column the pairs do not carry is then taken
    from the records, for the pairs still compared only (a household's members are a list per record: gathering
    them for every pair was most of building the pairs; issue 18).

    With `prune`, comparisons run cheapest first, and a pair whose score cannot reach `possible` any more, even if
    every comparison left gave its best weight, is not compared further: its skipped levels and similarities are
    null (not compared, unlike the level "null": a value missing) and its score is the sum of the levels it has.
    Such a pair is rejected either way, so links, possible matches and duplicates are the same as without pruning;
    most candidate pairs of a county are of this kind (two different people of one household, two households of
    one village; issue 18). `explain-link` scores a pair in full."""
    comparisons = sorted(linker.comparisons, key=lambda c: KIND_COST.get(c.kind, 5)) if prune else linker.comparisons
    best_left = float(sum(c.weight_array().max() for c in comparisons))
    partial = np.zeros(pairs.height, dtype=np.float64)
    compared = np.arange(pairs.height)
    results: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def side(column: str, suffix: str, position: str) -> pl.Series:
        name = f"{column}_{suffix}"
        if name in pairs.columns or records is None:
            values = pairs[name]
            return values.gather(compared) if compared.size < pairs.height else values
        rows = pairs[position].gather(compared) if compared.size < pairs.height else pairs[position]
        return records[column].gather(rows).alias(name)

    for comp in comparisons:
        levels, sim = comp.levels(side(comp.left, "l", "ia"), side(comp.right, "r", "ib"))
        results[comp.name] = (compared, levels, sim)
        if prune:
            partial[compared] += comp.weight_array()[levels]
            best_left -= float(comp.weight_array().max())
            # a hair below `possible`: a pair on the line is compared in full, never cut by a rounding error
            compared = compared[partial[compared] + best_left >= linker.possible - 1e-4]
    total = np.zeros(pairs.height, dtype=np.float32)
    extra = []
    for comp in linker.comparisons:  # summed in the configured order, as explain-link sums a pair
        rows, levels, sim = results[comp.name]
        columns = [pl.Series(f"{comp.name}_level", LEVEL_NAMES[comp.kind], dtype=pl.String).gather(levels)]
        if comp.kind in SIMILARITY_KINDS:
            columns.append(pl.Series(f"{comp.name}_sim", sim, dtype=pl.Float32))
        if rows.size < pairs.height:
            total[rows] += comp.weight_array()[levels]
            columns = [pl.repeat(None, pairs.height, dtype=column.dtype, eager=True).alias(column.name).scatter(
                rows, column) for column in columns]
        else:
            total += comp.weight_array()[levels]
        extra += columns
    return pairs.with_columns(*extra, pl.Series("score", total, dtype=pl.Float32))


DECISIONS = pl.Series("decision", ["rejected", "possible", "link"], dtype=pl.String)
DECISION_CODES = {name: code for code, name in enumerate(DECISIONS)}


def assign(pairs: pl.DataFrame, linker: Linker, left: str = "l", right: str = "r") -> pl.DataFrame:
    """Choose one-to-one pairs. Adds `decision`: link / possible / rejected, and `runner_up` score.

    Only pairs scoring at least `possible` take part. Within each connected group of candidates
    the assignment maximising the total score is taken; a chosen pair that is not clearly better
    than the next-best alternative of either side (within `margin`) and is not trusted becomes
    `possible`: two households with the same head name in one village are shown, not guessed.
    """
    if pairs.height == 0:
        return pairs.with_columns(pl.lit(None, pl.String).alias("decision"), pl.lit(None, pl.Float32).alias("runner_up"))
    eligible = pairs.with_row_index("_pair").filter(pl.col("score") >= linker.possible)
    decision = np.full(pairs.height, DECISION_CODES["rejected"], dtype=np.int8)
    link, possible = DECISION_CODES["link"], DECISION_CODES["possible"]
    runner_up = np.full(pairs.height, np.nan, dtype=np.float32)
    if eligible.height:
        # each side's records numbered in sorted order, as np.unique would, without sorting Python strings
        li = (eligible[left].rank("dense") - 1).to_numpy().astype(np.int64)
        ri = (eligible[right].rank("dense") - 1).to_numpy().astype(np.int64)
        n_l = int(li.max()) + 1
        graph = coo_matrix((np.ones(len(li)), (li, ri + n_l)), shape=(n_l + int(ri.max()) + 1,) * 2)
        _, comp = connected_components(graph, directed=False)
        scores = eligible["score"].to_numpy()
        pair_ids = eligible["_pair"].to_numpy()
        group = comp[li]
        # a pair alone in its group has no rival: linked at the link score, shown as possible below it (most
        # pairs, decided at once; issue 18); the groups with rivals are assigned one by one
        alone = np.bincount(group)[group] == 1
        decision[pair_ids[alone]] = np.where(scores[alone] >= linker.link, link, possible)
        rivalled = np.flatnonzero(~alone)
        order = rivalled[np.argsort(group[rivalled], kind="stable")]
        bounds = np.flatnonzero(np.diff(group[order])) + 1
        for idx in np.split(order, bounds) if len(order) else []:
            rows, row_pos = np.unique(li[idx], return_inverse=True)
            cols, col_pos = np.unique(ri[idx], return_inverse=True)
            matrix = np.full((len(rows), len(cols)), -1e6, dtype=np.float64)
            matrix[row_pos, col_pos] = scores[idx]
            r_sel, c_sel = linear_sum_assignment(matrix, maximize=True)
            keep = matrix[r_sel, c_sel] > -1e5
            lookup = {(row_pos[k], col_pos[k]): k for k in range(len(idx))}
            chosen = np.array([idx[lookup[(r, c)]] for r, c in zip(r_sel[keep], c_sel[keep], strict=True)],
                              dtype=np.int64)
            for k in chosen:
                others = idx[(li[idx] == li[k]) | (ri[idx] == ri[k])]
                others = others[others != k]
                best_other = scores[others].max() if len(others) else -np.inf
                runner_up[pair_ids[k]] = best_other if np.isfinite(best_other) else np.nan
                clear = scores[k] - best_other >= linker.margin or scores[k] >= linker.trusted
                decision[pair_ids[k]] = link if scores[k] >= linker.link and clear else possible
                if not clear:  # every close rival is shown beside it: a person decides between them
                    for o in others[scores[k] - scores[others] < linker.margin]:
                        decision[pair_ids[o]] = possible
    return pairs.with_columns(DECISIONS.gather(decision).alias("decision"),
                              pl.Series("runner_up", runner_up, dtype=pl.Float32))
