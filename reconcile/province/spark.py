"""The Spark engine: each county is one Spark task running the same DuckDB stages; IDs across counties by a Spark join.

Spark reads every file of every county folder itself (`binaryFile`), so the folders may sit on any file
system Spark knows (file://, hdfs://, s3a://); a task writes its county's files into a private temporary
folder, runs `run_partition` on them and returns its tables as Parquet bytes plus the (ID number,
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

from ..errors import ReconcileError
from . import ProvinceConfig

OCCURRENCE_TABLE = "person_id_occurrence"
REPORT_TABLE = "_partition_report"
MULTI_IDS_FILE = "_spark_multi_ids.parquet"
CHUNK = 8 << 20


def _session(master: str | None):
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ReconcileError('Spark 引擎需要 pyspark:pip install "reconcile[spark]"(还需要 Java 17 运行环境)') from exc
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
    root = province.raw.get("input_root")
    if root:
        relative = local.relative_to(province.path.parent).as_posix()
        return str(root).rstrip("/") + "/" + relative
    return "file://" + local.resolve().as_posix()  # Hadoop paths take the characters as they are, not %-escaped


def _county_task(config_names: dict[str, str], task_cpus: int):
    """The function each Spark task runs on one county's files (an Arrow table of path, content, county)."""

    def task(table):
        import duckdb
        import pyarrow as pa

        from ..config import load_config
        from .partition import run_partition

        county = table.column("county")[0].as_py()
        from urllib.parse import unquote, urlparse

        root = urlparse(table.column("root")[0].as_py()).path.rstrip("/")
        rows: dict[str, list] = {"county": [], "table": [], "data": [], "id_number": [], "cluster_id": []}
        with tempfile.TemporaryDirectory(prefix="reconcile-county-") as tmp:
            folder = Path(tmp) / "in"
            for path, content in zip(table.column("path").to_pylist(), table.column("content").to_pylist(),
                                     strict=True):
                local = unquote(urlparse(path).path)
                if not local.startswith(root + "/"):
                    continue
                relative = local[len(root) + 1:]
                target = (folder / relative).resolve()
                if folder.resolve() not in target.parents:  # a path that climbs out is never written
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            config = load_config(folder / config_names[county])
            config.partition = county
            config = config.with_output(Path(tmp) / "out")
            report = run_partition(config, Path(tmp) / "part", threads=task_cpus)
            for parquet in sorted((Path(tmp) / "part").glob("*.parquet")):
                data = parquet.read_bytes()
                # pieces of at most CHUNK bytes: one huge cell would have to fit in the JVM heap at once
                for n, start in enumerate(range(0, max(len(data), 1), CHUNK)):
                    rows["county"].append(county)
                    rows["table"].append(f"{parquet.stem}#{n:06d}")
                    rows["data"].append(data[start:start + CHUNK])
                    rows["id_number"].append(None)
                    rows["cluster_id"].append(None)
            rows["county"].append(county)
            rows["table"].append(REPORT_TABLE)
            rows["data"].append(json.dumps(report).encode("utf-8"))
            rows["id_number"].append(None)
            rows["cluster_id"].append(None)
            occurrence = Path(tmp) / "part" / f"{OCCURRENCE_TABLE}.parquet"
            if occurrence.exists():
                pairs = duckdb.sql(f"select distinct id_number, cluster_id from read_parquet('{occurrence.as_posix()}')"
                                   ).fetchall()
                for id_number, cluster_id in pairs:
                    rows["county"].append(county)
                    rows["table"].append(None)
                    rows["data"].append(None)
                    rows["id_number"].append(id_number)
                    rows["cluster_id"].append(cluster_id)
        return pa.table(rows, schema=pa.schema([("county", pa.string()), ("table", pa.string()),
                                                ("data", pa.binary()), ("id_number", pa.string()),
                                                ("cluster_id", pa.string())]))

    return task


def run_counties_on_spark(province: ProvinceConfig, parts: Path, master: str | None,
                          progress: Callable[[dict], None]) -> list[dict]:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = _session(master)
    try:
        frames = []
        names: dict[str, str] = {}
        for county in province.counties:
            root = county_root(province, county.partition)
            names[county.partition] = county.path.name if county.path else "reconcile.yaml"
            frames.append(spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(root)
                          .select("path", "content")
                          .withColumn("county", F.lit(county.partition)).withColumn("root", F.lit(root)))
        files = frames[0]
        for frame in frames[1:]:
            files = files.unionByName(frame)
        # skip earlier outputs that may sit inside a county folder
        files = files.filter(~F.col("path").contains("/out/") & ~F.col("path").contains("/.partitions/"))
        schema = "county string, table string, data binary, id_number string, cluster_id string"
        results = files.repartition(max(1, len(province.counties)), "county").groupBy("county") \
            .applyInArrow(_county_task(names, int(spark.conf.get("spark.task.cpus", "1"))), schema) \
            .persist(StorageLevel.DISK_ONLY)  # the counties' tables stay out of the JVM heap
        reports: list[dict] = []
        pieces: dict[Path, dict[int, bytes]] = {}
        for row in results.filter(F.col("data").isNotNull()).select("county", "table", "data").toLocalIterator():
            if row["table"] == REPORT_TABLE:
                reports.append(json.loads(bytes(row["data"]).decode("utf-8")))
                progress(reports[-1])
                continue
            table, _, n = row["table"].rpartition("#")
            pieces.setdefault(parts / row["county"] / f"{table}.parquet", {})[int(n)] = bytes(row["data"])
        for target, chunks in pieces.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as f:
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
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id_number": pa.array(ids, type=pa.string())}), path)


def load_spark_occurrences(con, parts: Path) -> None:
    """Keep the occurrences of the ID numbers Spark found in several households: all the province rules need."""
    con.execute(f"""
        create or replace table {OCCURRENCE_TABLE} as
        select * from {OCCURRENCE_TABLE}
        where id_number in (select id_number from read_parquet('{(parts / MULTI_IDS_FILE).as_posix()}'))
    """)
