"""Checks made before any data is read: parameter files and overrides against default.yaml, the `province:` name,
rule `$params`, linkage settings; all problems of a config (or of every county of a province) in one error."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import reconcile.preflight as preflight
from reconcile.check.packs import load_rules
from reconcile.check.params import register_param_tables
from reconcile.config import load_config, parse_config
from reconcile.errors import ConfigError
from reconcile.province import load_province
from reconcile.province.run import preflight_counties
from reconcile.resources import default_params, params_dir, sample_dir

SAMPLE = sample_dir() / "reconcile.yaml"


def _config(tmp_path: Path, **extra) -> dict:
    (tmp_path / "sys.csv").write_text("户编号,姓名\nH1,王明\n", encoding="utf-8")
    return {"region": "测试县", "year": 2020, "sources": {"system": {"path": "sys.csv", "level": "person"}}, **extra}


def _problems(tmp_path: Path, **extra) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(_config(tmp_path, **extra), tmp_path)
    return info.value.problems


def _one(problems: list[str], *fragments: str) -> str:
    """The one problem naming all fragments (a test fails on none or several)."""
    found = [p for p in problems if all(f in p for f in fragments)]
    assert len(found) == 1, (fragments, problems)
    return found[0]


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A params folder with default.yaml and a province file `gx`, beside a YAML file outside it."""
    folder = tmp_path / "params"
    folder.mkdir()
    shutil.copy(params_dir() / "default.yaml", folder / "default.yaml")
    (tmp_path / "evil.yaml").write_text("cadre_household_limit: 99\n", encoding="utf-8")
    monkeypatch.setattr(preflight, "params_dir", lambda: folder)
    return folder


# --- near misses: valid settings raise nothing ------------------------------------------------------------------

def test_the_sample_county_and_the_shipped_defaults_have_no_problem():
    config = load_config(SAMPLE)
    assert preflight.preflight_problems(config) == []
    assert preflight.params_problems(default_params()) == []


def test_valid_overrides_of_nested_keys_new_years_and_linkage_weights_are_accepted(tmp_path):
    params = {"income_tolerance": {"relative": 0.1}, "exit_line": {2026: 4500}, "visit_frequency": {"green": "yearly"},
              "cause_measures": {"因灾": ["危房改造"], "新的致贫原因": ["产业帮扶"]},
              "linkage": {"household": {"link": 6.5, "comparisons": {
                  "hh_size": {"weights": {"off_by_one": -0.5}},
                  "head_name_pinyin": {"kind": "name", "column": "head_name", "weights": {"homophone": 1}}}}}}
    config = parse_config(_config(tmp_path, params=params, linkage={"person": {"possible": 2.5}}), tmp_path)
    assert config.params["income_tolerance"] == {"absolute": 100, "relative": 0.1}
    assert config.params["exit_line"][2026] == 4500 and config.params["exit_line"][2020] == 4000
    assert config.params["linkage"]["person"]["possible"] == 2.5
    con = duckdb.connect()
    assert "param_exit_line" in register_param_tables(con, config.params)
    assert con.execute("select value from param_exit_line where year = 2026").fetchall() == [(4500.0,)]


# --- province: a shipped name, never a path ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../evil", "..", "sub/gx", "C:\\gx", "/etc/passwd"])
def test_province_that_looks_like_a_path_is_refused_with_the_available_names(tmp_path, shipped, name):
    problem = _one(_problems(tmp_path, province=name), "province:")
    assert "不能是路径" in problem and "default" in problem


def test_province_file_outside_the_params_folder_is_never_read(tmp_path, shipped):
    problems = _problems(tmp_path, province="../evil")
    assert not any("cadre_household_limit" in p for p in problems)  # its content was never merged nor checked


def test_unknown_province_name_suggests_the_nearest_shipped_one(tmp_path, shipped):
    (shipped / "guangxi.yaml").write_text("cadre_household_limit: 4\n", encoding="utf-8")
    assert "`guangxi`" in _one(_problems(tmp_path, province="guangxy"), "province:", "guangxy")
    assert parse_config(_config(tmp_path, province="guangxi"), tmp_path).params["cadre_household_limit"] == 4


