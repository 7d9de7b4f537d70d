"""The check engine itself: message rendering, finding fingerprints, one finding per entity, and rules that
cannot run for want of a source (skipped with a Chinese reason, never "ran, 0 findings")."""

from __future__ import annotations

import math

import pytest
import yaml

from reconcile.check.cases import write_rows
from reconcile.check.engine import fingerprint, need_text, render
from reconcile.check.packs import load_rules
from reconcile.config import parse_config
from reconcile.pipeline import run


def test_render_fills_names_and_leaves_unknown_ones_empty():
    row = {"name": "王明", "size": 3.0, "income": 4567.891, "none": None, "nan": math.nan}
    assert render("{name}家{size}人,人均{income}元", row) == "王明家3人,人均4567.89元"
    assert render("[{none}][{nan}][{absent}]", row) == "[][][]"
    assert render("{income:.0f}", row) == "4568"


def test_fingerprint_is_stable_and_names_rule_entity_person_and_key():
    base = {"hh_code": "H1", "person_id": "P1", "key": "system"}
    first = fingerprint("FC-NAME", base)
    assert first == fingerprint("FC-NAME", dict(base)) and len(first) == 16
    others = {fingerprint("FC-HEAD", base), fingerprint("FC-NAME", {**base, "hh_code": "H2"}),
              fingerprint("FC-NAME", {**base, "person_id": "P2"}), fingerprint("FC-NAME", {**base, "key": "x"})}
    assert first not in others and len(others) == 4
    # without a household code the head's ID names the household; without a person ID, the person's name
    assert fingerprint("R", {"head_id": "X"}) == fingerprint("R", {"hh_code": "X"})
    assert fingerprint("R", {"hh_code": "H", "person_name": "甲"}) == fingerprint("R", {"hh_code": "H", "person_id": "甲"})


def test_need_text_names_what_to_add_and_why_a_given_file_was_not_used():
    assert need_text("survey") == "需要「入户核查」文件,本次没有提供"
    assert need_text("visits", left_out={"visits": "文件「走访.csv」缺少必需的列 「走访日期」"}) == \
        "需要「走访记录」文件,本次提供的文件「走访.csv」缺少必需的列 「走访日期」,没有使用"
    assert need_text("register:dibao|tekun") == "需要部门数据「民政低保」或「民政特困」,本次没有提供"


def _county(tmp_path, pack: dict):
    rows = [{"hh_code": "H1", "village": "大田村", "head_name": "王明", "status": "已脱贫"},
            {"hh_code": "H2", "village": "大田村", "head_name": "张强", "status": "未脱贫"}]
    headers = write_rows(tmp_path / "system.csv", rows)
    (tmp_path / "pack.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    config = parse_config({
        "region": "用例县", "year": 2020, "output": "out",
        "sources": {"system": {"path": "system.csv", "role": "system", "profile": "none",
                               "columns": {h: h for h in headers}}},
        "rules": {"extra": ["pack.yaml"]}}, tmp_path)
    config.rules_disable = [r.id for r in load_rules()]  # the built-in packs: only this pack's rules run
    return config


def test_a_rule_that_reaches_a_household_twice_reports_it_once_and_a_rule_without_its_source_is_skipped(tmp_path):
    pack = {"pack": "engine_test", "title": "引擎测试", "rules": [
        {"id": "T-TWICE", "type": "sql", "kind": "record_incomplete", "title": "两次", "message": "{head_name}两次",
         "advice": "核实", "sql": "select cluster_id, 'system' as sources, '{}' as evidence from hh_wide "
                                  "union all select cluster_id, 'system', '{}' from hh_wide"},
        {"id": "T-SURVEY", "type": "sql", "kind": "record_incomplete", "title": "要入户核查", "needs": ["survey"],
         "message": "m", "advice": "a", "sql": "select cluster_id, 'survey' as sources, '{}' as evidence from hh_wide"},
        # a rule over the long tables whose scope holds none of this run's sources: skipped, not "ran, 0 found"
        {"id": "T-NOTES", "type": "sql", "kind": "record_incomplete", "title": "台账备注", "message": "m",
         "advice": "a", "roles": ["archive", "manual"], "fields": ["note"],
         "sql": "select cluster_id, source as sources, '{}' as evidence from hh_source where note is not null"},
    ]}
    result = run(_county(tmp_path, pack))
    runs = {r["rule_id"]: r for r in result.rule_runs.to_dicts()}
    twice = result.findings.filter(result.findings["rule_id"] == "T-TWICE")
    assert runs["T-TWICE"]["status"] == "ran" and twice.height == 2  # two households, each once
    assert sorted(twice["message"].to_list()) == ["张强两次", "王明两次"]
    assert twice["finding_id"].n_unique() == 2
    assert runs["T-SURVEY"]["status"] == "skipped" and "入户核查" in runs["T-SURVEY"]["reason"]
    assert result.findings.filter(result.findings["rule_id"] == "T-SURVEY").height == 0
    notes = runs["T-NOTES"]
    assert notes["status"] == "skipped" and notes["reason"] == "需要「村级档案」或「扶贫手册」文件,本次没有"
    # the run plan says the same before any row is read
    assert result.plan is not None and result.plan.rule("T-SURVEY").status == "skipped"


