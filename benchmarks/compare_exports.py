"""Speed of the compare-exports joins on a province-sized export (10^6 persons by default).

    python benchmarks/compare_exports.py --persons 1000000

Builds two normalised person tables in DuckDB (what the load and normalise stages hand over) that
differ by known amounts — persons added, removed, moved, households added and removed, status and
field changes — then times the set-based comparison (`reconcile.compare_exports._build`) alone.
Reading and normalising the two files is the run's load stage and is measured by benchmarks/county.py.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import polars as pl

from reconcile.compare_exports import _build
from reconcile.db import connect


def persons(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    hh = np.arange(n) // 4
    births = [date(1940, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 29000, n)]
    return pl.DataFrame({
        "source": "old", "row": np.arange(n), "id_number": [f"430624{i:011d}X" for i in range(n)],
        "id_number_valid": True, "hh_code": [f"43062410{h:011d}" for h in hh], "name": [f"人{i}" for i in range(n)],
        "relation": np.where(np.arange(n) % 4 == 0, "户主", "之子"), "sex": np.where(rng.random(n) < .5, "男", "女"),
        "birth_date": births, "health": "健康", "labor": "普通劳动力", "township": [f"镇{h % 20}" for h in hh],
        "village": [f"村{h % 300}" for h in hh], "head_name": [f"人{h * 4}" for h in hh],
        "head_id": [f"430624{h * 4:011d}X" for h in hh], "hh_size": 4,
        "status": np.where(rng.random(n) < .8, "已脱贫", "未脱贫"), "exit_year": 2018, "monitor_type": None,
        "risk_status": None,
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    args = ap.parse_args()
    old = persons(args.persons, 1)
    k = args.persons // 100  # 1% of each kind of change
    new = old.slice(k)  # removed: the first k persons (whole households)
    new = new.with_columns(
        source=pl.lit("new"),
        status=pl.when(pl.col("row") % 97 == 0).then(pl.lit("已脱贫")).otherwise(pl.col("status")),
        hh_code=pl.when(pl.col("row") % 211 == 1).then(pl.lit("NEW") + pl.col("hh_code")).otherwise(pl.col("hh_code")),
    )
    added = persons(k, 2).with_columns(source=pl.lit("new"), id_number=pl.format("NEWID{}", pl.col("row")),
                                       hh_code=pl.format("ADD{}", pl.col("row") // 4))
    both = pl.concat([old, new, added.cast(old.schema)])
    con = connect(None)
    con.register("_p", both.to_arrow())
    con.execute("create table src_person as select * from _p")
    started = time.perf_counter()
    _build(con, None, None)
    seconds = time.perf_counter() - started
    counts = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
              for t in ("cmp_household_change", "cmp_person_change", "cmp_field_change")}
    print(f"{args.persons:,} persons per export: comparison {seconds:.1f} s; {counts}")


if __name__ == "__main__":
    main()