def test_province_file_problems_name_the_file_line_and_key_all_at_once(tmp_path, shipped):
    (shipped / "gx.yaml").write_text(
        "exit_line:\n  2021: 4100\n  '2022': 4200\n  二〇二三: 4300\n"   # a new year is fine; text keys are not
        "income_tolerance: 50\n"                                      # a number where a mapping is expected
        "notice_days:\n  exit_vilage: 7\n"                            # unknown nested key
        "retired_terms: 贫困户\n", encoding="utf-8")                  # text where a list is expected
    problems = _problems(tmp_path, province="gx", params={"cadre_household_limit": "五"})
    assert len(problems) == 6, problems
    in_file = [p for p in problems if p.startswith("参数文件 rules/params/gx.yaml 第 ")]
    assert len(in_file) == 5, problems
    assert "第 3 行 exit_line.2022" in _one(problems, "exit_line.2022", "年份")
    _one(problems, "exit_line.二〇二三", "年份")
    assert "第 5 行 income_tolerance" in _one(problems, "income_tolerance", "应为映射", "数字 50")
    assert "`exit_village`" in _one(problems, "notice_days.exit_vilage", "未知参数")
    _one(problems, "retired_terms", "应为列表")
    assert _one(problems, "cadre_household_limit").startswith("params.cadre_household_limit: 应为数字")


def test_unreadable_province_file_is_one_problem(tmp_path, shipped):
    (shipped / "gx.yaml").write_text("exit_line: [\n", encoding="utf-8")
    _one(_problems(tmp_path, province="gx"), "rules/params/gx.yaml", "YAML 格式错误")


# --- the config's params: and linkage: ---------------------------------------------------------------------------

def test_override_problems_at_any_depth_with_nearest_keys(tmp_path):
    params = {"school_age": {"min": 6, "maxx": 15}, "exit_line": {2026: "四千", "next": 5000},
              "income_tolerance": 100, "cadre_household_limit": "5", "record_required": ["head_name"],
              "unsafe_housing_grades": ["C", 4], "visit_frequency": {"green": "quartrly"},
              "cause_measures": {"因病": "健康帮扶"}, "risk_persisting": {"illness_health": {"患有大病": True}},
              "retired_terms_from_yaer": 2021}
    problems = _problems(tmp_path, params=params)
    assert len(problems) == 11, problems
    assert "`max`" in _one(problems, "params.school_age.maxx", "未知参数")
    _one(problems, "params.exit_line.2026", "应为数字")
    _one(problems, "params.exit_line.next", "年份")
    _one(problems, "params.income_tolerance:", "应为映射")
    _one(problems, "params.cadre_household_limit:", "应为数字", "文本")
    _one(problems, "params.record_required:", "应为映射", "列表")
    _one(problems, "params.unsafe_housing_grades:", "第 2 项应为文本")
    assert "`quarterly`" in _one(problems, "params.visit_frequency.green", "monthly / quarterly / yearly")
    _one(problems, "params.cause_measures.因病", "应为列表")
    _one(problems, "params.risk_persisting.illness_health", "应为列表")
    assert "`retired_terms_from_year`" in _one(problems, "retired_terms_from_yaer")


