"""A province run: counties as partitions, merged, province rules across counties; the Spark engine equal to local."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from reconcile import run as run_county
from reconcile.errors import InputError
from reconcile.province import load_province
from reconcile.province.run import run_province
from reconcile_synth.province import generate_province
from tests.e2e.run_database import stage_timing

SYSTEM_FILE = "国家系统导出.csv"
MOVED_ID_COLUMN = "证件号码"


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    """Three small counties, and one household of the first also registered in the second's system export."""
    root = tmp_path_factory.mktemp("province")
    config = generate_province(root / "省", counties=3, households_per_county=60, seed=11, fmt="csv", workers=1)
    counties = sorted(p.parent for p in config.parent.glob("*/reconcile.yaml"))
    source, target = counties[0] / SYSTEM_FILE, counties[1] / SYSTEM_FILE
    rows = list(csv.DictReader(io.StringIO(source.read_text(encoding="gb18030"))))
    heads = [r for r in rows if r["与户主关系"] == "户主" and len(r[MOVED_ID_COLUMN]) == 18]
    moved = [r for r in rows if r["户编号"] == heads[0]["户编号"]]
    with open(target, "a", encoding="gb18030", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writerows(moved)
    return config


def _moved_head(config: Path) -> str:
    county = sorted(p.parent for p in config.parent.glob("*/reconcile.yaml"))[0]
    rows = list(csv.DictReader(io.StringIO((county / SYSTEM_FILE).read_text(encoding="gb18030"))))
    return next(r for r in rows if r["与户主关系"] == "户主" and len(r[MOVED_ID_COLUMN]) == 18)[MOVED_ID_COLUMN]


@pytest.fixture(scope="module")
def local_result(province, tmp_path_factory):
    # split by county too: the per-county workbooks are checked below without a second province run
    return run_province(load_province(province), output=tmp_path_factory.mktemp("out") / "local", workers=2,
                        split_by="county")


def test_a_household_in_two_counties_is_found_across_them(province, local_result):
    head = _moved_head(province)
    findings = local_result.findings
    # one problem, one finding: the person once, naming both counties and both households
    multi = findings.filter((pl.col("rule_id") == "LK-PERSON-MULTI") & (pl.col("person_id") == head))
    assert multi.height == 1, "one person in two counties is one finding"
    message, evidence = multi["message"][0], json.loads(multi["evidence"][0])
    counties = {h["县"] for h in evidence["各户"]}
    assert "同时登记在2户(分属2个县:" in message
    assert len(evidence["各户"]) == 2 and len(counties) == 2 and all(c and c in message for c in counties)
    duplicate = findings.filter(pl.col("rule_id") == "LK-HH-DUPLICATE-COUNTIES")
    assert duplicate.height == 1 and duplicate["cluster_id"][0] == multi["cluster_id"][0]
    assert "登记在2个县" in duplicate["message"][0]
    assert len(json.loads(duplicate["evidence"][0])["各县"]) == 2


def test_partitions_lose_nothing_a_county_run_finds(province, local_result, tmp_path):
    """Each county run alone finds what the province run finds for that county (province rules aside)."""
    province_ids = set(local_result.findings["finding_id"].to_list())
    for county in sorted(province.parent.glob("*/reconcile.yaml"))[1:]:
        alone = run_county(county, output=tmp_path / county.parent.name).findings
        alone = alone.filter(~pl.col("rule_id").is_in(["LK-PERSON-MULTI", "LK-HH-DUPLICATE-COUNTIES"]))
        assert alone.height > 0
        assert set(alone["finding_id"].to_list()) <= province_ids


def test_input_issues_name_their_county(local_result):
    issues = local_result.input_issues
    assert issues.height
    keys = {p["partition"] for p in local_result.partitions}
    assert all(f.split("/")[0] in keys for f in issues["file"].to_list())
    assert all(m.startswith("【") for m in issues["message"].to_list())


def test_the_report_covers_the_province(local_result):
    assert (local_result.output / "核查报告.xlsx").exists() and (local_result.output / "report.html").exists()
    runs = local_result.rule_runs
    assert runs["rule_id"].n_unique() == runs.height, "one rule_run row per rule for the whole province"
    # township names repeat across counties: the findings keep county and township apart, and the province's
    # own workbook reads each township with its county in front (its sheets group by township)
    counties = {p["region"] for p in local_result.partitions}
    findings = local_result.findings.filter(pl.col("township").is_not_null())
    assert findings.height and not any(t.startswith(c) for t in findings["township"].unique() for c in counties)
    places = {f"{c}{t}" for c, t in findings.select("county", "township").unique().iter_rows()}
    assert _column(local_result.output / "核查报告.xlsx", "乡镇") == places


def _java() -> bool:
    return shutil.which("java") is not None and subprocess.run(["java", "-version"], capture_output=True).returncode == 0


def test_spark_engine_gives_the_local_findings(province, local_result, tmp_path):
    pytest.importorskip("pyspark", reason='the Spark engine needs pip install "reconcile[spark]"')
    if not _java():
        pytest.skip("Spark needs a Java runtime (Debian: apt-get install default-jre-headless)")
    spark = run_province(load_province(province), output=tmp_path / "spark", engine="spark", master="local[2]")
    columns = local_result.findings.columns
    local = local_result.findings.sort("finding_id")
    assert spark.findings.select(columns).sort("finding_id").equals(local)
    assert spark.input_issues.sort(["file", "row", "column"]).equals(
        local_result.input_issues.sort(["file", "row", "column"]).select(spark.input_issues.columns))


def test_findings_name_their_county_and_split_by_county(local_result):
    """Every finding of a province run says its county (a cross-county one: its first household's); the report
    splits into one workbook per county, each holding only that county's findings."""
    findings = local_result.findings
    assert "county" in findings.columns and findings["county"].null_count() == 0
    names = sorted(set(findings["county"].to_list()))
    assert len(names) >= 2
    for name in names:
        path = local_result.output / "分县" / f"核查报告_{name}.xlsx"
        assert path.exists()
        own = findings.filter(pl.col("county") == name)
        # the county's own workbook reads like a county run's: its townships by their own names
        assert _column(path, "乡镇") == set(own["township"].drop_nulls().to_list())
        assert _column(path, "乡镇", rows=True) == own.height


def _column(path: Path, header: str, rows: bool = False):
    """A column of the 问题台账 sheet: its distinct non-empty values, or (rows=True) how many rows it has."""
    import fastexcel

    sheet = fastexcel.read_excel(path).load_sheet_by_name("问题台账", header_row=None, dtypes="string").to_polars()
    at = next(i for i, r in enumerate(sheet.iter_rows()) if header in r)
    index = sheet.row(at).index(header)
    body = sheet.slice(at + 1)
    return body.height if rows else {v for v in body.to_series(index).to_list() if v}


def test_a_county_config_refuses_split_by_county(province, tmp_path):
    county = sorted(province.parent.glob("*/reconcile.yaml"))[0]
    with pytest.raises(InputError, match="只用于省级配置"):
        run_county(county, output=tmp_path / "x", split_by="county")


def test_the_run_database_keeps_every_stage_and_each_county_s_seconds(local_result):
    rows = [(scope, stage, seconds) for scope, stage, _, seconds in stage_timing(local_result.database)]
    run_rows = {stage: seconds for scope, stage, seconds in rows if scope == "run"}
    assert run_rows == pytest.approx(local_result.timings)
    assert {"preflight", "counties", "merge", "province_rules", "ledger", "report"} <= set(run_rows)  # no save
    for part in local_result.partitions:
        county = {stage: seconds for scope, stage, seconds in rows if scope == part["partition"]}
        # the county's plan is the one the preflight compiled (its seconds), not compiled again
        assert county == pytest.approx(part["seconds"]) and {"plan", "load", "link", "check"} <= set(county)
        assert list(county)[0] == "plan"


def test_the_province_database_reads_the_counties_where_they_are(local_result):
    """The merge copies no county table: the province's tables of the counties are views over each county's own
    database, kept in the output folder; they read once the counties are attached as province_county says."""
    import duckdb

    from reconcile.db import attach_partitions

    out = local_result.output
    (run_folder,) = (out / "partitions").iterdir()
    counties = sorted(p.parent.name for p in run_folder.glob("*/county.duckdb"))
    # nothing half-written or scratch is left behind: each county's file was renamed into place, its work removed
    assert not [p for p in out.rglob(".*") if p.name != ".reconcile.lock"]
    assert counties == sorted(p["partition"] for p in local_result.partitions)
    con = duckdb.connect(str(local_result.database), read_only=True)
    views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert {"src_person", "src_household", "hh_link", "person_link", "input_issue", "hh_wide"} <= views
    assert not {"src_person", "hh_link", "input_issue"} & tables and "finding" in tables
    with pytest.raises(duckdb.CatalogException):
        con.execute("select count(*) from src_person").fetchall()
    attach_partitions(con, out)
    merged = con.execute("select count(*) from src_person").fetchall()[0][0]
    each = 0
    for county in counties:
        alone = duckdb.connect(str(run_folder / county / "county.duckdb"), read_only=True)
        each += alone.execute("select count(*) from src_person").fetchall()[0][0]
        alone.close()
    assert merged == each > 0
    issues = con.execute("select count(*) from input_issue").fetchall()[0][0]
    assert issues == local_result.input_issues.height
    # the households' cards and monitoring records are the counties' own, read where they are, not built again
    assert {"household_card", "monitored_household"} <= views
    assert con.execute("select count(*) from household_card").fetchall()[0][0] == \
        con.execute("select count(*) from hh_registered").fetchall()[0][0] > 0
    assert con.execute("""select count(*) from finding f join household_card c using (cluster_id)
                          where f.card is distinct from c.card_label""").fetchall()[0][0] == 0
    con.close()


def test_a_province_database_attaches_only_county_databases_inside_its_folder(tmp_path):
    """A county database's path comes from the province database: one climbing out of the output folder, a link,
    or an alias that is not the merge's own is refused, never attached."""
    import duckdb

    from reconcile.db import attach_partitions
    from reconcile.errors import InputError

    out = tmp_path / "out"
    out.mkdir()
    duckdb.connect(str(tmp_path / "elsewhere.duckdb")).close()
    (out / "linked").symlink_to(tmp_path, target_is_directory=True)
    for alias, database, message in [("county_000", "../elsewhere.duckdb", "不在输出目录"),
                                     ("county_000", "linked/elsewhere.duckdb", "链接"),
                                     ("county_000", "missing/county.duckdb", "找不到县数据库"),
                                     ("x; drop table finding", "county.duckdb", "别名")]:
        con = duckdb.connect()
        con.execute("create table province_county as select 'k' as key, '甲县' as name, ? as alias, ? as database",
                    [alias, database])
        with pytest.raises(InputError, match=message):
            attach_partitions(con, out)
        assert {r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()} \
            == {"memory", "system", "temp"}
        con.close()


def test_a_new_run_replaces_the_counties_of_the_last_and_a_failed_one_leaves_them(province, tmp_path, monkeypatch):
    """Each run keeps its counties' databases in a folder of its own, removed only when a later run's database is
    in place; a run that fails leaves the previous database and its counties readable, and no folder of its own."""
    import reconcile.province.run as province_run
    from reconcile.sample import open_run_database

    config = load_province(province)
    first = run_province(config, output=tmp_path / "out", workers=1)
    (kept,) = (first.output / "partitions").iterdir()

    def broken(*args, **kwargs):
        raise RuntimeError("merge failed")

    monkeypatch.setattr(province_run, "merge_partitions", broken)
    with pytest.raises(RuntimeError, match="merge failed"):
        run_province(config, output=tmp_path / "out", workers=1)
    assert list((first.output / "partitions").iterdir()) == [kept]
    monkeypatch.undo()
    con = open_run_database(config.with_output(first.output).merged_config())
    assert con.execute("select count(*) from hh_link").fetchall()[0][0] == first.links.height
    con.close()
    second = run_province(config, output=tmp_path / "out", workers=1)
    (now,) = (second.output / "partitions").iterdir()
    assert now != kept
    con = open_run_database(config.with_output(second.output).merged_config())
    assert con.execute("select count(*) from hh_link").fetchall()[0][0] == second.links.height
    con.close()


def test_the_province_report_reads_the_input_issues_places_the_counties_worked_out(local_result):
    """Each county places its input issues in their township and village itself: the province report reads those,
    not every county's input tables, and gets what reading the input tables would give."""
    import duckdb

    from reconcile.db import attach_partitions, query_frame, table_names
    from reconcile.report.data import INPUT_ISSUE_PLACE, _input_issues, _input_issues_sql

    con = duckdb.connect(str(local_result.database), read_only=True)
    attach_partitions(con, local_result.output)
    tables = table_names(con)
    assert INPUT_ISSUE_PLACE in tables
    read = _input_issues(con, tables)
    worked_out = query_frame(con, _input_issues_sql(tables - {INPUT_ISSUE_PLACE}))
    con.close()
    assert read.height == local_result.input_issues.height > 0
    assert read["township"].drop_nulls().len() > 0
    assert read.equals(worked_out)
