"""Column-wise helper: values repeat (a county has a few dozen villages and code labels, and an ID
recurs in every source), so each distinct value is normalised once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


def map_unique(
    values: pl.Series, fn: Callable[[Any], Any], return_dtype: pl.DataType | type[pl.DataType] | None = None
) -> pl.Series:
    """``fn`` applied once per distinct value (null included), aligned with ``values``.

    Pass ``return_dtype`` whenever ``fn`` may return only nulls or mixed Python types (dataclasses
    and dicts become structs); a result polars can only hold as ``Object`` is refused, since it
    cannot be joined, written or compared.
    """
    distinct = values.unique(maintain_order=True)
    results = pl.Series("result", [fn(value) for value in distinct.to_list()], dtype=return_dtype)
    if results.dtype == pl.Object:
        raise TypeError("map_unique: 函数返回值只能存为 Object 类型,请返回基本类型、字典或数据类,并指定 return_dtype")
    lookup = pl.DataFrame({"key": distinct, "result": results})
    joined = values.rename("key").to_frame().join(
        lookup, on="key", how="left", nulls_equal=True, maintain_order="left"
    )
    return joined["result"].rename(values.name)
