"""Load stage: files → raw text tables with canonical column names.

Writes `raw_household`, `raw_person`, `raw_register`, `raw_visit`, `raw_numeric_cell`, `raw_load_issue` and
`load_report`. Every cell stays text here; the normalise stage parses it. Columns that map to no
canonical field are kept per row in `extra` (JSON), never dropped.

Rows a reader could not take as data are quarantined, not dropped: `raw_load_issue` names each (file, sheet, row,
column, value, problem; reconcile.load.quarantine), the validate stage reports it, and `load_report` counts
per file `rows` (loaded) and `quarantined`, which add up to the file's data rows. A file with a header and no
data row is refused for the source the run is checked against (the system export: an empty one would make
every household look missing) and, for any other file, reported and left out of the run as if it were not
configured (absent is not empty).
"""

from __future__ import annotations

import contextvars
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from ..config import Config, FileSpec, RegisterSpec, SourceSpec
from ..db import write_frame, write_sparse_frame
from ..errors import InputError
from ..schema import (
    EXTRA_PREFIX,
    HOUSEHOLD_FIELDS,
    KEY_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTRS,
    REGISTER_FIELDS,
    SURVEY_FIELDS,
    VISIT_FIELDS,
    Field,
    register_fields,
    source_fields,
)
from ..validate.contract import load_contract

if TYPE_CHECKING:
    from ..plan import FilePlan, RunPlan
from .headers import ColumnMatch, match_columns, nearest, spellings_for
from .readers import EXTRA, RawTable, read_table

# raw_load_issue: the readers' issues (quarantine.ISSUE_SCHEMA) with their owner and canonical field
LOAD_ISSUE_SCHEMA = {"source": pl.String, "file": pl.String, "sheet": pl.String, "row": pl.Int64, "column": pl.String,
                     "field": pl.String, "value": pl.String, "problem": pl.String, "detail": pl.String,
                     "quarantined": pl.Boolean}
LOAD_ISSUE_COLUMNS = list(LOAD_ISSUE_SCHEMA)

HOUSEHOLD_COLUMNS = list({**HOUSEHOLD_FIELDS, **SURVEY_FIELDS})
PERSON_COLUMNS = list({**PERSON_FIELDS, **HOUSEHOLD_FIELDS, **SURVEY_FIELDS})
REGISTER_COLUMNS = list(REGISTER_FIELDS)
VISIT_COLUMNS = list(VISIT_FIELDS)
META_COLUMNS = ["source", "role", "level", "file", "sheet", "row", "rec_key"]


def _text_sensitive(fields: dict[str, Field]) -> set[str]:
    """Fields an Excel number cell would corrupt: ID numbers, and the identifiers kept as text (schema KEY_FIELDS,
    also where a file may carry one only as an extra column)."""
    return {name for name, f in fields.items() if f.value_kind == "id"} | KEY_FIELDS


@dataclass
class LoadedFile:
    spec: FileSpec
    table: RawTable
    mapping: dict[str, str]  # raw header -> canonical field (or x_ name)
    unmapped_explicit: list[str]  # explicit `columns:` headers that are not in the file
    match: ColumnMatch | None = None  # how every header was decided (None: the run plan's mapping was used)


def _id_like_headers(spec: FileSpec, fields: dict[str, Field]) -> list[str]:
    """Headers whose cells must be text: Excel numbers there have lost digits.

    The reader compares them after `normalize_header`, so "身份证号码" also covers "公民身份号码" and a
    `columns:` key written with full-width brackets covers the half-width header."""
    sensitive = _text_sensitive(fields)
    headers = [raw for raw, target in spec.columns.items() if target in sensitive]
    if spec.profile == "auto":
        headers += [f.label for name, f in fields.items() if name in sensitive]
        headers += spellings_for(sorted(sensitive))
    return headers


def _resolve_mapping(spec: FileSpec, headers: list[str], fields: dict[str, Field]) -> ColumnMatch:
    """`columns:` first, then (profile: auto) the built-in spellings and similarity: headers.match_columns."""
    return match_columns(headers, fields, spec.columns, spec.profile == "auto")


