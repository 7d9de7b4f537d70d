"""Reading a finished run's database in the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import duckdb


def stage_timing(database: Path) -> list[tuple[str, str, str, float]]:
    """(scope, stage, label, seconds) of the run database's stage_timing, each scope in the order its stages ended."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute("select scope, stage, label, seconds from stage_timing order by scope, position").fetchall()
    finally:
        con.close()
