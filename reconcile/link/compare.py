"""Comparison levels for candidate record pairs, vectorised over arrays of pairs.

Each comparison sorts a pair into an ordered level (null → exact → fuzzy at falling thresholds →
else, DESIGN §12.3); the level's weight, from `linkage` parameters, is the pair's evidence for or
against a match. The sum of weights is the pair's score. Levels and weights are kept per pair so
`reconcile explain-link` can show why two records were, or were not, linked.

Chinese names are scored on characters AND on tone-less pinyin (homophones 李明华/李明化 are the
commonest typo of a household manual typed from paper). DuckDB's own string similarity counts
UTF-8 bytes, so all scoring happens here, with rapidfuzz, on pairs SQL produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa
from pypinyin import Style, lazy_pinyin
from rapidfuzz import process
from rapidfuzz.distance import Hamming, Indel, JaroWinkler

# readings pypinyin's phrase-less default gets wrong for surnames
SURNAME_READINGS = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "区": "ou", "查": "zha", "朴": "piao",
                    "盖": "ge", "乐": "yue", "员": "yun", "缪": "miao", "尉": "yu", "覃": "qin", "种": "chong",
                    "长": "chang", "秘": "bi", "万俟": "moqi", "尉迟": "yuchi"}


@lru_cache(maxsize=1 << 18)
def _char_pinyin(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL, errors=lambda c: c)[0]


@lru_cache(maxsize=1 << 20)
def pinyin(name: str | None) -> str:
    """Tone-less pinyin, syllables joined by spaces; a name's first character read as a surname."""
    if not name:
        return ""
    if name.isascii():  # Latin names (benchmarks, minority transliterations) are their own reading
        return name.lower()
    first = SURNAME_READINGS.get(name[:2]) or SURNAME_READINGS.get(name[0])
    rest = name[2:] if name[:2] in SURNAME_READINGS else name[1:]
    syllables = ([first] if first else [_char_pinyin(name[0])]) + [_char_pinyin(c) for c in rest]
    return " ".join(syllables)


def _texts(values: Sequence | pl.Series) -> pl.Series:
    """The values as text, a missing one as "" (a list, or a polars Series as the linker passes them)."""
    series = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String, strict=False)
    return series.cast(pl.String).fill_null("")


_SURNAMES = pl.Series(list(SURNAME_READINGS), dtype=pl.String)
_SURNAME_SOUNDS = pl.Series(list(SURNAME_READINGS.values()), dtype=pl.String)


def readings(names: pl.Series) -> pl.Series:
    """Each name's pinyin, as `pinyin` gives it, built in polars from the reading of each distinct
    character: a county's persons have tens of thousands of distinct names but a few thousand characters, and
    pinyin name by name in Python was most of linking persons (issue 18)."""
    text = names.cast(pl.String).fill_null("")  # as `pinyin`: a missing name reads ""
    distinct = text.unique()
    chars = distinct.str.split("").explode().drop_nulls().unique()
    chars = chars.filter(chars != "")
    sounds = pl.Series([_char_pinyin(c) for c in chars.to_list()], dtype=pl.String)

    def sound(expr: pl.Expr) -> pl.Expr:
        return expr.replace_strict(chars, sounds, default=None, return_dtype=pl.String)

    def surname(expr: pl.Expr) -> pl.Expr:
        return expr.replace_strict(_SURNAMES, _SURNAME_SOUNDS, default=None, return_dtype=pl.String)

    two, one = pl.col("name").str.slice(0, 2), pl.col("name").str.slice(0, 1)
    double = two.is_in(_SURNAMES.implode())  # a two-character surname (or a one-character name that is a surname)
    rest = pl.when(double).then(pl.col("name").str.slice(2)).otherwise(pl.col("name").str.slice(1))
    rest_sounds = rest.str.split("").list.eval(sound(pl.element())).list.join(" ")
    first = pl.coalesce(surname(two), surname(one), sound(one))
    reading = (
        pl.when(pl.col("name") == "").then(pl.lit(""))
        .when(pl.col("name").str.contains(r"^[\x00-\x7F]*$")).then(pl.col("name").str.to_lowercase())
        .when(rest == "").then(first)
        .otherwise(pl.concat_str([first, pl.lit(" "), rest_sounds]))
    )
    lookup = distinct.rename("name").to_frame().with_columns(reading.alias("reading"))
    joined = text.rename("name").to_frame().join(lookup, on="name", how="left", maintain_order="left")
    return joined["reading"].rename(names.name)