def _check_required(spec: FileSpec, table_kind: str, mapping: dict[str, str], headers: list[str],
                    fields: dict[str, Field], config_section: str, contract: dict) -> None:
    required = contract["tables"][table_kind]["required"]
    mapped = set(mapping.values())
    problems = []
    for field_name in required.get("all", []):
        if field_name not in mapped:
            problems.append([field_name])
    for group in required.get("any_of", []):
        if not mapped.intersection(group):
            problems.append(list(group))
    if not problems:
        return
    lines = []
    for group in problems:
        label = " 或 ".join(f"「{fields[f].label}」({f})" for f in group)
        guess = nearest(fields[group[0]].label, headers)
        example = guess or "<文件中的列名>"
        lines.append(f"缺少必需的列 {label}。如果文件中该列的列名不同,请在配置 {config_section}.columns 下加一行:"
                     f"  {example}: {group[0]}")
    raise InputError(
        f"文件 {spec.path} 无法使用:\n  " + "\n  ".join(lines) + f"\n  文件中的列: {', '.join(headers)}"
    )


def _read(spec: FileSpec, fields: dict[str, Field], table_kind: str, section: str, work_dir: Path,
          contract: dict, planned: FilePlan | None = None) -> LoadedFile:
    """Read one file; the run plan's mapping is used when the file still has the headers the plan saw."""
    sensitive = _id_like_headers(spec, fields)
    if planned is not None:
        id_like = _text_sensitive(fields)
        sensitive = [raw for raw, target in planned.mapping.items() if target in id_like] or sensitive
    table = read_table(
        spec.path, fmt=spec.format, sheet=spec.sheet, header_rows=spec.header_rows, skip_rows=spec.skip_rows,
        encoding=spec.encoding, text_sensitive=sensitive, work_dir=work_dir,
    )
    if planned is not None and planned.headers == table.headers:
        missing = [r["raw_header"] for r in planned.fields if r["status"] == "missing_mapped"]
        return LoadedFile(spec, table, dict(planned.mapping), missing)
    # no plan, or the file changed since the plan read its header: decide again, and check again
    match = _resolve_mapping(spec, table.headers, fields)
    _check_required(spec, table_kind, match.mapping, table.headers, fields, section, contract)
    return LoadedFile(spec, table, dict(match.mapping), match.explicit_missing, match)


def _canonical_frame(loaded: LoadedFile, columns: list[str], attrs: set[str] | None = None) -> pl.DataFrame:
    """Rename mapped columns to canonical names, add missing ones as null, pack the rest into JSON."""
    frame = loaded.table.frame
    mapping = loaded.mapping
    canonical = {raw: target for raw, target in mapping.items()
                 if not target.startswith(EXTRA_PREFIX) and (attrs is None or target not in attrs)}
    extra_cols = [c for c in frame.columns if (not c.startswith("_") or c == EXTRA) and c not in canonical
                  and (attrs is None or mapping.get(c) not in attrs)]
    # several columns for one list field (schema.several_columns: 致贫/返贫风险2 … 5 → other_causes, or a `columns:`
    # that says so; config and web page refuse it for a field of one value): their cells, in file order, one list cell
    sources_of: dict[str, list[str]] = {}
    for raw, target in canonical.items():
        sources_of.setdefault(target, []).append(raw)
    exprs: list[pl.Expr] = [
        pl.col(raws[0]).alias(target) if len(raws) == 1
        else pl.concat_str([pl.col(r).str.strip_chars().replace("", None) for r in raws], separator="、",
                           ignore_nulls=True).replace("", None).alias(target)
        for target, raws in sources_of.items()]
    present = set(canonical.values())
    exprs += [pl.lit(None, dtype=pl.String).alias(c) for c in columns if c not in present]
    if extra_cols:
        names = {c: (mapping[c] if c in mapping else c) for c in extra_cols}
        exprs.append(
            pl.struct([pl.col(c).alias(names[c]) for c in extra_cols]).struct.json_encode().alias("extra")
        )
    else:
        exprs.append(pl.lit(None, dtype=pl.String).alias("extra"))
    if attrs is not None:
        attr_cols = {raw: target for raw, target in mapping.items() if target in attrs}
        if attr_cols:
            exprs.append(pl.struct([pl.col(raw).alias(t) for raw, t in attr_cols.items()])
                         .struct.json_encode().alias("attrs"))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias("attrs"))
    meta = [pl.col("_file").alias("file"), pl.col("_sheet").alias("sheet"), pl.col("_row").cast(pl.Int64).alias("row")]
    # surplus fields of a ragged CSV row: kept in `extra`, and reported by the validate stage
    exprs.append(pl.col(EXTRA).alias("ragged") if EXTRA in frame.columns else pl.lit(None, pl.String).alias("ragged"))
    return frame.select(meta + exprs)


