"""The Spark engine: each county is one Spark task running the same DuckDB stages; IDs across counties by a Spark join.

Spark reads every file of every county folder itself (`binaryFile`), so the folders may sit on any file
system Spark knows (file://, hdfs://, s3a://); a task writes its county's files into a private temporary
folder, runs `run_partition` on them and returns its database (`county.duckdb`) as bytes plus the (ID number,
household) pairs the province-scope rules need. The driver writes the tables under the output folder
and keeps only the ID numbers that Spark found in more than one household.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from ..errors import ReconcileError, require_extra
from ..outputs import inside, written
from . import ProvinceConfig
from .partition import PARTITION_DB

OCCURRENCE_TABLE = "person_id_occurrence"
REPORT_TABLE = "_partition_report"
MULTI_IDS_FILE = "_spark_multi_ids.parquet"
CHUNK = 8 << 20
# what a county task returns: its database in pieces (name#piece, data) and its (ID number, household) pairs
RESULT_SCHEMA = pa.schema([("county", pa.string()), ("table", pa.string()), ("data", pa.binary()),
                           ("id_number", pa.string()), ("cluster_id", pa.string())])
RESULT_DDL = "county string, table string, data binary, id_number string, cluster_id string"


def require_spark() -> None:
    require_extra("pyspark", "spark", "Spark 引擎", "(还需要 Java 17 运行环境)")


def _session(master: str | None):
    require_spark()
    from pyspark.sql import SparkSession

    # workers run this very interpreter, so they import the same reconcile and DuckDB
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("reconcile")
    if master:
        builder = builder.master(master)
    elif not os.environ.get("SPARK_HOME") and "spark.master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        builder = builder.master("local[*]")
    if not master or master.startswith("local"):
        # offline machines: no UI port, bind to loopback; in local mode the driver's heap is the executors'
        # too, and the default 1 GiB is less than one county's tables in flight
        builder = builder.config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1") \
            .config("spark.driver.bindAddress", "127.0.0.1") \
            .config("spark.driver.memory", os.environ.get("RECONCILE_SPARK_DRIVER_MEMORY", "4g"))
    return (builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", "8").config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def county_root(province: ProvinceConfig, key: str) -> str:
    """Where Spark reads a county's folder: under `input_root` when the province names one, else locally."""
    county = next(c for c in province.counties if c.partition == key)
    local = county.path.parent if county.path else county.base_dir
    root = province.input_root
    if root:
        relative = local.relative_to(province.path.parent).as_posix()
        return str(root).rstrip("/") + "/" + relative
    return "file://" + local.resolve().as_posix()  # Hadoop paths take the characters as they are, not %-escaped


def _county_task(config_names: dict[str, str], skipped: dict[str, str], task_cpus: int):
    """The function each Spark task runs on one county's files (an Arrow table of path, content, county, root).

    `skipped` holds, per county, the folder of its own earlier outputs (relative to the county folder),
    whose files are not inputs."""

    def task(table):
        from urllib.parse import unquote, urlparse

        from ..config import load_config
        from ..db import connect
        from .partition import run_partition

        county = table.column("county")[0].as_py()
        root = urlparse(table.column("root")[0].as_py()).path.rstrip("/")
        with tempfile.TemporaryDirectory(prefix="reconcile-county-") as tmp:
            folder = Path(tmp) / "in"
            for path, content in zip(table.column("path").to_pylist(), table.column("content").to_pylist(),
                                     strict=True):
                local = unquote(urlparse(path).path)
                if not local.startswith(root + "/"):
                    continue
                relative = local[len(root) + 1:]
                if skipped.get(county) and (relative + "/").startswith(skipped[county] + "/"):
                    continue
                target = (folder / relative).resolve()
                if folder.resolve() not in target.parents:  # a path that climbs out is never written
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            config = load_config(folder / config_names[county])
            config.partition = county
            part = Path(tmp) / "part"
            report = run_partition(config, part, threads=task_cpus)
            names, pieces = [], []
            database = part / PARTITION_DB
            data = database.read_bytes()
            # pieces of at most CHUNK bytes: one huge cell would have to fit in the JVM heap at once
            for n, start in enumerate(range(0, max(len(data), 1), CHUNK)):
                names.append(f"{PARTITION_DB}#{n:06d}")
                pieces.append(data[start:start + CHUNK])
            del data
            names.append(REPORT_TABLE)
            pieces.append(json.dumps(report).encode("utf-8"))
            tables = pa.table({"county": [county] * len(names), "table": names, "data": pieces,
                               "id_number": pa.nulls(len(names), pa.string()),
                               "cluster_id": pa.nulls(len(names), pa.string())}, schema=RESULT_SCHEMA)
            con = connect(database, read_only=True)
            try:
                if not con.execute("select count(*) from duckdb_tables() where table_name = ?",
                                   [OCCURRENCE_TABLE]).fetchall()[0][0]:
                    return tables
                pairs = con.sql(f"""
                    select $county as county, null::varchar as "table", null::blob as data, id_number, cluster_id
                    from (select distinct id_number, cluster_id from {OCCURRENCE_TABLE})
                """, params={"county": county}).to_arrow_table().cast(RESULT_SCHEMA)
            finally:
                con.close()
            return pa.concat_tables([tables, pairs])
    return task


