"""Validate stage, optional engine: the same input contract run by Great Expectations (`validate --gx`).

Nothing is declared here: each suite is built from `contract.yaml`, the value kinds of
`reconcile/schema.py` and the mapping the load stage resolved for the file, and its custom
expectations call the very normalisers the default engine (and the normalise stage) call. One suite
per source / register / visits file, named ``reconcile.<owner>``, runs on that owner's rows of the raw
table as a pandas frame of text cells (GX 1.x validates pandas only, DESIGN §13), in an ephemeral
context:

- ``ExpectColumnToExist``                           required fields (`any_of`: the alternatives the file maps)
- ``ExpectColumnValuesToNotBeNull``                 not_empty fields (blank cells are null in the batch)
- ``ExpectColumnValuesToBeValidForReconcileKind``   every parsed field, judged by its value kind's normaliser
- ``ExpectColumnValuesToBeWithinReconcileRange``    contract ranges, on the parsed value
- ``ExpectColumnValuesToBeNull`` on ``_excel_number__<field>``   identifiers that Excel stored as numbers
- ``ExpectColumnValuesToBeNull`` on ``_surplus_fields``    rows with more fields than the header (ragged CSV)

The batch carries a ``_excel_number__<field>`` column (non-null = the workbook stored the cell as a
number, from `raw_numeric_cell`) for each field that has such cells: a pandas frame of text has lost
the cell type, and an ID's validity depends on it. Like ``_surplus_fields``, it (and its expectation)
appears only in the suite of a file that has such cells, so a clean file's suite runs on any frame
of its canonical columns. Every expectation's ``meta`` names the canonical
field and the problem code, so each unexpected cell of the results becomes one input-issue row
(`gx_input_issues.csv`, same columns as `input_issues.csv`).

To run a written suite elsewhere, ``import reconcile.validate.gx`` first: it registers the two custom
expectations with GX.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

import duckdb
import polars as pl

from ..config import Config
from ..db import table_names
from ..normalize.columns import _coerce
from ..normalize.values import normalize_value
from ..report.files import write_csv_bom
from .contract import load_contract
from .engine import (
    ID_FIELDS,
    ISSUE_COLUMNS,
    TABLE_KINDS,
    _mappings,
    _messages,
    filled_groups,
    is_parsed,
    load_issues,
    unplaced_value,
)

_already_imported = "great_expectations" in sys.modules
_started = time.perf_counter()
import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.compatibility.pydantic import StrictFloat, StrictInt, StrictStr  # noqa: E402
from great_expectations.core.metric_domain_types import MetricDomainTypes  # noqa: E402
from great_expectations.core.metric_function_types import MetricPartialFunctionTypes  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.execution_engine import PandasExecutionEngine  # noqa: E402
from great_expectations.expectations.expectation import ColumnMapExpectation  # noqa: E402
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial  # noqa: E402
from great_expectations.expectations.metrics.metric_provider import metric_partial  # noqa: E402

GX_IMPORT_SECONDS: float | None = None if _already_imported else time.perf_counter() - _started

EXCEL_NUMBER_PREFIX = "_excel_number__"
SURPLUS_COLUMN = "_surplus_fields"  # raw column `ragged`: fields beyond the header of a ragged CSV row
ANY_FILLED_PREFIX = "_any_filled__"  # first non-empty cell of a `not_empty_any` group (null: the row is unplaced)
META_COLUMNS = ["file", "sheet", "row"]
KEY_COLUMNS = ["source", "file", "row", "field", "problem"]

Bound = Union[StrictInt, StrictFloat, StrictStr, None]  # noqa: UP007 (pydantic v1 field annotation)


# ---- the normalisers, per pandas column ------------------------------------------------------------


def cell_problems(values: pd.Series, kind: str, numeric: pd.Series | None = None) -> pd.Series:
    """The normaliser's problem code per cell (None = fine), each distinct (value, numeric) judged once."""
    flags = numeric.astype(bool) if numeric is not None else pd.Series(False, index=values.index)
    keys = list(zip(values.tolist(), flags.tolist(), strict=True))
    judged = {key: normalize_value(key[0], kind, numeric_cell=key[1]).problem for key in set(keys)}
    return pd.Series([judged[key] for key in keys], index=values.index, dtype=object)


def _bound(value: Any, kind: str) -> Any:
    if kind in ("date", "yearmonth") and isinstance(value, str):
        return dt.date.today() if value == "today" else dt.date.fromisoformat(value)
    return value


