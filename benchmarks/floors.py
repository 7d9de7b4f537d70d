"""Each stage's floor: a small script doing only the unavoidable work of the stage on the same files, measured
beside the stage's own seconds from the run database's `stage_timing` (issue 18: every stage within 2× its floor).

    python benchmarks/county.py --households 20000 --seed 7        # generates the county and runs it once
    python benchmarks/floors.py benchmarks/.data/county-20000-7-low benchmarks/.data/out-20000-7-low

The floors, each on both cores where the work can be split:
- load: every workbook parsed once as text (fastexcel) and every text file decoded and parsed (polars), two at
  a time; the plan's header peek and the load share those parses, so the floor stands for plan + load;
- validate + normalize: every cell of those parsed files cleaned once in polars (trimmed, empty as null), the
  columns whose header names an ID number checked against GB 11643's check digit, dates parsed, amounts cast,
  and each file's typed table put into DuckDB once: the two stages share one normalisation, so one floor;
- link: the exact-key candidate pairs of households and persons (IDs, household codes, head and member IDs)
  found with joins in DuckDB, each pair scored (name similarity, ID and code agreement) and the best partner per
  record kept, all in SQL: the linker's work without its explanations, ambiguity handling or fuzzy blocking;
- check: every field of every household and every person compared across the sources once, one GROUP BY over
  each long per-source view (hh_source, person_source): what the comparison rules must at least do;
- report: the workbook's cells (read back from 核查报告.xlsx) written as plain inline-string sheet XML built by
  polars and deflated into a zip, no styles: the cost of the cells alone (the stage also builds the sheets from
  the findings and writes the HTML page and the Parquet/CSV files);
- save: the run database's tables copied from memory to a new DuckDB file (DuckDB's compression), and the same
  number of bytes written to disk; set beside the run's save_inputs, save_link_details and save together (they overlap link and the
  report, so their seconds are not on the wall clock).

Prints Markdown for benchmarks/RESULTS.md with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
from xlsxwriter.utility import xl_col_to_name

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def input_files(county: Path) -> list[Path]:
    return sorted(p for p in county.rglob("*") if p.is_file() and p.suffix.lower() in (*TEXT_SUFFIXES,
                                                                                        *EXCEL_SUFFIXES)
                  and "truth" not in p.parts and not p.name.startswith("."))


def _parse_one(path: Path) -> pl.DataFrame:
    if path.suffix.lower() in EXCEL_SUFFIXES:
        # eagerly, the reader's fastest way (Arrow built as the sheet is read), as the load itself reads
        batch = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string", eager=True)
        return pl.DataFrame(pl.from_arrow(batch))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return pl.read_csv(text.encode("utf-8"), infer_schema=False, has_header=False, truncate_ragged_lines=True)


def _parse_all(county: Path) -> list[pl.DataFrame]:
    files = sorted(input_files(county), key=lambda p: -p.stat().st_size)  # the big ones first, two at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_parse_one, files))


def load_floor(county: Path) -> float:
    return timed(lambda: _parse_all(county))


ID_HEADER = ("证件", "身份证")
DATE_HEADER = ("日期", "时间")
AMOUNT_HEADER = ("收入", "金额", "人数", "人口", "面积", "支出")
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _id_valid(column: pl.Expr) -> pl.Expr:
    """GB 11643's check digit, in polars."""
    digits = [column.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(ID_WEIGHTS)]
    check = pl.lit("10X98765432").str.slice(pl.sum_horizontal(digits) % 11, 1)
    return (column.str.len_chars() == 18) & (column.str.slice(17, 1).str.to_uppercase() == check)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    header = [str(v or "") for v in frame.row(0)] if frame.height else []
    exprs = []
    for name, title in zip(frame.columns, header, strict=True):
        cell = pl.col(name).str.strip_chars()
        cell = pl.when(cell == "").then(None).otherwise(cell)
        if any(k in title for k in ID_HEADER):
            exprs += [cell.alias(name), _id_valid(cell).alias(f"{name}_valid")]
        elif any(k in title for k in DATE_HEADER):
            exprs.append(pl.coalesce(cell.str.to_date("%Y-%m-%d", strict=False), cell.str.to_date("%Y%m%d", strict=False),
                                     cell.str.to_date("%Y/%m/%d", strict=False)).alias(name))
        elif any(k in title for k in AMOUNT_HEADER):
            exprs.append(cell.str.replace_all(",", "").cast(pl.Float64, strict=False).alias(name))
        else:
            exprs.append(cell.alias(name))
    return frame.slice(1).select(exprs)


