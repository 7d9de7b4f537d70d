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
    assert not (local_result.output / ".partitions").exists()
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
    assert {"counties", "merge", "province_rules", "ledger", "report"} <= set(run_rows)  # built in its file: no save
    for part in local_result.partitions:
        county = {stage: seconds for scope, stage, seconds in rows if scope == part["partition"]}
        assert county == pytest.approx(part["seconds"]) and {"load", "link", "check"} <= set(county)