def out_of_range(values: pd.Series, kind: str, min_value: Any = None, max_value: Any = None) -> pd.Series:
    """True where the parsed value lies outside [min_value, max_value] (unparsed values are not judged)."""
    lo, hi = _bound(min_value, kind), _bound(max_value, kind)
    parsed = {v: _coerce(normalize_value(v, kind).value, kind) for v in set(values.tolist())}

    def outside(v: Any) -> bool:
        p = parsed[v]
        return p is not None and ((lo is not None and p < lo) or (hi is not None and p > hi))

    return values.map(outside).astype(bool)


# ---- custom expectations ---------------------------------------------------------------------------


class ColumnValuesValidForReconcileKind(ColumnMapMetricProvider):
    """A cell is valid when the normaliser of its value kind reports no problem."""

    condition_metric_name = "column_values.valid_for_reconcile_kind"
    condition_value_keys = ("kind", "numeric_cell_column")
    default_kwarg_values = {"numeric_cell_column": None}

    # Written with metric_partial, not column_condition_partial, to read the companion column that
    # says which ID cells Excel stored as numbers (column_condition_partial hands over one column).
    @metric_partial(engine=PandasExecutionEngine, partial_fn_type=MetricPartialFunctionTypes.MAP_CONDITION_SERIES,
                    domain_type=MetricDomainTypes.COLUMN)
    def _pandas(cls, execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict,
                metric_value_kwargs: dict, metrics: dict, runtime_configuration: dict):
        df, compute_kwargs, accessor_kwargs = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.COLUMN)
        column = accessor_kwargs["column"]
        df = df[df[column].notnull()]
        flag_column = metric_value_kwargs.get("numeric_cell_column")
        numeric = df[flag_column].notnull() if flag_column and flag_column in df.columns else None
        unexpected = cell_problems(df[column], metric_value_kwargs["kind"], numeric).notnull()
        return unexpected, compute_kwargs, accessor_kwargs


class ExpectColumnValuesToBeValidForReconcileKind(ColumnMapExpectation):
    """Expect every non-empty cell to be readable as the reconcile value kind `kind` (reconcile/schema.py).

    `kind` is one of reconcile.normalize.values.value_kinds() (id, date, yearmonth, year, int, money,
    bool, name, code:<list>, codes:<list>); a cell fails when `normalize_value(cell, kind)` reports a
    problem code, including the informational ones (a 15-digit ID upgraded, an Excel serial date).
    `numeric_cell_column` names a column that is non-null where the workbook stored the cell as a number.
    """

    kind: str
    numeric_cell_column: Union[str, None] = None  # noqa: UP007

    map_metric: ClassVar[str] = "column_values.valid_for_reconcile_kind"
    success_keys: ClassVar[tuple[str, ...]] = ("kind", "numeric_cell_column", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "kind")


class ColumnValuesWithinReconcileRange(ColumnMapMetricProvider):
    """A cell is within range when its parsed value is unknown or between the bounds."""

    condition_metric_name = "column_values.within_reconcile_range"
    condition_value_keys = ("kind", "min_value", "max_value")
    default_kwarg_values = {"min_value": None, "max_value": None}

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, kind, min_value=None, max_value=None, **kwargs):
        return ~out_of_range(column, kind, min_value, max_value)


class ExpectColumnValuesToBeWithinReconcileRange(ColumnMapExpectation):
    """Expect the value parsed by the normaliser of `kind` to lie within [min_value, max_value].

    Dates are ISO strings; "today" is the day of the run. Cells the normaliser cannot parse pass here
    (ExpectColumnValuesToBeValidForReconcileKind reports them).
    """

    kind: str
    min_value: Bound = None
    max_value: Bound = None

    map_metric: ClassVar[str] = "column_values.within_reconcile_range"
    success_keys: ClassVar[tuple[str, ...]] = ("kind", "min_value", "max_value", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "kind", "min_value", "max_value")


# ---- suites from the contract ----------------------------------------------------------------------


@dataclass
class Owner:
    """One source / register / visits file: its suite, and where its rows are."""

    owner: str
    suite_name: str
    table_kind: str  # household / person / register / visit (contract.yaml tables)
    raw_table: str
    owner_col: str | None  # None: every row of the table (visits)
    fields: list[str]  # mapped canonical fields present as columns of the raw table
    numeric_fields: list[str] = field(default_factory=list)  # fields with cells Excel stored as numbers
    ragged: bool = False  # some rows have more fields than the header (raw column `ragged`)
    headers: dict[str, str] = field(default_factory=dict)  # mapped field -> raw header
    any_filled: list[list[str]] = field(default_factory=list)  # contract not_empty_any, cut to mapped fields


