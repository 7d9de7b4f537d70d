"""Apply the pure normalisers to whole columns, once per distinct value.

Real columns repeat values heavily (village names, codes, dates), so each distinct raw value is
normalised once and joined back; the normalisers themselves stay pure, testable functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import polars as pl

from .dates import _MAX_RECORD_YEAR, _MAX_YEAR, _MIN_RECORD_YEAR, _MIN_YEAR
from .ids import _CHECK_CHARS, _MAX_BIRTH_YEAR, _MIN_BIRTH_YEAR, _WEIGHTS, PROVINCE_CODES, normalize_id
from .values import normalize_value


def dtype_for(kind: str) -> pl.DataType:
    if kind in ("date", "yearmonth"):
        return pl.Date()
    if kind in ("int", "year"):
        return pl.Int64()
    if kind in ("money", "number"):
        return pl.Float64()
    if kind == "bool":
        return pl.Boolean()
    if kind.startswith("codes:"):
        return pl.List(pl.String())
    return pl.String()


def _coerce(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind in ("date", "yearmonth") and isinstance(value, dt.datetime):
        return value.date()
    if kind.startswith("codes:"):
        return list(value)  # type: ignore[call-overload]
    return value


# Fast paths: a value already in the one canonical shape of its kind ("2020-01-05", "1234.5", a plain
# Chinese name, an 18-digit ID) is converted by a column expression; everything else goes through the
# Python normaliser. A fast path only takes values whose result it is sure of (the normaliser would say
# the same: tests/unit/test_normalize_fast.py checks it), and hands back the rest.
_YEAR_OK = (_MIN_YEAR, _MAX_YEAR)  # the bounds of the normalisers themselves, so the two cannot drift apart


def peel_wrapper(raw: pl.Expr) -> pl.Expr:
    """The value inside the common export wrappers (`="…"`, `=""…""`, a leading `'`), else the value.

    Only a quote-free inside is taken, so what comes out is what `_text.clean_cell` peels too; a fast
    path then judges it like any other value and hands back what is not in canonical shape.
    """
    return pl.coalesce(
        raw.str.extract(r'^\s*=\s*"([^"]*)"\s*$', 1),
        raw.str.extract(r'^\s*=\s*""([^"]*)""\s*$', 1),
        raw.str.extract(r"^'([^'=\"]*)$", 1),
        raw,
    )


def _peeled(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with `_peeled`: `raw` without export wrappers, computed once (fast paths read it
    several times), and not at all for a column that has none."""
    wrapped = frame.height and frame.select(pl.col("raw").str.contains(r"^\s*['=]").any()).item()
    return frame.with_columns((peel_wrapper(pl.col("raw")) if wrapped else pl.col("raw")).alias("_peeled"))


# Text the cleaning leaves as it is: ASCII and common CJK characters (all stable under NFKC), no
# invisible character, no whitespace but single inner spaces, nothing a wrapper starts with.
_PLAIN = r"!-~\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{3001}\x{3002}\x{300a}-\x{300f}\x{2014}\x{2018}\x{2019}\x{201c}\x{201d}\x{b7}"
_WRAPPER_START = r"^['=\"]"