def _with_rec_key(frame: pl.DataFrame) -> pl.DataFrame:
    # the record id as the normalise stage cleans it, so a `="…"`-wrapped export keys like a plain one
    from ..normalize.columns import normalize_series

    cleaned, _ = normalize_series(frame["rec_id"], "ident")
    fallback = pl.concat_str([pl.col("file"), pl.col("sheet"), pl.col("row").cast(pl.String)], separator=":")
    keyed = frame.with_columns(cleaned.alias("rec_key")).with_columns(
        pl.when(pl.col("rec_key").is_not_null()).then(pl.col("rec_key")).otherwise(fallback).alias("rec_key")
    )
    # a record id typed twice must not make two records one: the second keeps its file position too
    repeated = pl.col("rec_key").is_duplicated()
    return keyed.with_columns(
        pl.when(repeated).then(pl.concat_str([pl.col("rec_key"), fallback], separator="@")).otherwise(
            pl.col("rec_key")).alias("rec_key")
    )


def _write(con: duckdb.DuckDBPyConnection, name: str, frames: list[pl.DataFrame], columns: list[str],
           sparse: bool = False) -> None:
    """`sparse`: the columns no file fills are not stored (db.write_sparse_frame): a record table carries every
    field of every role, most of them absent from any one county's files."""
    if frames:
        data = pl.concat(frames, how="diagonal_relaxed")
    else:
        # an empty table keeps the types of a filled one (`row` is a number), so later joins line up
        data = pl.DataFrame({c: pl.Series([], dtype=pl.Int64 if c == "row" else pl.String) for c in columns})
    (write_sparse_frame if sparse else write_frame)(con, name, data)


def _numeric_cells(loaded: LoadedFile, owner: str) -> pl.DataFrame | None:
    cells = loaded.table.numeric_cells
    if cells is None or cells.height == 0:
        return None
    return cells.with_columns(
        pl.lit(owner).alias("source"),
        pl.col("column").replace_strict(loaded.mapping, default=pl.col("column")).alias("field"),
    ).select(["source", "_file", "_sheet", "_row", "column", "field"]).rename(
        {"_file": "file", "_sheet": "sheet", "_row": "row"}
    )


