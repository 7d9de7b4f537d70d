"""Machine-readable outputs of a run (DESIGN §5): findings, input issues, links."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from ..check.engine import FINDING_COLUMNS
from ..config import Config
from ..db import query_frame as _frame
from ..db import write_frame
from ..outputs import written
from .data import link_rate_frame

LEDGER_COLUMNS = ["first_seen", "run_count", "verdict", "verdict_note", "responsible", "deadline", "overdue"]  # after the ledger stage ran


# A text cell Excel/WPS would run as a formula (`=cmd|…`, `=HYPERLINK(…)`, `@SUM(…)`, `+1+1`, a tab or CR in
# front): such text comes from input cells into input_issues.csv and the findings' messages. A plain number
# (-5, +3.5) or a lone `-` is left as it is.
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^([+-]?[0-9]+(\.[0-9]+)?|[+-])$"  # a number, or a lone dash for "none"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell that a spreadsheet would read as a formula gets a leading `'` (OWASP's CSV injection
    advice): shown as text, never run. For the CSVs people open; Parquet keeps the exact values."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START) & ~pl.col(c).str.contains(_PLAIN_NUMBER))
        .then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text)


def write_csv_bom(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, so Excel and WPS open Chinese text correctly; formulas neutralised; written whole or not
    at all (a temporary name in the same folder, renamed into place)."""
    with written(path) as partial:
        neutralise_formulas(frame).write_csv(partial, include_bom=True)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with written(path) as partial:
        frame.write_parquet(partial)


def build_link_rates(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """The `link_rate` table: per ordered source pair, how many of A's households have a linked record in B."""
    sources = list(config.sources)
    present = ", ".join(f'"present_{s}"' for s in sources) or "null as none"
    households = _frame(con, f"select {present} from hh_wide")
    write_frame(con, "link_rate", link_rate_frame(households, sources).sort("source_a", "source_b"))


def write_outputs(con: duckdb.DuckDBPyConnection, config: Config, out: Path) -> dict[str, Path]:
    """The findings and input issues for machines (Parquet/CSV, full values; the links: `write_link_outputs`). Reads
    the run's tables only: `link_rate` is built before (pipeline.finish), while the database is saved beside the
    reports."""
    files = {
        "findings.parquet": out / "findings.parquet",
        "findings.csv": out / "findings.csv",
        "input_issues.csv": out / "input_issues.csv",
    }
    present = {r[0] for r in con.execute("describe finding").fetchall()}
    # a province's findings name their county (beside the township)
    columns = FINDING_COLUMNS + [c for c in ["county", *LEDGER_COLUMNS] if c in present]
    findings = _frame(con, f"select {', '.join(columns)} from finding")
    write_parquet(findings, files["findings.parquet"])
    write_csv_bom(findings, files["findings.csv"])
    write_csv_bom(_frame(con, "select * from input_issue"), files["input_issues.csv"])
    return files


LINK_OUTPUTS = {
    "links.parquet": "select cluster_id, source, rec_key, hh_code, head_id, method, score from hh_link "
                     "order by cluster_id, source, rec_key",
    "person_links.parquet": "select person_cluster_id, cluster_id, source, rec_key, id_number, method, score "
                            "from person_link order by person_cluster_id, source, rec_key",
}


def write_link_outputs(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, Path]:
    """links.parquet and person_links.parquet, written by DuckDB straight from the tables (a province's are millions
    of rows: no frame of them is held in Python), each under a temporary name renamed into place."""
    files = {}
    for name, query in LINK_OUTPUTS.items():
        files[name] = out / name
        with written(files[name]) as partial:
            con.execute(f"copy ({query}) to ? (format parquet, compression zstd)", [partial.as_posix()])
    return files