def _fast_text(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    plain = raw.str.contains(rf"^[{_PLAIN}]+(?: [{_PLAIN}]+)*$") & ~raw.str.contains(_WRAPPER_START)
    return plain, pl.when(plain).then(raw)


def _fast_ident(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    plain = raw.str.contains(rf"^[{_PLAIN}]+$") & ~raw.str.contains(rf"{_WRAPPER_START}|^\d+\.0+$")
    return plain, pl.when(plain).then(raw)


# The shapes dates.py's _DATE_FORMS read, written without spaces or a time: 2020-01-05, 2020/1/5, 2020.1.5,
# 2020年1月5日 and 20200105 (a county's exports mix them: 89,000 distinct dates of the 50k county went through the
# Python parser when only the first had a column path; issue 18). Each gives year, month and day groups.
_DATE_SHAPES = (r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$", r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})[日号]?$",
                r"^([0-9]{4})([0-9]{2})([0-9]{2})$")


def _fast_date(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    def part(group: int) -> pl.Expr:
        return pl.coalesce([raw.str.extract(shape, group) for shape in _DATE_SHAPES])

    iso = pl.concat_str([part(1), part(2).str.zfill(2), part(3).str.zfill(2)], separator="-")
    parsed = iso.str.to_date("%Y-%m-%d", strict=False)  # an impossible day is null: the Python parser says why
    ok = parsed.dt.year().is_between(*_YEAR_OK).fill_null(False)
    return ok, parsed


def _fast_yearmonth(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    ok, parsed = _fast_date(raw)
    compact = raw.str.contains(r"^\d{6}$")
    month = pl.when(compact).then((raw + "01").str.to_date("%Y%m%d", strict=False))
    month_ok = month.dt.year().is_between(*_YEAR_OK).fill_null(False)
    return ok | month_ok, pl.when(ok).then(parsed).otherwise(month)


def _fast_year(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    year = pl.when(raw.str.contains(r"^\d{4}$")).then(raw.cast(pl.Int64, strict=False))
    return year.is_between(_MIN_RECORD_YEAR, _MAX_RECORD_YEAR).fill_null(False), year


def _fast_number(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    plain = raw.str.contains(r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$")
    return plain, pl.when(plain).then(raw.cast(pl.Float64, strict=False))


def _fast_money(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Plain amounts, and amounts with thousands commas or 元 after them (1,234.5 / 1234元), as parse_money reads
    them: the commas in groups of three, no 万."""
    shaped = raw.str.contains(r"^-?(?:[0-9]{1,12}|[0-9]{1,3}(?:,[0-9]{3}){1,3})(\.[0-9]{1,6})?元?$")
    plain = raw.str.replace_all(",", "", literal=True).str.strip_suffix("元")
    return shaped, pl.when(shaped).then(plain.cast(pl.Float64, strict=False))


def _fast_phone(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    plain = raw.str.contains(r"^[0-9]{1,20}$")
    return plain, pl.when(plain).then(raw)


def _fast_int(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    plain = raw.str.contains(r"^[0-9]{1,9}$")
    return plain, pl.when(plain).then(raw.cast(pl.Int64, strict=False))


def _fast_name(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    # CJK Unified Ideographs are stable under NFKC and carry no space, dot or digit
    plain = raw.str.contains(r"^[\x{4e00}-\x{9fff}]{1,8}$")
    return plain, pl.when(plain).then(raw)


FAST_PATHS = {"date": _fast_date, "yearmonth": _fast_yearmonth, "year": _fast_year, "money": _fast_money,
              "number": _fast_number, "phone": _fast_phone,
              "int": _fast_int, "name": _fast_name, "text": _fast_text, "ident": _fast_ident}


def _python_lookup(uniques: list, kind: str) -> pl.DataFrame:
    results = [normalize_value(v, kind) for v in uniques]
    return pl.DataFrame(
        {
            "raw": pl.Series(uniques, dtype=pl.String),
            "value": pl.Series([_coerce(r.value, kind) for r in results], dtype=dtype_for(kind)),
            "problem": pl.Series([r.problem for r in results], dtype=pl.String),
        }
    )


def _merge_slow(split: pl.DataFrame, slow: pl.DataFrame, keys: list[str], columns: list[str]) -> pl.DataFrame:
    """Fast results where the fast path took the row, the Python normaliser's for the others."""
    fast = [pl.when("_ok").then(pl.col(c)).alias(c) for c in columns]
    if slow.height == 0:
        return split.select(*keys, *fast)
    joined = split.join(slow, on=keys, how="left", maintain_order="left", suffix="_slow")
    return joined.select(*keys, *[pl.when("_ok").then(pl.col(c)).otherwise(pl.col(f"{c}_slow")).alias(c)
                                  for c in columns])


# Identifiers and free text hardly repeat in a column, so their fast path runs row by row; other
# kinds repeat (dates, amounts, names), and each distinct value is judged once.
_ROW_WISE = frozenset({"text", "ident"})


def _cells_key(series: pl.Series) -> tuple:
    """A cheap description of a column's cells: length, nulls, and its first and last cells. It does not prove two
    columns equal (the table they come from does that, see _Memo); it catches a column that is plainly not the
    one normalised before."""
    return series.len(), series.null_count(), tuple(series.head(32).to_list()), tuple(series.tail(32).to_list())


def _flags_key(numeric: pl.Series | None) -> bytes | None:
    """The stored-as-number flags of an ID column exactly, by the rows they mark (few: a cheap key)."""
    return None if numeric is None else numeric.fill_null(False).arg_true().to_numpy().tobytes()


class _Memo:
    """A column's normalisation, kept from the validate stage for the normalize stage (issue 18: the two ran the
    same normalisers over the same raw tables). An entry is taken once, and only for the same column of the same
    load table (normalising_table: the load's tables do not change between validate and normalize), the same
    normaliser and, for IDs, the same stored-as-number flags. The cells themselves are not kept: holding every
    raw column from validate to normalize cost a county's raw tables a second time in memory (1.6 GiB at 50,000
    households), and proving columns equal by hashing every cell cost 4.7 s."""

    def __init__(self) -> None:
        # (table, normaliser, column name, cells key, flags key) -> results
        self.entries: dict[tuple, list[object]] = {}

    @staticmethod
    def _key(table: str, raw: pl.Series, normaliser: str, numeric: pl.Series | None) -> tuple:
        return table, normaliser, raw.name, _cells_key(raw), _flags_key(numeric)

    def take(self, table: str, raw: pl.Series, normaliser: str, numeric: pl.Series | None):
        kept = self.entries.get(self._key(table, raw, normaliser, numeric))
        return kept.pop() if kept else None

    def keep(self, table: str, raw: pl.Series, normaliser: str, numeric: pl.Series | None, result) -> None:
        self.entries.setdefault(self._key(table, raw, normaliser, numeric), []).append(result)


_MEMO: ContextVar[_Memo | None] = ContextVar("reconcile_normalisation_memo", default=None)


@contextmanager
def normalise_once() -> Iterator[None]:
    """Within the block, a column normalised once (by validate) is not normalised again (by normalize)."""
    token = _MEMO.set(_Memo())
    try:
        yield
    finally:
        _MEMO.reset(token)


_TABLE: ContextVar[str | None] = ContextVar("reconcile_normalised_table", default=None)


@contextmanager
def normalising_table(name: str) -> Iterator[None]:
    """Within the block, the columns normalised are those of the load table `name` (validate's and normalize's
    reads of it): within a normalise_once block, what one stage worked out for a column serves the other."""
    token = _TABLE.set(name)
    try:
        yield
    finally:
        _TABLE.reset(token)


def _remembered(raw: pl.Series, normaliser: str, numeric: pl.Series | None, compute: Callable[[], Any]) -> Any:
    """`compute()`, or what the same normaliser gave for the same column of the same load table earlier in a
    normalise_once block."""
    memo, table = _MEMO.get(), _TABLE.get()
    if memo is None or table is None or raw.len() == 0:
        return compute()
    result = memo.take(table, raw, normaliser, numeric)
    if result is None:
        result = compute()
        memo.keep(table, raw, normaliser, numeric, result)
    return result


def normalize_series(raw: pl.Series, kind: str) -> tuple[pl.Series, pl.Series]:
    """Return (normalised values, problem codes) aligned with `raw`."""
    return _remembered(raw, f"series:{kind}", None, lambda: _normalize_series(raw, kind))


def _nulls(like: pl.Series, dtype: pl.DataType) -> pl.Series:
    """A column of nulls as long as `like`, holding no buffers: a join's all-null output holds 16 bytes a row (100
    value-and-problem pairs of 341,789 rows: 1,077 MiB), and about half the columns of a county's persons are ones no
    file fills (issue 18)."""
    return pl.repeat(None, like.len(), dtype=dtype, eager=True).alias(like.name)


def _normalize_series(raw: pl.Series, kind: str) -> tuple[pl.Series, pl.Series]:
    if raw.null_count() == raw.len():
        return _nulls(raw, dtype_for(kind)), _nulls(raw, pl.String())
    values, problems = _normalize_cells(raw, kind)
    # most columns have no problem: validate keeps them for normalize (normalise_once)
    return values, problems if problems.null_count() < problems.len() else _nulls(problems, pl.String())


def _normalize_cells(raw: pl.Series, kind: str) -> tuple[pl.Series, pl.Series]:
    frame = raw.to_frame("raw").cast({"raw": pl.String})
    fast = FAST_PATHS.get(kind)
    if fast is None:
        judged = frame["raw"].drop_nulls().unique().to_frame()
        lookup = _python_lookup(judged["raw"].to_list(), kind)
    else:
        judged = _peeled(frame if kind in _ROW_WISE else frame["raw"].drop_nulls().unique().to_frame())
        ok, value = fast(pl.col("_peeled"))
        split = judged.with_columns(ok.fill_null(False).alias("_ok"), value.cast(dtype_for(kind)).alias("value"),
                                    pl.lit(None, pl.String).alias("problem"))
        rest = split.filter(~pl.col("_ok") & pl.col("raw").is_not_null())["raw"].unique().to_list()
        lookup = _merge_slow(split, _python_lookup(rest, kind), ["raw"], ["value", "problem"])
        if kind in _ROW_WISE:
            return lookup["value"].alias(raw.name), lookup["problem"].alias(raw.name)
    joined = frame.join(lookup, on="raw", how="left", maintain_order="left")
    return joined["value"].alias(raw.name), joined["problem"].alias(raw.name)


_PROVINCES = sorted(PROVINCE_CODES)


_ID_SHAPE = r"^[0-9]{17}[0-9X]$"


def check_chars(ids: pl.Series) -> pl.Series:
    """The check character each ID of 17 digits and a check character should end with (null for any other value):
    the weighted digit sum of all of them at once, as one byte matrix (17 one-character slices per ID cost half a
    second per 400,000 IDs)."""
    shaped = ids.str.contains(_ID_SHAPE).fill_null(False)
    expected = _nulls(ids, pl.String())
    at = np.flatnonzero(shaped.to_numpy())
    if at.size == 0:
        return expected
    text = ids.filter(shaped).str.join("").item()
    digits = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, 18)[:, :17].astype(np.int64) - 48
    totals = digits @ np.array(_WEIGHTS, dtype=np.int64)
    return expected.scatter(at, pl.Series(list(_CHECK_CHARS), dtype=pl.String).gather(totals % 11))


def _fast_ids(raw: pl.Expr, numeric: pl.Expr, check: pl.Expr) -> dict[str, pl.Expr]:
    """18 characters, upper-case X, not an Excel number: region, birth date and check digit as expressions
    (`check`: the check character the ID should end with, check_chars)."""
    shaped = raw.str.contains(_ID_SHAPE) & ~numeric
    birth = raw.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    birth = pl.when(birth.dt.year().is_between(_MIN_BIRTH_YEAR, _MAX_BIRTH_YEAR)).then(birth)
    problem = (pl.when(~raw.str.slice(0, 2).is_in(_PROVINCES)).then(pl.lit("id_bad_region"))
               .when(birth.is_null()).then(pl.lit("id_bad_birth_date"))
               .when(check != raw.str.slice(17, 1)).then(pl.lit("id_check_digit")))
    sex = pl.when(raw.str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1).then(pl.lit("男")).otherwise(pl.lit("女"))
    return {"_ok": shaped, "value": raw, "valid": problem.is_null(), "problem": problem, "birth": birth, "sex": sex}


def normalize_id_series(raw: pl.Series, numeric: pl.Series) -> pl.DataFrame:
    """ID columns: value, validity, problem, and what the number encodes (birth date, sex)."""
    return _remembered(raw, "ids", numeric, lambda: _normalize_id_series(raw, numeric))


def _normalize_id_series(raw: pl.Series, numeric: pl.Series) -> pl.DataFrame:
    if raw.null_count() == raw.len():  # see _nulls
        return pl.DataFrame([_nulls(raw, pl.String()).alias("raw"), numeric.fill_null(False).alias("numeric"),
                             *(_nulls(raw, dtype).alias(name) for name, dtype in _ID_PARTS.items())])
    return _normalize_ids(raw, numeric)


_ID_PARTS = {"value": pl.String(), "valid": pl.Boolean(), "problem": pl.String(), "birth": pl.Date(), "sex": pl.String()}


def _normalize_ids(raw: pl.Series, numeric: pl.Series) -> pl.DataFrame:
    pairs = pl.DataFrame({"raw": raw, "numeric": numeric.fill_null(False)}).cast({"raw": pl.String})
    uniques = _peeled(pairs.drop_nulls("raw").unique())
    uniques = uniques.with_columns(check_chars(uniques["_peeled"]).alias("_check"))
    split = uniques.with_columns(**_fast_ids(pl.col("_peeled"), pl.col("numeric"), pl.col("_check"))).drop(
        "_peeled", "_check")
    done = split.filter("_ok").drop("_ok")
    rest = split.filter(~pl.col("_ok")).select("raw", "numeric")
    infos = [normalize_id(r, bool(n)) for r, n in rest.iter_rows()]
    slow = rest.with_columns(
        pl.Series("value", [i.value for i in infos], dtype=pl.String),
        pl.Series("valid", [i.valid for i in infos], dtype=pl.Boolean),
        pl.Series("problem", [i.problem for i in infos], dtype=pl.String),
        pl.Series("birth", [i.birth_date for i in infos], dtype=pl.Date),
        pl.Series("sex", [i.sex for i in infos], dtype=pl.String),
    )
    lookup = pl.concat([done.select(slow.columns), slow])
    return pairs.join(lookup, on=["raw", "numeric"], how="left", maintain_order="left")