def normalize_floor(county: Path) -> float:
    frames = _parse_all(county)
    con = duckdb.connect()

    def work() -> None:
        for i, frame in enumerate(frames):
            typed = _typed(frame)
            con.register("typed", typed.to_arrow())
            con.execute(f"create table floor_{i} as select * from typed")
            con.unregister("typed")
    return timed(work)


def _long_view_comparison(con: duckdb.DuckDBPyConnection, view: str, key: str) -> str:
    skip = {key, "cluster_id", "person_cluster_id", "source", "role", "label", "ord", "level", "registered", "present",
            "rec_key", "rec_id", "file", "sheet", "row"}
    fields = [r[0] for r in con.execute(f"describe {view}").fetchall() if r[0] not in skip]
    counts = ", ".join(f'count(distinct "{f}") > 1 as "{f}"' for f in fields)
    return f"create temp table compared_{view} as select {key}, {counts} from {view} group by {key}"


def check_floor(database: Path) -> float:
    con = duckdb.connect()
    con.execute("attach ? as run (read_only)", [database.as_posix()])
    con.execute("copy from database run to memory")  # in memory, as the run has them (views included)
    con.execute("detach run")
    queries = [_long_view_comparison(con, "hh_source", "cluster_id"),
               _long_view_comparison(con, "person_source", "person_cluster_id")]
    return timed(lambda: [con.execute(sql) for sql in queries])


LINK_FLOOR_SQL = [
    """create temp table hh as
       select source, rec_key, head_name, case when head_id_valid then head_id end as head_id, hh_code, hh_size
       from src_household""",
    """create temp table hh_pairs as
       with keyed as (
         select a.source as sa, a.rec_key as ka, b.source as sb, b.rec_key as kb from hh a join hh b
           on a.head_id = b.head_id and a.source < b.source
         union
         select a.source, a.rec_key, b.source, b.rec_key from hh a join hh b
           on a.hh_code = b.hh_code and a.source < b.source)
       select k.*, (a.head_id = b.head_id)::int * 4 + (a.hh_code = b.hh_code)::int * 2
                   + jaro_winkler_similarity(a.head_name, b.head_name) + (a.hh_size = b.hh_size)::int as score
       from keyed k join hh a on a.source = k.sa and a.rec_key = k.ka join hh b on b.source = k.sb and b.rec_key = k.kb""",
    """create temp table hh_best as
       select sa, ka, sb, arg_max(kb, score) as kb, max(score) as score from hh_pairs group by all""",
    """create temp table people as
       select source, hh_key, row, name, case when id_number_valid then id_number end as id_number,
              coalesce(birth_date, id_number_birth) as birth, relation
       from src_person""",
    """create temp table person_pairs as
       select a.source as sa, a.hh_key as ha, a.row as ra, b.source as sb, b.hh_key as hb, b.row as rb,
              (a.id_number = b.id_number)::int * 4 + jaro_winkler_similarity(a.name, b.name)
              + coalesce((a.birth = b.birth)::int, 0) + coalesce((a.relation = b.relation)::int, 0) as score
       from people a join people b on a.id_number = b.id_number and a.source < b.source""",
    """create temp table person_best as
       select sa, ha, ra, sb, arg_max(rb, score) as rb, max(score) as score from person_pairs group by all""",
]


def link_floor(database: Path) -> float:
    con = duckdb.connect()
    con.execute("attach ? as run (read_only)", [database.as_posix()])
    for table in ("src_household", "src_person"):
        con.execute(f"create table {table} as select * from run.{table}")  # in memory, as the run has them
    con.execute("detach run")
    return timed(lambda: [con.execute(sql) for sql in LINK_FLOOR_SQL])