def _owners(con: duckdb.DuckDBPyConnection, config: Config) -> list[Owner]:
    mappings = _mappings(con)
    numeric = con.execute("select distinct source, field from raw_numeric_cell").fetchall()
    owners: list[Owner] = []
    taken: set[str] = set()
    for owner, section in con.execute("select owner, section from load_report").fetchall():
        if section.startswith("sources."):
            table_kind = config.sources[owner].level
            raw_table, owner_col = f"raw_{table_kind}", "source"
        elif section.startswith("registers."):
            table_kind, raw_table, owner_col = "register", "raw_register", "register"
        else:
            table_kind, raw_table, owner_col = "visit", "raw_visit", None
        columns = {c for (c,) in con.execute(f"select column_name from (describe {raw_table})").fetchall()}
        mapped = mappings.get(owner, {})
        fields = [f for f in TABLE_KINDS[table_kind] if f in mapped and f in columns]
        name = f"reconcile.{owner}" if f"reconcile.{owner}" not in taken else f"reconcile.{section}"
        taken.add(name)
        ragged = "ragged" in columns and bool(con.sql(
            f"select count(ragged) from {raw_table}" + (f' where "{owner_col}" = ?' if owner_col else ""),
            params=[owner] if owner_col else None).fetchall()[0][0])
        groups = load_contract()["tables"][table_kind].get("not_empty_any", [])
        owners.append(Owner(owner, name, table_kind, raw_table, owner_col, fields,
                            sorted(f for o, f in numeric if o == owner and f in mapped), ragged, mapped,
                            filled_groups(groups, {f: mapped[f] for f in fields})))
    return owners


def _suite(owner: Owner, contract: dict) -> gx.ExpectationSuite:
    table = contract["tables"][owner.table_kind]
    kinds = TABLE_KINDS[owner.table_kind]
    ranges = contract.get("ranges", {})
    mapped = set(owner.fields)
    expectations: list = []
    required = table.get("required", {})
    for name in required.get("all", []):
        expectations.append(gx.expectations.ExpectColumnToExist(column=name, meta={"field": name,
                                                                                  "contract": "required"}))
    for group in required.get("any_of", []):
        for name in [f for f in group if f in mapped] or group[:1]:
            expectations.append(gx.expectations.ExpectColumnToExist(
                column=name, meta={"field": name, "contract": "required.any_of", "any_of": list(group)}))
    for name in table.get("not_empty", []):
        if name in mapped:
            expectations.append(gx.expectations.ExpectColumnValuesToNotBeNull(
                column=name, meta={"field": name, "problem": "required_empty", "contract": "not_empty"}))
    for name in owner.fields:
        kind = kinds[name]
        if not is_parsed(name, kind):  # the default engine's rule: every field but free text and identifiers
            continue
        numeric_column = EXCEL_NUMBER_PREFIX + name if name in owner.numeric_fields else None
        expectations.append(ExpectColumnValuesToBeValidForReconcileKind(
            column=name, kind=kind, numeric_cell_column=numeric_column,
            meta={"field": name, "problem": "normaliser", "contract": "checks"}))
        if name in ranges:
            bounds = ranges[name]
            expectations.append(ExpectColumnValuesToBeWithinReconcileRange(
                column=name, kind=kind, min_value=bounds.get("min"), max_value=bounds.get("max"),
                meta={"field": name, "problem": "out_of_range", "contract": "ranges"}))
    for name in owner.numeric_fields:
        if name not in ID_FIELDS:  # an ID's numeric cells are judged by the ID normaliser above
            expectations.append(gx.expectations.ExpectColumnValuesToBeNull(
                column=EXCEL_NUMBER_PREFIX + name,
                meta={"field": name, "problem": "excel_number", "contract": "text_sensitive"}))
    for i, have in enumerate(owner.any_filled):  # a row that fills none of them cannot be placed in a household
        expectations.append(gx.expectations.ExpectColumnValuesToNotBeNull(
            column=f"{ANY_FILLED_PREFIX}{i}", meta={"field": have[0], "problem": "unplaced_row",
                                                    "contract": "not_empty_any",
                                                    "value": unplaced_value(have, owner.headers)}))
    if owner.ragged:  # a row with more fields than the header: the surplus is kept in `extra`, and reported
        expectations.append(gx.expectations.ExpectColumnValuesToBeNull(
            column=SURPLUS_COLUMN, meta={"field": "extra", "problem": "ragged_row", "contract": "file_structure"}))
    return gx.ExpectationSuite(name=owner.suite_name, expectations=expectations,
                               meta={"reconcile_owner": owner.owner, "reconcile_table": owner.table_kind})


