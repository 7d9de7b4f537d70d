"""Machine-readable outputs of a run (DESIGN §5): findings, input issues, links."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from ..check.engine import FINDING_COLUMNS
from ..config import Config
from ..db import query_frame as _frame
from ..db import write_frame
from .data import link_rate_frame

LEDGER_COLUMNS = ["first_seen", "run_count"]  # follow the contract columns once the ledger stage ran


def write_csv_bom(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, so Excel and WPS open Chinese text correctly."""
    frame.write_csv(path, include_bom=True)


def build_link_rates(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """The `link_rate` table: per ordered source pair, how many of A's households have a linked record in B."""
    sources = list(config.sources)
    present = ", ".join(f'"present_{s}"' for s in sources) or "null as none"
    households = _frame(con, f"select {present} from hh_wide")
    write_frame(con, "link_rate", link_rate_frame(households, sources).sort("source_a", "source_b"))


def write_outputs(con: duckdb.DuckDBPyConnection, config: Config, out: Path) -> dict[str, Path]:
    build_link_rates(con, config)
    files = {
        "findings.parquet": out / "findings.parquet",
        "findings.csv": out / "findings.csv",
        "input_issues.csv": out / "input_issues.csv",
        "links.parquet": out / "links.parquet",
        "person_links.parquet": out / "person_links.parquet",
    }
    present = {r[0] for r in con.execute("describe finding").fetchall()}
    columns = FINDING_COLUMNS + [c for c in LEDGER_COLUMNS if c in present]
    findings = _frame(con, f"select {', '.join(columns)} from finding")
    findings.write_parquet(files["findings.parquet"])
    write_csv_bom(findings, files["findings.csv"])
    write_csv_bom(_frame(con, "select * from input_issue"), files["input_issues.csv"])
    _frame(con, "select cluster_id, source, rec_key, hh_code, head_id, method, score from hh_link "
                "order by cluster_id, source, rec_key").write_parquet(files["links.parquet"])
    _frame(con, "select person_cluster_id, cluster_id, source, rec_key, id_number, method, score from person_link "
                "order by person_cluster_id, source, rec_key").write_parquet(files["person_links.parquet"])
    return files
