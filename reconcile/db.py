"""DuckDB connections that never try to reach the network (DESIGN §13)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with extension auto-install/auto-load off.

    An install attempt can hang for minutes on a network that drops packets, and the machines this
    runs on have no network at all; everything needed (json, parquet, icu) is built in.
    """
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    return duckdb.connect(str(path) if path else ":memory:", config=config)