def test_evaluate_rule_is_public_and_stops_after_the_check_stage(tmp_path):
    import reconcile

    case = {"sources": {
        "system": {"rows": [{"hh_code": "H1", "village": "大田村", "head_name": "王明", "hh_size": "3"}]},
        "archive": {"rows": [{"hh_code": "H1", "village": "大田村", "head_name": "王明", "hh_size": "4"}]}}}
    result = reconcile.evaluate_rule("FC-HH-SIZE", case, tmp_path)
    assert result.findings["rule_id"].to_list() == ["FC-HH-SIZE"] and "4" in result.findings["message"][0]
    assert result.plan.rule("FC-HH-SIZE").status == "run"
    # nothing beyond the check stage: no run folder, database, workbook or page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.csv", "system.csv"]


def test_a_query_grades_its_findings_and_a_grade_outside_the_list_is_a_rule_error(tmp_path):
    pack = {"pack": "engine_test", "title": "引擎测试", "rules": [
        {"id": "T-GRADED", "type": "sql", "kind": "missed_suspect", "title": "分级", "message": "m", "advice": "a",
         "sql": "select cluster_id, 'system' as sources, '{}' as evidence, "
                "case when head_name = '王明' then 'low' else 'medium' end as severity from hh_wide"},
        {"id": "T-BADGRADE", "type": "sql", "kind": "missed_suspect", "title": "错误分级", "message": "m",
         "advice": "a", "sql": "select cluster_id, 'system' as sources, '{}' as evidence, '紧急' as severity from hh_wide"},
        {"id": "T-UNGRADED", "type": "sql", "kind": "missed_suspect", "title": "不分级", "message": "m",
         "advice": "a", "sql": "select cluster_id, 'system' as sources, '{}' as evidence from hh_wide"},
    ]}
    result = run(_county(tmp_path, pack))
    runs = {r["rule_id"]: r for r in result.rule_runs.to_dicts()}
    graded = result.findings.filter(result.findings["rule_id"] == "T-GRADED")
    assert sorted(zip(graded["head_name"], graded["severity"], strict=True)) == [("张强", "medium"), ("王明", "low")]
    assert runs["T-BADGRADE"]["status"] == "error" and "'紧急'" in runs["T-BADGRADE"]["reason"]
    assert "high / medium / low" in runs["T-BADGRADE"]["reason"]
    ungraded = result.findings.filter(result.findings["rule_id"] == "T-UNGRADED")
    assert set(ungraded["severity"]) == {"high"}  # the kind's default (kinds.csv)


def test_explain_prints_what_the_rule_really_compares():
    import io

    from rich.console import Console

    from reconcile.check.catalogue import explain_rule

    out = io.StringIO()
    explain_rule("FC-RISK-STATUS", None, Console(file=out, width=200))
    text = out.getvalue()
    assert "说明: 比较各来源的风险是否消除" in text and "risk_status" in text


def test_a_required_member_column_a_file_lacks_is_a_plan_notice_not_a_finding(tmp_path):
    import reconcile

    case = {"sources": {"manual": {"level": "person", "rows": [
        {"hh_code": "H1", "village": "大田村", "head_name": "王明", "name": "王明", "id_number": "430624198001011239",
         "relation": "户主", "sex": "男"}]}}}
    result = reconcile.evaluate_rule("RC-REQUIRED-PERSON", case, tmp_path)
    assert result.findings.height == 0
    plan = result.plan.rule("RC-REQUIRED-PERSON")
    assert plan.status == "partial" and "「出生日期」(扶贫手册没有该列)" in plan.unchecked