def write_empty_raw_tables(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """The load stage's tables with every column and no row: what the run plan's dry run starts from."""
    _write_all(con, [], [], [], [], [], [], [])


def _write_all(con: duckdb.DuckDBPyConnection, households: list, persons: list, registers: list, visits: list,
               numeric: list, issues: list, report: list[dict]) -> None:
    base = ["source", "role", "level", "file", "sheet", "row", "rec_key", "extra"]
    _write(con, "raw_household", households, base + HOUSEHOLD_COLUMNS, sparse=True)
    _write(con, "raw_person", persons, base + PERSON_COLUMNS, sparse=True)
    _write(con, "raw_register", registers, ["register", "kind", "file", "sheet", "row", "extra", "attrs"]
           + REGISTER_COLUMNS, sparse=True)
    _write(con, "raw_visit", visits, ["source", "file", "sheet", "row", "extra"] + VISIT_COLUMNS, sparse=True)
    _write(con, "raw_numeric_cell", numeric, ["source", "file", "sheet", "row", "column", "field"])
    data = (pl.concat(issues, how="diagonal_relaxed").select(LOAD_ISSUE_COLUMNS) if issues
            else pl.DataFrame(schema=LOAD_ISSUE_SCHEMA))
    _write(con, "raw_load_issue", [data], LOAD_ISSUE_COLUMNS)
    _write(con, "load_report", [pl.DataFrame(report)] if report else [],
           ["owner", "section", "path", "encoding", "header_row", "rows", "quarantined", "mapping"])


def _load_issues(loaded: LoadedFile, owner: str) -> pl.DataFrame | None:
    """The reader's issues of one file, with its owner and the canonical field of each column."""
    issues = loaded.table.issues
    if issues.height == 0:
        return None
    return issues.select(
        pl.lit(owner).alias("source"), pl.col("_file").alias("file"), pl.col("_sheet").alias("sheet"),
        pl.col("_row").cast(pl.Int64).alias("row"), "column",
        pl.col("column").replace_strict(loaded.mapping, default=None, return_dtype=pl.String).alias("field"),
        "value", "problem", "detail", "quarantined")


def required_owners(config: Config, plan: RunPlan | None) -> set[str]:
    """The files a run cannot do without (the plan's `required`: the system export, else the most trusted source)."""
    if plan is not None:
        return {k for k, f in plan.files.items() if f.required}
    return set(config.sources_with_role("system") or config.sources_by_trust()[:1])


def _header_only(loaded: LoadedFile) -> bool:
    return loaded.table.frame.height == 0


def _empty_issue(loaded: LoadedFile, owner: str) -> pl.DataFrame:
    table = loaded.table
    hint = table.hint
    return pl.DataFrame([{
        "source": owner, "file": Path(loaded.spec.path).name, "sheet": None, "row": table.header_row, "column": None,
        "field": None, "value": None, "problem": "header_only" if table.quarantined == 0 else "all_quarantined",
        "detail": hint or None, "quarantined": False}], schema=LOAD_ISSUE_SCHEMA)


def _refuse_empty(loaded: LoadedFile, section: str) -> InputError:
    table = loaded.table
    if table.quarantined == 0:
        why = "只有表头,没有数据行"
    else:
        first = table.issues.filter(pl.col("quarantined")).row(0, named=True)
        why = f"的 {table.quarantined} 行数据全部无法读取(第 {first['_row']} 行:{first['value']} …)"
    return InputError(f"文件 {loaded.spec.path} {why}。这是本次核查所依据的来源({section}),没有数据就会把每一户都"
                      "报成“缺失”:请重新导出后再运行。" + (table.hint or ""))


def _exclude(con: duckdb.DuckDBPyConnection, plan: RunPlan | None, owner: str, reason: str) -> None:
    """Leave a file out of the run after the plan was made, as the plan leaves out a file it cannot read: the
    rules that need it are skipped and say why (check reads plan_file); its input issue says so too."""
    if plan is None or owner not in plan.files:
        return
    fp = plan.files[owner]
    fp.usage = "excluded"
    fp.reason = f"文件「{Path(fp.path).name}」{reason.removeprefix('文件')}"
    fp.message = f"{fp.label} {reason};本次核查不使用该文件,其余照常运行"
    plan.write(con)


def load(con: duckdb.DuckDBPyConnection, config: Config, work_dir: Path, plan: RunPlan | None = None) -> list[dict]:
    """Read every configured file the run plan uses; returns one report entry per file read."""
    contract = load_contract()
    excluded = plan.excluded if plan is not None else set()
    required = required_owners(config, plan)

    def planned(owner: str) -> FilePlan | None:
        return plan.files.get(owner) if plan is not None else None

    report: list[dict] = []
    households: list[pl.DataFrame] = []
    persons: list[pl.DataFrame] = []
    registers: list[pl.DataFrame] = []
    visits: list[pl.DataFrame] = []
    numeric: list[pl.DataFrame] = []
    issues: list[pl.DataFrame] = []
    left_out: list[tuple[str, str]] = []

    def usable(owner: str, section: str, loaded: LoadedFile) -> bool:
        """Record the file's issues; False (and the file left out) when it has no data row."""
        found = _load_issues(loaded, owner)
        if found is not None:
            issues.append(found)
        if not _header_only(loaded):
            return True
        if owner in required:
            raise _refuse_empty(loaded, section)
        issues.append(_empty_issue(loaded, owner))
        reason = ("文件只有表头,没有数据行" if loaded.table.quarantined == 0 else "文件的数据行全部无法读取")
        left_out.append((owner, reason))
        report.append(_report_entry(owner, section, loaded, 0))
        return False

    def record(owner: str, section: str, loaded: LoadedFile, rows: int) -> None:
        report.append(_report_entry(owner, section, loaded, rows))
        cells = _numeric_cells(loaded, owner)
        if cells is not None:
            numeric.append(cells)

    # every file the run reads, in the config's order: read two at a time (issue 18: the two workbooks' XML scans,
    # the CSVs' decoding and the parses overlap), taken in this order, so the first file that fails is the one named
    jobs: list[tuple[str, FileSpec, dict[str, Field], str, str]] = []
    for key, source in config.sources.items():
        if key not in excluded:
            jobs.append((key, source, source_fields(source.role, source.level), source.level, f"sources.{key}"))
    for key, register in config.registers.items():
        if key not in excluded:
            jobs.append((key, register, register_fields(register.kind), "register", f"registers.{key}"))
    if config.visits is not None and "visits" not in excluded:
        jobs.append(("visits", config.visits, dict(VISIT_FIELDS), "visit", "visits"))

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconcile-load") as pool:
        reads: list[Future[LoadedFile] | None] = [
            pool.submit(contextvars.copy_context().run, _read, spec, fields, kind, section, work_dir, contract,
                        planned(key)) for key, spec, fields, kind, section in jobs]
        try:
            for at, (key, spec, _, _, section) in enumerate(jobs):
                read, reads[at] = reads[at], None  # the file's raw table is let go once its frame is made
                assert read is not None
                loaded = read.result()
                if not usable(key, section, loaded):
                    continue
                if isinstance(spec, SourceSpec):
                    columns = PERSON_COLUMNS if spec.level == "person" else HOUSEHOLD_COLUMNS
                    frame = _with_rec_key(_canonical_frame(loaded, columns)).with_columns(
                        pl.lit(key).alias("source"), pl.lit(spec.role).alias("role"), pl.lit(spec.level).alias("level"),
                    )
                    (persons if spec.level == "person" else households).append(frame)
                elif isinstance(spec, RegisterSpec):
                    frame = _canonical_frame(loaded, REGISTER_COLUMNS, attrs=set(REGISTER_ATTRS.get(spec.kind, {}))
                                             ).with_columns(pl.lit(key).alias("register"), pl.lit(spec.kind).alias("kind"))
                    registers.append(frame)
                else:
                    frame = _canonical_frame(loaded, VISIT_COLUMNS).with_columns(pl.lit("visits").alias("source"))
                    visits.append(frame)
                record(key, section, loaded, frame.height)
        finally:
            for pending in reads:
                if pending is not None:
                    pending.cancel()

    _write_all(con, households, persons, registers, visits, numeric, issues, report)
    for owner, reason in left_out:
        _exclude(con, plan, owner, reason)
    return report


def _report_entry(owner: str, section: str, loaded: LoadedFile, rows: int) -> dict:
    return {
        "owner": owner, "section": section, "path": str(loaded.spec.path),
        "encoding": loaded.table.encoding, "header_row": loaded.table.header_row, "rows": rows,
        "quarantined": loaded.table.quarantined,
        "mapping": json.dumps(loaded.mapping, ensure_ascii=False),
        "unmapped_explicit": json.dumps(loaded.unmapped_explicit, ensure_ascii=False),
        "extra_columns": json.dumps([h for h in loaded.table.headers if h not in loaded.mapping], ensure_ascii=False),
    }