def run_counties_on_spark(province: ProvinceConfig, parts: Path, master: str | None,
                          progress: Callable[[dict], None]) -> list[dict]:
    require_spark()
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = _session(master)
    try:
        frames = []
        names: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for county in province.counties:
            root = county_root(province, county.partition)
            names[county.partition] = county.path.name if county.path else "reconcile.yaml"
            if county.base_dir in county.output.parents:
                skipped[county.partition] = county.output.relative_to(county.base_dir).as_posix()
            frames.append(spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(root)
                          .select("path", "content")
                          .withColumn("county", F.lit(county.partition)).withColumn("root", F.lit(root)))
        files = frames[0]
        for frame in frames[1:]:
            files = files.unionByName(frame)
        results = files.repartition(max(1, len(province.counties)), "county").groupBy("county") \
            .applyInArrow(_county_task(names, skipped, int(spark.conf.get("spark.task.cpus", "1"))), RESULT_DDL) \
            .persist(StorageLevel.DISK_ONLY)  # the counties' tables stay out of the JVM heap
        reports: list[dict] = []
        keys = set(province.keys)
        pieces: dict[Path, dict[int, bytes]] = {}
        for row in results.filter(F.col("data").isNotNull()).select("county", "table", "data").toLocalIterator():
            if row["table"] == REPORT_TABLE:
                reports.append(json.loads(bytes(row["data"]).decode("utf-8")))
                progress(reports[-1])
                continue
            name, _, n = row["table"].rpartition("#")
            if name != PARTITION_DB or row["county"] not in keys:  # only what a county task sends: never a path
                raise ReconcileError(f"Spark 返回了无法识别的结果:县 {row['county']!r} 的 {row['table']!r}")
            pieces.setdefault(inside(parts, row["county"], PARTITION_DB), {})[int(n)] = bytes(row["data"])
        for target, chunks in pieces.items():
            with written(target) as partial, open(partial, "wb") as f:
                for n in sorted(chunks):
                    f.write(chunks[n])
        del pieces
        # the global step: an ID number recorded in more than one household, across all counties
        multi = results.filter(F.col("id_number").isNotNull()).groupBy("id_number") \
            .agg(F.countDistinct("cluster_id").alias("households")).filter(F.col("households") > 1) \
            .select("id_number")
        _write_ids(parts / MULTI_IDS_FILE, [r["id_number"] for r in multi.collect()])
        results.unpersist()
    finally:
        spark.stop()
    missing = sorted(set(province.keys) - {r["partition"] for r in reports})
    if missing:
        raise ReconcileError(f"Spark 没有返回这些县的结果:{'、'.join(missing)}")
    return reports


def _write_ids(path: Path, ids: list[str]) -> None:
    import pyarrow.parquet as pq

    with written(path) as partial:
        pq.write_table(pa.table({"id_number": pa.array(ids, type=pa.string())}), partial)


def load_spark_occurrences(con, parts: Path) -> None:
    """Keep the occurrences of the ID numbers Spark found in several households: all the province rules need."""
    con.execute(f"""
        create table _spark_occurrence as
        select * from {OCCURRENCE_TABLE}
        where id_number in (select id_number from read_parquet($ids))
    """, {"ids": (parts / MULTI_IDS_FILE).as_posix()})
    con.execute(f"drop view {OCCURRENCE_TABLE}")  # the merge's view over every county's
    con.execute(f"alter table _spark_occurrence rename to {OCCURRENCE_TABLE}")
