"""The run plan: compiled from headers and rules before any data row is read (issue 11)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
import yaml

from reconcile.config import load_config
from reconcile.errors import ConfigError
from reconcile.plan import compile_plan
from reconcile.resources import sample_dir

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")


@pytest.fixture
def county(tmp_path) -> Path:
    """A copy of the sample county whose files and config a test may change."""
    target = tmp_path / "county"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("out", "truth"))
    return target


def edit_config(folder: Path, change) -> Path:
    path = folder / "reconcile.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def rewrite_csv(path: Path, change) -> None:
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "gb18030"
    rows = list(csv.reader(io.StringIO(raw.decode(encoding))))
    rows = change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))


def drop_column(path: Path, header: str) -> None:
    def change(rows):
        i = rows[0].index(header)
        return [r[:i] + r[i + 1:] for r in rows]
    rewrite_csv(path, change)


def rename_column(path: Path, old: str, new: str) -> None:
    def change(rows):
        rows[0] = [new if h == old else h for h in rows[0]]
        return rows
    rewrite_csv(path, change)


def fields_of(plan, owner: str, *statuses: str) -> set[str]:
    return {r["field"] for r in plan.files[owner].fields if r["status"] in statuses and r["field"]}


def test_sample_county_plan_uses_every_file_and_runs_every_rule():
    plan = compile_plan(load_config(SAMPLE / "reconcile.yaml"))
    assert {f.usage for f in plan.files.values()} == {"used"}
    assert not [n for n in plan.notices if n.level != "info"]
    assert "township_notice_date" in plan.coverage["archive"]
    assert "head_id" in plan.coverage["system"]
    # the 2020-era sample carries none of the monitoring export's own columns (参加职工医保, 监测联系人, 公益性岗位 …):
    # the checks over them are skipped, named, with the columns they need; every other rule runs
    skipped = {r.rule_id: r.reason for r in plan.rules if r.status == "skipped"}
    assert set(skipped) == {"CK-MEDICAL-SCHEME", "CK-WORK-MONTHS", "CK-SERIOUS-ILLNESS", "CK-PHONE", "MO-CONTACT",
                            "MO-POST", "MO-POST-AWAY", "MO-LAND-RANGE", "MO-GUARANTEE-FLAG", "MO-TEKUN-ABLE",
                            "MO-ELIM-NO-MEASURE", "RC-STUDENT-MISSING", "RC-YULU-STUDENT"}
    assert all(reason.startswith("需要一个来源") for reason in skipped.values())
    assert "需要一个来源同时有「就业渠道」列和「务工状况」、「务工所在地」中任一列" in skipped["MO-POST-AWAY"]
    assert "需要一个来源同时有「参加医保」、「参加职工医保」列" in skipped["CK-MEDICAL-SCHEME"]
    # what a rule cannot check is said, per field and file, in Chinese
    load = plan.rule("AS-CADRE-LOAD")
    assert load.status == "partial" and "「帮扶责任人证件号码」(村级档案、扶贫手册没有该列)" in load.unchecked
    # the 农户调查表 never asks for 主要致贫原因: its absence there is not a gap in this run
    assert plan.rule("FC-CAUSE").status == "run"


def test_plan_reads_no_data_row(monkeypatch):
    """Everything in the plan comes from header rows: the full reader is never called."""
    import reconcile.load.readers as readers

    def refuse(*args, **kwargs):
        raise AssertionError("the plan read a whole file")

    monkeypatch.setattr(readers, "read_table", refuse)
    plan = compile_plan(load_config(SAMPLE / "reconcile.yaml"))
    assert plan.rules


def test_a_mapped_column_missing_from_its_file_is_a_warning_and_its_rules_are_partial(county):
    drop_column(county / "村级台账.csv", "乡镇公示时间")
    plan = compile_plan(load_config(county / "reconcile.yaml"))
    warnings = [n.message for n in plan.notices if n.level == "warning"]
    assert any("「乡镇公示时间」在文件中不存在" in w for w in warnings), warnings
    assert "township_notice_date" not in plan.coverage["archive"]
    rule = plan.rule("EX-PROC-IDENTIFY")
    assert rule.status == "partial" and "乡镇公示日期" in rule.unchecked and "村级档案" in rule.unchecked


def test_without_a_survey_its_rules_are_skipped_with_the_file_to_add(county):
    path = edit_config(county, lambda d: d["sources"].pop("survey"))
    plan = compile_plan(load_config(path))
    skipped = {r.rule_id: r.reason for r in plan.rules if r.status == "skipped"}
    assert skipped, "rules that compare with the door-to-door survey cannot run without it"
    assert all(reason and "需要" in reason for reason in skipped.values())
    assert any("入户核查" in reason for reason in skipped.values())


def test_an_optional_register_without_an_id_column_is_left_out_not_fatal(county):
    def no_id(rows):
        i = rows[0].index("身份证号")
        return [r[:i] + r[i + 1:] for r in rows]
    rewrite_csv(county / "部门数据" / "民政低保.csv", no_id)
    path = edit_config(county, lambda d: d["registers"]["dibao"]["columns"].pop("身份证号"))
    plan = compile_plan(load_config(path))
    assert plan.files["dibao"].usage == "excluded"
    assert any(n.owner == "dibao" and "不使用该文件" in n.message for n in plan.notices)
    assert "dibao" not in plan.register_kinds
    # the rules that needed it say which file was left out and for want of which column
    skipped = plan.rule("FC-HH-TYPE-REGISTER")
    assert skipped.status == "skipped", skipped
    assert "「民政低保」" in skipped.reason and "民政低保.csv" in skipped.reason and "证件号码" in skipped.reason
    # a rule reading 低保 or 特困 runs on 特困 alone, and names what it could not read
    either = plan.rule("MI-REGISTER-SUSPECT")
    assert either.status == "partial" and "部门数据「民政低保」" in either.unchecked and "证件号码" in either.unchecked


def test_a_rule_reading_several_registers_is_partial_when_one_is_not_given(county):
    path = edit_config(county, lambda d: d["registers"].pop("vehicle"))
    plan = compile_plan(load_config(path))
    asset = plan.rule("EL-REGISTER-ASSET")
    assert asset.status == "partial" and "部门数据「车辆登记」(本次没有提供)" in asset.unchecked


def test_a_register_keyed_by_the_head_id_is_used_at_household_level(county):
    def by_head(rows):
        rows[0] = ["户主身份证号" if h == "身份证号" else h for h in rows[0]]
        return rows
    rewrite_csv(county / "部门数据" / "民政低保.csv", by_head)
    path = edit_config(county, lambda d: d["registers"]["dibao"].pop("columns"))
    plan = compile_plan(load_config(path))
    dibao = plan.files["dibao"]
    assert dibao.usage == "household", dibao.message
    assert dibao.mapping.get("户主身份证号") == "id_number"
    assert "户一级" in dibao.message
    assert "id_number" in fields_of(plan, "dibao", "similar")  # provided, through the head's column


def test_the_housing_register_is_kept_by_head_id_by_nature(county):
    rename_column(county / "部门数据" / "住建危房鉴定.csv", "户主身份证号", "户主身份证号码")
    path = edit_config(county, lambda d: d["registers"]["housing"].pop("columns"))
    plan = compile_plan(load_config(path))
    housing = plan.files["housing"]
    assert housing.usage == "used" and housing.mapping.get("户主身份证号码") == "id_number"
    assert not [n for n in plan.notices if n.owner == "housing"]


def test_a_required_source_that_cannot_be_used_stops_before_data_is_read(county):
    def no_hh_code(rows):
        return rows
    path = edit_config(county, lambda d: d["sources"]["system"]["columns"].update({"户编号": "x_old_code"}))
    with pytest.raises(ConfigError) as err:
        compile_plan(load_config(path))
    assert "户编号" in str(err.value) and "国家系统" in str(err.value)


def test_rule_sql_that_does_not_bind_is_found_before_data(county):
    pack = county / "本县规则.yaml"
    pack.write_text(yaml.safe_dump({"pack": "county_rules", "title": "本县", "rules": [
        {"id": "X-BAD-COLUMN", "type": "sql", "kind": "record_incomplete", "title": "坏列", "message": "m",
         "advice": "a", "sql": "select cluster_id, '' as sources, '{}' as evidence from hh_wide where no_such_col > 1"},
        {"id": "X-BAD-PARAM", "type": "sql", "kind": "record_incomplete", "title": "坏参数", "message": "m",
         "advice": "a", "sql": "select cluster_id, '' as sources, '{}' as evidence from hh_wide where $no_such_param"},
    ]}, allow_unicode=True), encoding="utf-8")
    path = edit_config(county, lambda d: d.update({"rules": {"extra": ["本县规则.yaml"]}}))
    with pytest.raises(ConfigError) as err:
        compile_plan(load_config(path))
    text = str(err.value)
    assert "X-BAD-COLUMN" in text and "X-BAD-PARAM" in text, text  # every problem at once


def test_plan_tables_are_written(tmp_path):
    from reconcile.db import connect

    plan = compile_plan(load_config(SAMPLE / "reconcile.yaml"))
    con = connect(None)
    plan.write(con)
    counts = dict(con.execute("select status, count(*) from plan_rule group by status").fetchall())
    assert sum(counts.values()) == len(plan.rules)
    provided = con.execute("select count(*) from plan_field where owner = 'archive' and field = 'township_notice_date' "
                           "and status = 'explicit'").fetchone()[0]
    assert provided == 1



def test_a_dry_check_is_reused_only_for_a_county_of_the_same_shape(county, tmp_path):
    """A province's preflight compiles county after county: the dry run of the rules is worked out once per shape
    (sources, columns, rules), never handed to a county whose columns differ."""
    from reconcile import plan as plan_module

    plan_module._DRY_CHECKS.clear()
    first = compile_plan(load_config(SAMPLE / "reconcile.yaml"))
    assert len(plan_module._DRY_CHECKS) == 1
    # the same files in another folder under another county's name: the same shape, the same plan
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(county, elsewhere)
    renamed = edit_config(elsewhere, lambda data: data.update(region="另一县"))
    again = compile_plan(load_config(renamed))
    assert len(plan_module._DRY_CHECKS) == 1
    assert again.rules == first.rules
    # a county whose archive lacks a column is another shape: its own dry run, the same result as without reuse
    drop_column(county / "村级台账.csv", "乡镇公示时间")
    narrower = compile_plan(load_config(county / "reconcile.yaml"))
    assert len(plan_module._DRY_CHECKS) == 2
    assert narrower.rules != first.rules
    plan_module._DRY_CHECKS.clear()
    assert compile_plan(load_config(county / "reconcile.yaml")).rules == narrower.rules