@pytest.mark.parametrize("rule_id", ["RC-REQUIRED", "RC-REQUIRED-PERSON"])
def test_required_rules_show_the_required_fields_in_chinese(rule_id, tmp_path):
    import json

    import reconcile

    case = {"sources": {"manual": {"level": "person", "rows": [
        {"hh_code": "H1", "village": "大田村", "head_name": "王明", "head_id": "430624198001011239",
         "main_cause": "", "name": "王明", "id_number": "430624198001011239", "relation": "", "sex": "男",
         "birth_date": "1980-01-01"}]}}}
    result = reconcile.evaluate_rule(rule_id, case, tmp_path)
    evidence = json.loads(result.findings["evidence"][0])
    required = evidence["必填项"]
    assert "姓名" in required or "户主姓名" in required
    assert not [f for f in required if f.isascii()], required  # no field code a person would have to decode


def test_a_shared_fact_is_built_once_before_the_rules_that_read_it_and_a_broken_one_fails_its_rules(tmp_path):
    from reconcile.check.packs import facts_read

    pack = {"pack": "engine_test", "title": "引擎测试", "facts": [
        {"id": "fact_exited", "description": "已脱贫户",
         "sql": "select cluster_id from hh_registered where status = '已脱贫' and $year = 2020"},
        {"id": "fact_exited_named", "sql": "select e.cluster_id, w.head_name from fact_exited e join hh_wide w "
                                           "using (cluster_id)"},
        {"id": "fact_broken", "sql": "select no_such_column from hh_wide"},
    ], "rules": [
        {"id": "T-FACT", "type": "sql", "kind": "record_incomplete", "title": "读共用查询", "message": "{head_name}",
         "advice": "a", "sql": "select cluster_id, head_name, 'system' as sources, '{}' as evidence "
                               "from fact_exited_named"},
        {"id": "T-FACT-AGAIN", "type": "sql", "kind": "record_incomplete", "title": "再读", "message": "m",
         "advice": "a", "sql": "select cluster_id, 'system' as sources, '{}' as evidence from fact_exited"},
        {"id": "T-FACT-BROKEN", "type": "sql", "kind": "record_incomplete", "title": "坏的", "message": "m",
         "advice": "a", "sql": "select null as cluster_id, 'system' as sources, '{}' as evidence from fact_broken"},
    ]}
    config = _county(tmp_path, pack)
    rules = {r.id: r for r in load_rules(extra=config.rule_files)}
    assert [f.id for f in rules["T-FACT"].facts] == ["fact_exited", "fact_exited_named"]  # what it reads first
    assert [f.id for f in rules["T-FACT-AGAIN"].facts] == ["fact_exited"]
    assert facts_read("select 1 from fact_exited_namedx", rules["T-FACT"].facts) == []  # whole names only
    from reconcile.errors import ConfigError

    with pytest.raises(ConfigError) as caught:  # found by the run plan's dry run, before any row is read
        run(config)
    assert any("规则 T-FACT-BROKEN(坏的): 共用查询 fact_broken(pack.yaml)无法运行" in p for p in caught.value.problems)
    config.rules_disable.append("T-FACT-BROKEN")
    result = run(config)
    runs = {r["rule_id"]: r for r in result.rule_runs.to_dicts()}
    assert result.findings.filter(result.findings["rule_id"] == "T-FACT")["message"].to_list() == ["王明"]
    assert runs["T-FACT-AGAIN"]["status"] == "ran" and runs["T-FACT-AGAIN"]["findings"] == 1


def test_a_fact_with_a_bad_name_or_a_template_is_a_pack_problem(tmp_path):
    from reconcile.errors import ConfigError

    pack = {"pack": "p", "title": "t", "facts": [
        {"id": "school", "sql": "select 1"}, {"id": "fact_x", "sql": "select {{ s }}"},
        {"id": "fact_y", "sql": "select 1", "comment": "?"}, {"id": "fact_y", "sql": "select 2"}], "rules": []}
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(extra=[path])
    text = "\n".join(caught.value.problems)
    assert "(school): id 应以 fact_ 开头" in text and "(fact_x): 缺少 `sql`,或 sql 是模板" in text
    assert "未知的键 `comment`" in text and "共用查询 fact_y 重复定义" in text
