"""End to end: the bundled monitoring-era sample county (assessment year 2024, the 防返贫监测 export's layout)
against its ground truth."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from reconcile import run
from reconcile.check.packs import load_rules
from reconcile.evaluate import findings_on_clean, read_truth, score
from reconcile.resources import kinds_csv, sample_dir

SAMPLE = sample_dir() / "监测期" / "reconcile.yaml"
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="data/sample/监测期 is not generated")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run(SAMPLE, output=tmp_path_factory.mktemp("monitoring-out"))


@pytest.fixture(scope="module")
def truth():
    return read_truth(SAMPLE.parent / "truth")


def test_every_injected_kind_is_found_and_nothing_else(sample_run, truth):
    truth_findings, _ = truth
    implemented = {r.kind for r in load_rules()}
    table = score(sample_run.findings, truth_findings)
    missed = table.filter(pl.col("recall") < 1.0)
    assert missed.height == 0, f"kinds with recall < 1:\n{missed}"
    wrong = table.filter(pl.col("precision") < 1.0)
    assert wrong.height == 0, f"kinds with findings the truth does not hold:\n{wrong}"
    with open(kinds_csv(), encoding="utf-8") as f:
        monitoring_kinds = {row["kind"] for row in csv.DictReader(f) if row["kind"] in implemented}
    # every kind but 错退 by income (a monitoring year judges the exit year's income, which no source carries)
    assert set(table.filter(pl.col("truth") > 0)["kind"]) == monitoring_kinds - {"wrong_exit_income"}


def test_no_finding_on_a_clean_household(sample_run, truth):
    _, households = truth
    wrong = findings_on_clean(sample_run.findings, households)
    assert wrong.height == 0, wrong.select("rule_id", "hh_code", "head_name", "message").to_dicts()[:10]


def test_the_monitoring_rules_find_what_the_export_says(sample_run):
    """The checks of the monitoring export's own columns run on it and find their problems (a rule that
    silently lost its column would find nothing and still pass the scores above only if nothing was injected)."""
    failed = sample_run.rule_runs.filter(pl.col("status") == "error")
    assert failed.height == 0, failed.to_dicts()
    by_rule = dict(sample_run.findings.group_by("rule_id").len().iter_rows())
    for rule in ("MO-CONTACT", "CK-PHONE", "MO-POST", "MO-POST-AWAY", "CK-MEDICAL-SCHEME", "CK-SERIOUS-ILLNESS",
                 "CK-WORK-MONTHS", "CK-STUDENT-LABOR", "CK-EDU-STUDENT", "MO-LAND-RANGE", "MO-GUARANTEE-FLAG",
                 "MO-RISK-ILLNESS", "MO-ELIM-NO-MEASURE", "MO-RISK-KEPT", "MI-INCOME-UNMONITORED"):
        assert by_rule.get(rule, 0) > 0, rule
    assert "EX-INCOME" not in by_rule, "a low income now is 应纳未纳 in a monitoring year, not 错退"


def test_the_numbered_risks_reach_the_rules(sample_run):
    """致贫/返贫风险2 and 3 are read as the further risks (other_causes), from the export's own columns."""
    import duckdb

    with duckdb.connect(str(sample_run.output / "reconcile.duckdb"), read_only=True) as con:
        further = con.execute(
            "select count(*) from hh_source where source = 'system' and len(other_causes) > 0").fetchone()[0]
    assert further > 0


@pytest.mark.parametrize(("year", "corruption", "fmt"), [(2021, "medium", "csv"), (2025, "high", "parquet")])
def test_other_monitoring_counties_score_exactly(tmp_path, year, corruption, fmt):
    """Other years, noise levels and file formats of the monitoring era: every truth row found, every finding
    in the truth, none on a clean household."""
    pytest.importorskip("reconcile_synth", reason="the generator is in a source checkout only")
    from reconcile_synth import generate

    config = generate(tmp_path / "county", households=500, seed=year, corruption=corruption, year=year, fmt=fmt)
    result = run(config, output=tmp_path / "out")
    truth_findings, households = read_truth(config.parent / "truth")
    table = score(result.findings, truth_findings)
    assert table.filter((pl.col("recall") < 1.0) | (pl.col("precision") < 1.0)).height == 0, table
    assert findings_on_clean(result.findings, households).height == 0