def report_floor(workbook: Path, scratch: Path) -> tuple[float, int]:
    reader = fastexcel.read_excel(workbook)
    sheets = [(name, reader.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars().rows())
              for name in reader.sheet_names]
    cells = sum(len(row) for _, rows in sheets for row in rows)

    def write() -> None:
        with zipfile.ZipFile(scratch / "floor.xlsx", "w", zipfile.ZIP_DEFLATED) as book:
            for number, (_, rows) in enumerate(sheets, 1):
                width = max((len(r) for r in rows), default=0)
                frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(width)], orient="row") \
                    .with_row_index("r", offset=1).with_columns(pl.col("r").cast(pl.String))
                cells = [pl.concat_str([pl.lit(f'<c r="{xl_col_to_name(i)}'), pl.col("r"), pl.lit('" t="inlineStr"><is><t>'),
                                        pl.col(f"c{i}").str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"]),
                                        pl.lit("</t></is></c>")]) for i in range(width)]
                xml = frame.select(pl.concat_str([pl.lit('<row r="'), pl.col("r"), pl.lit('">'), *cells,
                                                  pl.lit("</row>")], ignore_nulls=True).alias("x"))["x"].str.join("")
                book.writestr(f"xl/worksheets/sheet{number}.xml", "<worksheet><sheetData>" + xml.item()
                              + "</sheetData></worksheet>")

    return timed(write), cells


def save_floor(database: Path, scratch: Path) -> tuple[float, float, int]:
    con = duckdb.connect()
    con.execute("attach ? as run (read_only)", [database.as_posix()])
    con.execute("copy from database run to memory")
    con.execute("detach run")
    target = scratch / "floor.duckdb"
    con.execute("attach ? as floor_copy", [target.as_posix()])
    copy = timed(lambda: con.execute("copy from database memory to floor_copy"))
    con.execute("detach floor_copy")
    size = target.stat().st_size
    block = os.urandom(1 << 20)

    def write_bytes() -> None:
        with open(scratch / "floor.bin", "wb") as f:
            for _ in range(size >> 20):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())

    return copy, timed(write_bytes), size


def stage_seconds(database: Path) -> dict[str, float]:
    con = duckdb.connect(database.as_posix(), read_only=True)
    try:
        return dict(con.execute("select stage, seconds from stage_timing where scope = 'run'").fetchall())
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("county", type=Path, help="the county's folder (its input files)")
    parser.add_argument("output", type=Path, help="a finished run's output folder (reconcile.duckdb, 核查报告.xlsx)")
    args = parser.parse_args()
    database = args.output / "reconcile.duckdb"
    now = stage_seconds(database)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.output.parent) as tmp:
        scratch = Path(tmp)
        load = load_floor(args.county)
        normalize = normalize_floor(args.county)
        link = link_floor(database)
        check = check_floor(database)
        report, cells = report_floor(args.output / "核查报告.xlsx", scratch)
        save, disk, size = save_floor(database, scratch)
    load_after = os.getloadavg()
    rows = [
        ("plan + load", now.get("plan", 0) + now.get("load", 0), load, "workbooks parsed once, text files read"),
        ("validate + normalize", now.get("validate", 0) + now.get("normalize", 0), normalize,
         "each cell cleaned once, IDs, dates and amounts typed, each table into DuckDB once"),
        ("link", now.get("link", 0), link, "exact-key pairs joined, scored and the best kept in SQL"),
        ("check", now.get("check", 0), check, "every field compared across sources once, over the long views"),
        ("report", now.get("report", 0), report, f"{cells:,} cells as plain sheet XML by polars, deflated"),
        ("save", sum(now.get(k, 0) for k in ("save", "save_inputs", "save_link_details")), save, f"DuckDB copy of {size >> 20} MiB; the same bytes to disk {disk:.2f} s"),
    ]
    print(f"floors for `{args.county}` beside the run in `{args.output}`; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after\n", file=sys.stdout)
    print("| stage | now (s) | floor (s) | now / floor | floor measures |\n|---|---|---|---|---|")
    for name, seconds, floor, what in rows:
        ratio = f"{seconds / floor:.1f}×" if floor else "–"
        print(f"| {name} | {seconds:.2f} | {'–' if floor is None else f'{floor:.2f}'} | {ratio} | {what} |")


if __name__ == "__main__":
    main()