def test_override_problems_carry_the_config_line(tmp_path):
    _config(tmp_path)
    (tmp_path / "reconcile.yaml").write_text(
        "region: 测试县\nyear: 2020\nsources:\n  system: {path: sys.csv, level: person}\n"
        "params:\n  income_tolerance:\n    relativ: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "reconcile.yaml")
    assert info.value.problems == ["第 7 行 params.income_tolerance.relativ: 未知参数,是否应为 `relative`?"
                                   "(可用: absolute, relative)"]


def test_params_that_are_not_a_mapping(tmp_path):
    _one(_problems(tmp_path, params=[1, 2]), "params:", "映射")
    _one(_problems(tmp_path, linkage="strict"), "linkage:", "映射")


def test_linkage_settings_are_checked_as_the_linker_reads_them(tmp_path):
    linkage = {"household": {"link": "六", "comparisons": {
        "head_id": {"kind": "idd"},
        "hh_code": {"kind": "members"},
        "head_name": {"weights": {"exakt": 5, "fuzzy": "高", None: 0}, "fuzzy": 1.5},
        "village": {"kind": "equal", "weights": {"exact": 1}},
        "head_name2": {"kind": "name", "column": "head_nam", "weights": {"exact": 1}, "wieghts": {}}}},
        "person": {"possible": 5}, "persn": {"link": 4}}
    problems = _problems(tmp_path, params={"linkage": linkage})
    where = "params.linkage.household"
    _one(problems, f"{where}.link:", "应为数字")
    _one(problems, "params.linkage.person.possible:", "不应高于")
    assert "`id`" in _one(problems, f"{where}.comparisons.head_id.kind", "未知的比较方式")
    _one(problems, f"{where}.comparisons.hh_code.kind", "不能用 members")
    _one(problems, f"{where}.comparisons.hh_code.weights.exact", "没有等级")
    assert "`exact`" in _one(problems, f"{where}.comparisons.head_name.weights.exakt", "没有等级")
    _one(problems, f"{where}.comparisons.head_name.weights.fuzzy", "权重应为数字")
    _one(problems, f"{where}.comparisons.head_name.weights.null", "引号")
    _one(problems, f"{where}.comparisons.head_name.fuzzy", "0 到 1")
    _one(problems, f"{where}.comparisons.village:", "未知的比较字段", "column")
    assert "`head_name`" in _one(problems, f"{where}.comparisons.head_name2.column", "未知的比较字段")
    assert "`weights`" in _one(problems, f"{where}.comparisons.head_name2.wieghts", "未知的比较项设置")
    assert "`person`" in _one(problems, "params.linkage.persn", "未知参数")
    assert len(problems) == 14, problems


def test_linkage_section_problems_are_named_by_that_section(tmp_path):
    problems = _problems(tmp_path, linkage={"person": {"margin": "大", "comparisons": {"birth": {"kind": "id"}}}})
    assert problems[0].startswith("linkage.person.margin: 应为数字"), problems
    _one(problems, "linkage.person.comparisons.birth.kind", "不能用 id")
    _one(problems, "linkage.person.comparisons.birth.weights.year_month", "没有等级")


# --- `$name` in rule SQL ------------------------------------------------------------------------------------------

PACK = """pack: county_extra
rules:
  - id: XY-PARAMS
    type: sql
    kind: cadre_overload
    title: 试验规则
    message: 试验
    advice: 试验
    sql: |
      select cluster_id, '' as sources, '{{}}' as evidence from hh_wide
      where {sql}
"""


def _pack(tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "extra.yaml"
    path.write_text(PACK.format(sql=sql), encoding="utf-8")
    return path


def test_unknown_rule_params_are_named_with_the_nearest_parameter(tmp_path):
    pack = _pack(tmp_path, "households > $cadre_houshold_limit and year = $year "
                           "and x = $exit_line and y = $notice_days_exit_village "
                           "{% for s in src('manual') %}and list_contains($record_required_{{s}}, 'x'){% endfor %}")
    rules = [r for r in load_rules(extra=[pack]) if r.id == "XY-PARAMS"]
    problems = preflight.unknown_rule_params(rules, default_params())
    assert len(problems) == 2, problems
    assert "`$cadre_household_limit`" in _one(problems, "XY-PARAMS", "extra.yaml", "$cadre_houshold_limit")
    _one(problems, "$exit_line", "param_exit_line")
    unknown_family = [r for r in load_rules(extra=[_pack(tmp_path, "$nothing_{{s}} > 0")]) if r.id == "XY-PARAMS"]
    _one(preflight.unknown_rule_params(unknown_family, default_params()), "$nothing_")


def test_unknown_rule_params_stop_the_run_plan_unless_the_rule_is_disabled(tmp_path):
    """Rule `$params` are the run plan's to check, with the rule SQL that does not bind: one report, before data."""
    from reconcile.plan import compile_plan

    pack = _pack(tmp_path, "households > $cadre_houshold_limit")
    config = parse_config(_config(tmp_path, rules={"extra": [pack.name]}), tmp_path)
    with pytest.raises(ConfigError) as info:
        compile_plan(config)
    _one(info.value.problems, "XY-PARAMS", "$cadre_houshold_limit")
    compile_plan(parse_config(_config(tmp_path, rules={"extra": [pack.name], "disable": ["XY-PARAMS"]}), tmp_path))


def test_param_tables_take_only_plain_names():
    con = duckdb.connect()
    with pytest.raises(ValueError, match="参数名"):
        register_param_tables(con, {"x; drop table y": {2020: 1}})
    assert register_param_tables(con, {"exit_line": {2020: 1}}) == ["param_exit_line"]


# --- a province: every county's problems before the first county starts -----------------------------------------

def _county(root: Path, name: str, body: str) -> str:
    folder = root / name
    folder.mkdir()
    (folder / "sys.csv").write_text("户编号,姓名\nH1,王明\n", encoding="utf-8")
    (folder / "reconcile.yaml").write_text(
        f"region: {name}\nyear: 2020\nsources:\n  system: {{path: sys.csv, level: person}}\n{body}", encoding="utf-8")
    return f"{name}/reconcile.yaml"


def test_province_gathers_every_countys_problems_in_one_error(tmp_path):
    first = _county(tmp_path, "甲县", "params: {cadre_household_limt: 4}\n")
    second = _county(tmp_path, "乙县", "linkage: {household: {link: 高}}\n")
    third = _county(tmp_path, "丙县", "")
    province = tmp_path / "province.yaml"
    province.write_text(f"region: 某省\nyear: 2020\nprovince: ../x\ncounties: [{first}, {second}, {third}]\n",
                        encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_province(province)
    text = str(info.value)
    assert "cadre_household_limt" in text and "甲县" in text
    assert "linkage.household.link" in text and "乙县" in text
    _one(info.value.problems, "province:", "不能是路径")


def test_check_config_accepts_a_province_and_a_run_checks_counties_made_in_code(tmp_path):
    from reconcile.cli import app

    counties = [_county(tmp_path, name, "") for name in ("甲县", "乙县")]
    province = tmp_path / "province.yaml"
    province.write_text(f"region: 某省\nyear: 2020\ncounties: [{', '.join(counties)}]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check-config", str(province)])
    assert result.exit_code == 0, result.output
    assert "省级配置有效" in result.output and "2 个县" in result.output
    loaded = load_province(province)
    preflight_counties(loaded)
    loaded.counties[1].params["linkage"]["person"]["link"] = "四"  # set in code, after the config was loaded
    with pytest.raises(ConfigError, match="乙县.*linkage.person.link"):
        preflight_counties(loaded)


def test_a_shared_fact_s_unknown_param_is_named_for_the_rule_that_reads_it(tmp_path):
    path = tmp_path / "facts.yaml"
    path.write_text(PACK.format(sql="cluster_id in (select cluster_id from fact_young)").replace(
        "rules:", "facts:\n  - id: fact_young\n    sql: select cluster_id from hh_wide where $school_age_mim > 0\nrules:"),
        encoding="utf-8")
    rules = [r for r in load_rules(extra=[path]) if r.id == "XY-PARAMS"]
    assert [f.id for f in rules[0].facts] == ["fact_young"]
    problems = preflight.unknown_rule_params(rules, default_params())
    assert "`$school_age_min`" in _one(problems, "XY-PARAMS", "$school_age_mim")


def test_province_preflight_compiles_the_counties_side_by_side_and_checks_province_rules_once(tmp_path):
    """The counties' plans are compiled in the province's worker processes, each for the rules the county runs
    itself; a province-scope rule's broken SQL is still found before any data is read, and named once."""
    from reconcile.province.run import county_pool

    pack = tmp_path / "extra.yaml"
    pack.write_text(PACK.format(sql="no_such_column > 0").replace("    type: sql\n", "    type: sql\n    scope: province\n"),
                    encoding="utf-8")
    body = f"rules: {{extra: [{pack.as_posix()}]}}\n"
    counties = [_county(tmp_path, name, body) for name in ("甲县", "乙县")]
    province = tmp_path / "province.yaml"
    province.write_text(f"region: 某省\nyear: 2020\ncounties: [{', '.join(counties)}]\n", encoding="utf-8")
    loaded = load_province(province)
    pool = county_pool(2)
    try:
        with pytest.raises(ConfigError) as info:
            preflight_counties(loaded, pool)
    finally:
        pool.shutdown()
    assert "no_such_column" in _one(info.value.problems, "XY-PARAMS")
    pack.write_text(PACK.format(sql="true").replace("    type: sql\n", "    type: sql\n    scope: province\n"),
                    encoding="utf-8")
    plans = preflight_counties(load_province(province))
    assert sorted(plans) == sorted(c.partition for c in loaded.counties)
    for plan in plans.values():
        assert "XY-PARAMS" not in {r.rule_id for r in plan.plan.rules}, "a county's plan leaves province rules out"