def name_similarity(a: Sequence[str | None] | pl.Series,
                    b: Sequence[str | None] | pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(character similarity, pinyin similarity), each 0–1, per aligned pair; -1 where a side is empty.

    Two equal names are alike on both counts without being compared: most pairs of a county are (the same
    person's name in each source), and only the others go through rapidfuzz (issue 18)."""
    left, right = _texts(a), _texts(b)
    chars = np.ones(left.len(), dtype=np.float32)
    sounds = np.ones(left.len(), dtype=np.float32)
    differ = np.flatnonzero((left != right).to_numpy())
    if differ.size:
        left_d, right_d = left.gather(differ), right.gather(differ)
        chars[differ] = process.cpdist(left_d.to_list(), right_d.to_list(), scorer=Indel.normalized_similarity,
                                       workers=1, dtype=np.float32)
        # Indel, not Jaro-Winkler, on pinyin: Jaro-Winkler's prefix bonus rewards the shared surname, so 刘德/刘月
        # would look alike; a homophone still scores 1
        sounds_d = process.cpdist(readings(left_d).to_list(), readings(right_d).to_list(),
                                  scorer=Indel.normalized_similarity, workers=1, dtype=np.float32)
        ascii_only = r"^[\x00-\x7F]*$"
        latin = (left_d.str.contains(ascii_only) & right_d.str.contains(ascii_only)).to_numpy()
        if latin.any():  # Latin-script names (transliterations, benchmarks): the usual Jaro-Winkler
            sounds_d[latin] = process.cpdist(left_d.filter(latin).str.to_lowercase().to_list(),
                                             right_d.filter(latin).str.to_lowercase().to_list(),
                                             scorer=JaroWinkler.normalized_similarity, workers=1, dtype=np.float32)
        sounds[differ] = sounds_d
    empty = ((left == "") | (right == "")).to_numpy()
    chars[empty] = -1
    sounds[empty] = -1
    return chars, sounds


def name_levels(a: Sequence[str | None] | pl.Series, b: Sequence[str | None] | pl.Series,
                fuzzy: float) -> tuple[np.ndarray, np.ndarray]:
    """Levels: 0 null, 1 exact, 2 homophone (same pinyin), 3 one character apart / fuzzy ≥ `fuzzy`, 4 else."""
    left, right = _texts(a), _texts(b)
    chars, sounds = name_similarity(left, right)
    exact = (left == right).to_numpy()
    levels = np.full(left.len(), 4, dtype=np.int8)
    best = np.maximum(chars, sounds)
    levels[best >= fuzzy] = 3
    levels[sounds >= 0.999] = 2
    levels[exact] = 1
    levels[chars < 0] = 0
    return levels, best


def id_levels(a: Sequence[str | None] | pl.Series, b: Sequence[str | None] | pl.Series) -> np.ndarray:
    """Levels: 0 null, 1 exact, 2 near, 3 same region and birth date, another sequence, 4 else.

    A value starting with "?" failed GB 11643: it is evidence, never a key. Near = the first 15
    digits agree (Excel destroyed the rest), or one or two characters differ, or one lost a digit.
    Two valid, different IDs are "else" (different people); an invalid ID that is not near says
    nothing either way (null).
    """
    x, y = pl.col("x"), pl.col("y")
    xs, ys = x.str.strip_chars_start("?"), y.str.strip_chars_start("?")
    f = pl.DataFrame({"x": _texts(a), "y": _texts(b)}).select(
        missing=x.is_in(["", "?"]) | y.is_in(["", "?"]),
        bad=x.str.starts_with("?") | y.str.starts_with("?"),
        equal=xs == ys, same_length=xs.str.len_chars() == ys.str.len_chars(),
        one_longer=(xs.str.len_chars().cast(pl.Int64) - ys.str.len_chars().cast(pl.Int64)).abs() == 1,
        head15=xs.str.slice(0, 15) == ys.str.slice(0, 15), head14=xs.str.slice(0, 14) == ys.str.slice(0, 14),
        xs=xs, ys=ys)
    missing, bad, equal = f["missing"].to_numpy(), f["bad"].to_numpy(), f["equal"].to_numpy()
    same_length, head15 = f["same_length"].to_numpy(), f["head15"].to_numpy()
    open_ = ~missing & ~equal
    near = open_ & same_length & head15
    typed = np.flatnonzero(open_ & same_length & ~head15)
    near[typed] = hamming(f["xs"].gather(typed), f["ys"].gather(typed)) <= 2
    lost = np.flatnonzero(open_ & f["one_longer"].to_numpy())
    near[lost] = process.cpdist(f["xs"].gather(lost).to_list(), f["ys"].gather(lost).to_list(), scorer=Indel.distance,
                                workers=1, dtype=np.int32) == 1
    return np.select([missing, equal & bad, equal, near, ~bad & f["head14"].to_numpy(), bad],
                     [0, 2, 1, 2, 3, 0], 4).astype(np.int8)


def hamming(left: pl.Series, right: pl.Series) -> np.ndarray:
    """Characters that differ, position by position, between aligned texts of equal length.

    Two IDs of one household differ in most places and are compared in bulk: texts of one width in bytes on both
    sides (digits, ASCII) as rows of a byte matrix, the others, rare, by rapidfuzz (issue 18)."""
    distance = np.zeros(left.len(), dtype=np.int32)
    widths = pl.DataFrame({"l": left, "r": right}).select(
        width=pl.when((pl.col("l").str.len_bytes() == pl.col("r").str.len_bytes())
                      & (pl.col("l").str.len_bytes() == pl.col("l").str.len_chars()))
        .then(pl.col("l").str.len_bytes()))["width"]
    for width in widths.drop_nulls().unique().to_list():
        if width == 0:  # two empty texts: nothing differs (and Arrow keeps no bytes to look at)
            continue
        rows = (widths == width).fill_null(False).arg_true().to_numpy()
        distance[rows] = (_bytes(left.gather(rows), width) != _bytes(right.gather(rows), width)).sum(axis=1)
    other = widths.is_null().arg_true().to_numpy()
    if other.size:
        distance[other] = process.cpdist(left.gather(other).to_list(), right.gather(other).to_list(),
                                         scorer=Hamming.distance, workers=1, dtype=np.int32)
    return distance


def _bytes(texts: pl.Series, width: int) -> np.ndarray:
    """Texts of exactly `width` bytes each as a (texts × width) matrix over Arrow's own buffer, no copy per text."""
    array = texts.rechunk().to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[0] + len(array) * width].reshape(len(array), width)


def date_levels(a: Sequence | pl.Series, b: Sequence | pl.Series) -> np.ndarray:
    """Levels: 0 null, 1 same day, 2 same year and month, or day/month swapped, 3 same year, 4 else."""
    x, y = pl.col("x"), pl.col("y")
    same_year = x.dt.year() == y.dt.year()
    month_or_swapped = (x.dt.month() == y.dt.month()) | ((x.dt.month() == y.dt.day()) & (x.dt.day() == y.dt.month()))
    return _levels_of(pl.DataFrame({"x": _dates(a), "y": _dates(b)}).select(
        pl.when(x.is_null() | y.is_null()).then(0).when(x == y).then(1).when(same_year & month_or_swapped).then(2)
        .when(same_year).then(3).otherwise(4)))


def _dates(values: Sequence | pl.Series) -> pl.Series:
    if isinstance(values, pl.Series) and values.dtype == pl.Date:
        return values
    listed = values.to_list() if isinstance(values, pl.Series) else list(values)
    return pl.Series(np.array(listed, dtype="datetime64[D]")).cast(pl.Date)


def _levels_of(frame: pl.DataFrame) -> np.ndarray:
    return frame.to_series().cast(pl.Int8).to_numpy()


def size_levels(a: Sequence | pl.Series, b: Sequence | pl.Series) -> np.ndarray:
    """Levels: 0 null, 1 equal, 2 one apart, 3 else."""
    x, y = pl.col("x"), pl.col("y")
    frame = pl.DataFrame({"x": pl.Series(a, dtype=pl.Float64, strict=False),
                          "y": pl.Series(b, dtype=pl.Float64, strict=False)})
    return _levels_of(frame.select(pl.when(x.is_null() | y.is_null() | x.is_nan() | y.is_nan()).then(0)
                                   .when(x == y).then(1).when((x - y).abs() == 1).then(2).otherwise(3)))


def equal_levels(a: Sequence | pl.Series, b: Sequence | pl.Series) -> np.ndarray:
    """Levels: 0 null (or empty text), 1 equal, 2 else."""
    x, y = pl.col("x"), pl.col("y")
    frame = pl.DataFrame({"x": _texts(a), "y": _texts(b)})
    return _levels_of(frame.select(pl.when((x == "") | (y == "")).then(0).when(x == y).then(1).otherwise(2)))


def member_overlap(left: pl.Series, right: pl.Series, fuzzy: float) -> np.ndarray:
    """Share of the smaller member list found in the other (name similar and birth year not contradicting).

    -1 where a side has no member list (a household-level record). `left` and `right` are aligned lists of
    {name, year} members. Every member of the smaller list (the left one when both are as long) is compared with
    every member of the other in one vectorised pass over all pairs of households, pinyin read once per distinct
    name (issue 18)."""
    shares = np.full(left.len(), -1.0, dtype=np.float32)
    pairs = pl.DataFrame([left.alias("l"), right.alias("r")]).with_row_index("pair").with_columns(
        pl.col("l").list.len().fill_null(0).alias("nl"), pl.col("r").list.len().fill_null(0).alias("nr"))
    pairs = pairs.filter((pl.col("nl") > 0) & (pl.col("nr") > 0))
    # the same members on both sides (names and birth years, in order): each finds itself, share 1, without the
    # cross of the two lists (most household pairs of a county)
    same = (pairs["l"] == pairs["r"]).fill_null(False)
    shares[pairs.filter(same)["pair"].to_numpy()] = 1.0
    pairs = pairs.filter(~same)
    if pairs.height == 0:
        return shares
    left_small = pl.col("nl") <= pl.col("nr")
    sides = pairs.select("pair", pl.when(left_small).then("l").otherwise("r").alias("small"),
                         pl.when(left_small).then("r").otherwise("l").alias("large"),
                         pl.min_horizontal("nl", "nr").alias("n"))

    def members(side: str) -> pl.DataFrame:
        exploded = sides.select("pair", side).explode(side).with_columns(
            pl.int_range(pl.len()).over("pair").alias(f"{side}_at"))
        named = exploded.select("pair", f"{side}_at", pl.col(side).struct.field("name").fill_null("").alias(
            f"{side}_name"), pl.col(side).struct.field("year").fill_null(-1).alias(f"{side}_year"))
        # pinyin once per distinct name, on the members (the cross of two households' members is 3× as long)
        return named.with_columns(readings(named[f"{side}_name"]).alias(f"{side}_reading"))

    cross = members("small").join(members("large"), on="pair")
    chars = process.cpdist(cross["small_name"].to_list(), cross["large_name"].to_list(),
                           scorer=Indel.normalized_similarity, workers=1, dtype=np.float32)
    sounds = process.cpdist(cross["small_reading"].to_list(), cross["large_reading"].to_list(),
                            scorer=Indel.normalized_similarity, workers=1, dtype=np.float32)
    sim = np.maximum(chars, sounds)
    ys, yl = cross["small_year"].to_numpy(), cross["large_year"].to_numpy()
    sim[(ys >= 0) & (yl >= 0) & (np.abs(ys - yl) > 1)] = 0
    found = (cross.select("pair", "small_at").with_columns(pl.Series("hit", sim >= fuzzy))
             .group_by("pair", "small_at").agg(pl.col("hit").any())
             .group_by("pair").agg(pl.col("hit").sum().alias("found")))
    share = sides.join(found, on="pair", how="left").select(
        "pair", (pl.col("found").fill_null(0) / pl.col("n")).cast(pl.Float32).alias("share"))
    shares[share["pair"].to_numpy()] = share["share"].to_numpy()
    return shares
