"""End to end: the bundled sample county against its ground truth."""

from __future__ import annotations

import pytest

from reconcile import run
from reconcile.check.packs import load_rules
from reconcile.evaluate import findings_on_clean, read_truth, score
from reconcile.resources import sample_dir
from tests.e2e.golden import check_golden
from tests.e2e.run_database import stage_timing

SAMPLE = sample_dir() / "reconcile.yaml"
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="data/sample is not generated")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run(SAMPLE, output=tmp_path_factory.mktemp("sample-out"))


@pytest.fixture(scope="module")
def truth():
    return read_truth(SAMPLE.parent / "truth")


def test_every_implemented_kind_is_found(sample_run, truth):
    truth_findings, _ = truth
    implemented = {r.kind for r in load_rules()}
    table = score(sample_run.findings, truth_findings, kinds=implemented & set(truth_findings["kind"]))
    missed = table.filter(table["recall"] < 1.0)
    assert missed.height == 0, f"kinds with recall < 1:\n{missed}"
    imprecise = table.filter(table["precision"] < 0.95)
    assert imprecise.height == 0, f"kinds with precision < 0.95:\n{imprecise}"
    assert table.height == 33, "every kind of kinds.csv is injected in the sample and has a rule"


def test_no_finding_on_a_clean_household(sample_run, truth):
    _, households = truth
    wrong = findings_on_clean(sample_run.findings, households)
    assert wrong.height == 0, wrong.select("rule_id", "hh_code", "head_name", "message").to_dicts()[:10]


def test_no_rule_failed_and_outputs_exist(sample_run):
    failed = sample_run.rule_runs.filter(sample_run.rule_runs["status"] == "error")
    assert failed.height == 0, failed.to_dicts()
    for name in ("findings.csv", "findings.parquet", "input_issues.csv", "links.parquet", "person_links.parquet",
                 "reconcile.duckdb"):
        assert (sample_run.output / name).exists()
    with open(sample_run.output / "findings.csv", "rb") as f:
        assert f.read(3) == b"\xef\xbb\xbf"


def test_findings_have_exactly_the_contract_columns(sample_run):
    import polars as pl

    frame = pl.read_parquet(sample_run.output / "findings.parquet")
    # DESIGN §5: these names, in this order, first; more may follow them
    assert frame.columns[:18] == [
        "finding_id", "rule_id", "kind", "category", "severity", "township", "village", "cluster_id", "hh_code",
        "head_name", "head_id", "person_name", "person_id", "sources", "evidence", "message", "advice", "status",
    ]
    assert frame["finding_id"].n_unique() == frame.height


def test_finding_ids_are_those_recorded(sample_run):
    """Speed work (issue 18) must not change what is found: every finding_id of the sample county, with its rule and
    household, as recorded before the stages were rewritten. An intended change of findings regenerates the file
    (`RECONCILE_REGENERATE_GOLDEN=1`) and the diff shows which findings came and went."""
    rows = sample_run.findings.select("finding_id", "rule_id", "hh_code").sort("finding_id")
    text = "".join(f"{fid}\t{rule}\t{hh or ''}\n" for fid, rule, hh in rows.iter_rows())
    check_golden("sample_finding_ids.tsv", text)


def test_the_run_database_keeps_the_seconds_of_every_stage(sample_run):
    from reconcile.pipeline import STAGES

    rows = [(stage, label, seconds) for scope, stage, label, seconds in stage_timing(sample_run.database)
            if scope == "run"]
    assert {stage for stage, _, _ in rows} == {name for name, _ in STAGES}  # the save (beside the report) included
    assert {stage: seconds for stage, _, seconds in rows} == pytest.approx(sample_run.timings)
    assert all(seconds > 0 for _, _, seconds in rows) and dict(STAGES)["save"] in {label for _, label, _ in rows}


def test_the_saved_database_has_every_table_the_run_made(sample_run, tmp_path, monkeypatch):
    """The database is saved beside the reports: the run's tables are final before it starts, and a table made
    while it runs (none should be) is still saved."""
    import duckdb

    from reconcile import pipeline

    con = duckdb.connect(str(sample_run.database), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        assert con.execute("select count(*) from link_rate").fetchone()[0] > 0
    finally:
        con.close()
    assert {"finding", "finding_ledger", "hh_link", "person_link", "rule_run", "link_rate", "input_issue"} <= tables

    write_reports = pipeline.write_reports

    def reports_that_make_a_table(con, *args, **kwargs):
        con.execute("create table made_during_the_report as select 42 as answer")
        return write_reports(con, *args, **kwargs)

    monkeypatch.setattr(pipeline, "write_reports", reports_that_make_a_table)
    again = run(SAMPLE, output=tmp_path / "late")
    con = duckdb.connect(str(again.database), read_only=True)
    try:
        assert con.execute("select answer from made_during_the_report").fetchall() == [(42,)]
    finally:
        con.close()


def test_a_rerun_gives_the_same_finding_ids_in_the_same_order(sample_run, tmp_path):
    """The same findings, and the files list them in one order whatever order the rules' rows came in: two findings
    of one rule on one household (two members) are ordered by their id."""
    again = run(SAMPLE, output=tmp_path / "again")
    assert again.findings["finding_id"].to_list() == sample_run.findings["finding_id"].to_list()
    keys = ["township", "village", "cluster_id", "rule_id", "finding_id"]
    assert sample_run.findings.select(keys).equals(sample_run.findings.select(keys).sort(keys, nulls_last=True))
    assert sample_run.findings.select("cluster_id", "rule_id").is_duplicated().any(), "the sample has such ties"


def test_no_internal_code_reaches_the_workbook(sample_run):
    """People read Chinese: no parameter name, field code, source or register key, problem code or severity
    code in the workbook's sheets (说明 and 核查范围 name the config's own keys on purpose)."""
    import re

    import fastexcel

    codes = re.compile(r"\b(?:[a-z]+(?:_[a-z0-9]+)+|system|archive|manual|survey|hukou|dibao|tekun|low|medium|high)\b")
    reader = fastexcel.read_excel(sample_run.output / "核查报告.xlsx")
    found = {}
    for name in reader.sheet_names:
        if name in ("说明", "核查范围"):
            continue
        frame = reader.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars()
        for column in frame.columns:
            for value in frame[column].drop_nulls().to_list():
                for code in codes.findall(re.sub(r"[\w.\-]+\.(?:xlsx|csv|parquet|yaml)", "", value)):
                    found.setdefault((name, code), value[:120])
    assert not found, list(found.items())[:10]