def build_suites(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, gx.ExpectationSuite]:
    """One expectation suite per source / register / visits file, from contract.yaml and the load mapping."""
    contract = load_contract()
    return {o.suite_name: _suite(o, contract) for o in _owners(con, config)}


# ---- batches ---------------------------------------------------------------------------------------


def _rows(con: duckdb.DuckDBPyConnection, owner: Owner) -> pl.DataFrame:
    """The owner's raw rows (file, sheet, row and its mapped fields), text as loaded."""
    columns = ", ".join(f'"{c}"' for c in META_COLUMNS + owner.fields)
    if owner.ragged:
        columns += f', ragged as "{SURPLUS_COLUMN}"'
    where = f'where "{owner.owner_col}" = ?' if owner.owner_col else ""
    params = [owner.owner] if owner.owner_col else []
    frame = pl.from_arrow(con.sql(f"select {columns} from {owner.raw_table} {where}", params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.col("row").cast(pl.Int64))


def _batch_frame(con: duckdb.DuckDBPyConnection, owner: Owner, rows: pl.DataFrame) -> pd.DataFrame:
    """What GX sees: blank cells as null, plus `_excel_number__<field>` columns; index = position in `rows`."""
    batch = rows.with_columns(
        pl.when(pl.col(f).str.strip_chars() == "").then(None).otherwise(pl.col(f)).alias(f) for f in owner.fields)
    batch = batch.with_columns(pl.coalesce(have).alias(f"{ANY_FILLED_PREFIX}{i}") for i, have in enumerate(owner.any_filled))
    if owner.numeric_fields:
        cells = pl.from_arrow(con.sql(
            "select distinct file, sheet, cast(row as bigint) as row, field from raw_numeric_cell where source = ?",
            params=[owner.owner]).to_arrow_table())
        assert isinstance(cells, pl.DataFrame)
        for name in owner.numeric_fields:
            flags = cells.filter(pl.col("field") == name).select(
                META_COLUMNS[:2] + [pl.col("row"), pl.lit("number").alias(EXCEL_NUMBER_PREFIX + name)])
            batch = batch.join(flags, on=META_COLUMNS, how="left", maintain_order="left", nulls_equal=True)
    return batch.to_pandas()


# ---- results → input issues ------------------------------------------------------------------------


ISSUE_SCHEMA = {"source": pl.String, "file": pl.String, "sheet": pl.String, "row": pl.Int64, "problem": pl.String,
                "value": pl.String, "field": pl.String}


def _issues_of(result: dict, owner: Owner, rows: pl.DataFrame, frame: pd.DataFrame) -> pl.DataFrame | None:
    """The unexpected cells of one expectation's result as input-issue rows (message filled later)."""
    config = result["expectation_config"]
    meta = config.get("meta") or {}
    problem = meta.get("problem")
    positions = (result.get("result") or {}).get("unexpected_index_list") or []
    if not problem or not positions or (result.get("exception_info") or {}).get("raised_exception"):
        return None
    name, column = meta["field"], config["kwargs"]["column"]
    if problem == "normaliser":  # the code the normaliser reports for that cell
        flag_column = config["kwargs"].get("numeric_cell_column")
        cells = frame.loc[positions]
        numeric = cells[flag_column].notnull() if flag_column else None
        codes = pl.Series("problem", cell_problems(cells[column], config["kwargs"]["kind"], numeric).tolist(),
                          dtype=pl.String)
    else:
        codes = pl.Series("problem", [problem] * len(positions), dtype=pl.String)
    # the raw text, as input_issue has it (an Excel number's text is not shown: its digits are not the data)
    value = (pl.lit(None, pl.String) if problem == "excel_number" else pl.lit(meta["value"], pl.String)
             if problem == "unplaced_row" else pl.col(column))
    return rows[[int(p) for p in positions]].select(
        pl.lit(owner.owner).alias("source"), "file", "sheet", "row", value.alias("value"), pl.lit(name).alias("field"),
    ).with_columns(codes).select(list(ISSUE_SCHEMA))


def _keys(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select(KEY_COLUMNS).rows()) if frame.height else set()


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def run_gx(con: duckdb.DuckDBPyConnection, config: Config, out: Path) -> list[str]:
    """Validate every loaded file with GX; write suites, results and gx_input_issues.csv; summary lines."""
    contract = load_contract()
    started = time.perf_counter()
    owners = _owners(con, config)
    suites = {o.suite_name: _suite(o, contract) for o in owners}
    context = gx.get_context(mode="ephemeral")  # a new in-memory context per call: nothing on disk, no network
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars on the CLI's stderr
    datasource = context.data_sources.add_or_update_pandas("reconcile")
    build_seconds = time.perf_counter() - started

    started = time.perf_counter()
    issues: list[pl.DataFrame] = [pl.DataFrame(schema=ISSUE_SCHEMA)]
    notes: list[str] = []
    for owner in owners:
        suite = context.suites.add(suites[owner.suite_name])
        _write_json(out / "gx" / "suites" / f"{owner.suite_name}.json", suite.to_json_dict())
        rows = _rows(con, owner)
        frame = _batch_frame(con, owner, rows)
        asset = datasource.add_dataframe_asset(name=owner.suite_name)
        batch = asset.add_batch_definition_whole_dataframe("all rows").get_batch(
            batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE",
                                                      "return_unexpected_index_query": False})
        data = result.to_json_dict()
        _write_json(out / "gx" / "results" / f"{owner.suite_name}.json", data)
        for item in data["results"]:
            if item.get("exception_info", {}).get("raised_exception"):
                notes.append(f"  {owner.suite_name}: 期望 {item['expectation_config']['type']} 执行出错: "
                             f"{item['exception_info']['exception_message']}")
            elif not item["success"] and item["expectation_config"]["type"] == "expect_column_to_exist":
                notes.append(f"  {owner.suite_name}: 缺少必需的列 {item['expectation_config']['kwargs']['column']}")
            found_here = _issues_of(item, owner, rows, frame)
            if found_here is not None:
                issues.append(found_here)
    validate_seconds = time.perf_counter() - started

    found = pl.concat(issues, how="vertical_relaxed")
    # rows and cells the readers set aside are the file's structure, not an expectation over columns: both
    # engines take them from the load stage
    found = pl.concat([_messages(found, _mappings(con), contract).select(ISSUE_COLUMNS), load_issues(con)],
                      how="vertical_relaxed").sort(["source", "file", "row", "column", "field", "problem"],
                                                   nulls_last=True)
    write_csv_bom(found, out / "gx_input_issues.csv")

    expectations = sum(len(s.expectations) for s in suites.values())
    imported = f"导入 {GX_IMPORT_SECONDS:.1f} 秒" if GX_IMPORT_SECONDS is not None else "导入 (进程中已导入)"
    lines = [
        f"GX 引擎 (Great Expectations {gx.__version__}): {imported}, "
        f"构建 {len(suites)} 个规则集 ({expectations} 条期望) {build_seconds:.1f} 秒, 校验 {validate_seconds:.1f} 秒",
        f"GX 引擎: {found.height} 个不合格单元格 → {out / 'gx_input_issues.csv'}; "
        f"规则集 → {out / 'gx' / 'suites'}, 结果 → {out / 'gx' / 'results'}",
    ]
    tables = table_names(con)
    if "input_issue" in tables:
        default = _keys(pl.from_arrow(con.sql(  # type: ignore[arg-type]
            f"select {', '.join(KEY_COLUMNS)} from input_issue").to_arrow_table()))
        ours = _keys(found)
        if default == ours:
            lines.append(f"两个引擎结果一致: 相同的 {len(ours)} 个 (来源, 文件, 行, 字段, 问题)")
        else:
            only_default, only_gx = sorted(default - ours, key=str), sorted(ours - default, key=str)
            lines.append(f"两个引擎结果不一致: 仅默认引擎 {len(only_default)} 个, 仅 GX 引擎 {len(only_gx)} 个")
            lines += [f"  仅默认引擎: {k}" for k in only_default[:5]] + [f"  仅 GX 引擎: {k}" for k in only_gx[:5]]
    return lines + notes
