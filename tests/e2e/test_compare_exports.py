"""`reconcile compare-exports`: two exports with known changes, classified and checked against the registers."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from reconcile.compare_exports import compare_exports
from reconcile.compare_exports_report import write_comparison
from reconcile.resources import sample_dir

from .exports import make_exports

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    known = make_exports(folder)
    result = compare_exports(folder / "old.xlsx", folder / "new.xlsx", config=SAMPLE / "reconcile.yaml",
                             output=folder / "out", old_date="2020-01-01", new_date="2020-12-31")
    # computing writes no result (the caller renders); its scratch database lived in the output folder, not /tmp
    assert [p.name for p in (folder / "out").iterdir()] == [".reconcile.lock"]
    write_comparison(result)
    return known, result


def _one(frame: pl.DataFrame, **match) -> dict:
    rows = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in match.items()]))
    assert rows.height == 1, (match, rows)
    return rows.row(0, named=True)


def test_households_added_and_removed(compared):
    known, r = compared
    assert _one(r.households, hh_code=known["new_hh"])["type"] == "新识别"
    gone = _one(r.households, hh_code=known["gone_hh"])
    assert gone["change"] == "removed" and gone["type"] in ("销户", "自然销户(全户死亡)")


def test_persons_classified_as_dynamic_adjustment(compared):
    known, r = compared
    assert _one(r.persons, id_number=known["baby_id"])["type"] == "自然增加(出生)"
    assert _one(r.persons, id_number=known["dead_id"])["type"] == "自然减少(死亡)"
    members = r.persons.filter(pl.col("new_hh_code") == known["new_hh"])
    assert members.height == 2 and set(members["type"]) == {"新识别/新纳入(新增户成员)"}
    assert set(r.persons.filter(pl.col("old_hh_code") == known["gone_hh"])["type"]) == {"销户(所在户整户减少)"}


def test_field_changes_with_before_and_after(compared):
    known, r = compared
    status = _one(r.fields, hh_code=known["exit_hh"], field="status")
    assert (status["before"], status["after"], status["type"]) == ("未脱贫", "已脱贫", "标注脱贫")
    assert _one(r.fields, hh_code=known["exit_hh"], field="exit_year")["after"] == "2020"
    touched = {known["exit_hh"], known["name_hh"]}
    assert set(r.fields["hh_code"].drop_nulls()) <= touched | {known["host_hh"]}


def test_register_checks(compared):
    known, r = compared
    deaths = r.checks.filter(pl.col("check") == "死亡未减员")
    assert known["dead_id"] not in deaths["id_number"].to_list()  # removed in the new export
    assert deaths.height >= 1  # the sample county's deceased still listed
    births = r.checks.filter(pl.col("check") == "出生未增员")
    assert births.height >= 1 and known["baby_id"] not in births["id_number"].to_list()


def test_outputs_parquet_full_workbook_masked(compared):
    known, r = compared
    for name in ("hh_changes", "person_changes", "field_changes", "register_checks"):
        assert (r.output / f"{name}.parquet").exists()
    assert known["dead_id"] in pl.read_parquet(r.output / "person_changes.parquet")["id_number"].to_list()
    import fastexcel

    book = fastexcel.read_excel(r.output / "导出比对.xlsx")
    assert book.sheet_names == ["变动汇总", "户变动", "人员变动", "字段变动", "部门数据核对"]
    people = book.load_sheet_by_name("人员变动", header_row=None, dtypes="string").to_polars()
    text = " ".join(str(v) for c in people.columns for v in people[c].to_list() if v)
    assert known["dead_id"] not in text and known["dead_id"][:6] + "********" + known["dead_id"][-4:] in text


def test_cli_without_config_uses_header_synonyms(compared, tmp_path):
    known, _ = compared
    folder = tmp_path
    make_exports(folder)
    proc = subprocess.run([sys.executable, "-m", "reconcile.cli", "compare-exports", str(folder / "old.xlsx"),
                           str(folder / "new.xlsx"), "-o", str(folder / "out"), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["household_changes"].get("新识别") == 1
    assert summary["person_changes"].get("自然增加(出生)") == 1


def test_corrections_are_their_own_class(compared):
    """An ID corrected is 证件号码更正 (not 婚入 plus 其他减少); the head's name spelled anew is 户主姓名更正
    (not 户主变更)."""
    known, r = compared
    fixed = _one(r.persons, id_number=known["fixed_id"])
    assert (fixed["change"], fixed["type"]) == ("corrected", "证件号码更正")
    household = r.persons.filter((pl.col("old_hh_code") == known["fix_hh"]) | (pl.col("new_hh_code") == known["fix_hh"]))
    assert household.height == 1 and known["old_id"] not in r.persons["id_number"].to_list()
    name = _one(r.fields, hh_code=known["name_hh"], field="head_name")
    assert name["type"] == "户主姓名更正"
    assert "户主变更" not in r.fields.filter(pl.col("hh_code") == known["name_hh"])["type"].to_list()


def test_duplicate_ids_are_reported_never_merged(compared):
    known, r = compared
    assert r.counts["persons_old"] == known["old_rows"] and r.counts["persons_new"] == known["new_rows"]
    dups = r.checks.filter(pl.col("check") == "证件号码重复")
    ours = dups.filter(pl.col("id_number") == known["dup_id"])
    assert ours.height == 2 and set(ours["hh_code"]) == {known["dup_hh"], known["dup_elsewhere"]}
    assert all(d.startswith("新导出中该证件号码出现 2 次") for d in ours["detail"])
    # the sample's own 一人多户 (one person in two households) are in both exports, each row reported
    assert dups.filter(pl.col("detail").str.starts_with("旧导出")).height >= 2
    # the copy in the other household is a person added there, the original stays where it was
    added = r.persons.filter((pl.col("id_number") == known["dup_id"]) & (pl.col("change") == "added"))
    assert added.height == 1 and added["new_hh_code"][0] == known["dup_elsewhere"]


def test_the_api_takes_a_loaded_config(tmp_path):
    import reconcile

    make_exports(tmp_path)
    config = reconcile.load_config(SAMPLE / "reconcile.yaml")
    result = reconcile.compare_system_exports(tmp_path / "old.xlsx", tmp_path / "new.xlsx", config,
                                              output=tmp_path / "out")
    assert result.persons.height and (tmp_path / "out" / "导出比对.xlsx").exists()
