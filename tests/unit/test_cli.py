"""Every command has Chinese help; init, check-config and the error path behave."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from reconcile.cli import app

runner = CliRunner()
COMMANDS = [["run"], ["demo"], ["init"], ["check-config"], ["synth"], ["validate"], ["rules", "list"],
            ["rules", "explain"]]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_chinese_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert CJK.search(result.output)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "reconcile" in result.output


def test_init_writes_a_commented_template_and_never_overwrites(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0
    text = (tmp_path / "reconcile.yaml").read_text(encoding="utf-8")
    assert "sources:" in text and "#" in text
    again = runner.invoke(app, ["init", str(tmp_path)])
    assert again.exit_code == 2
    assert (tmp_path / "reconcile.yaml").read_text(encoding="utf-8") == text


def test_check_config_reports_problems_with_exit_code_2(tmp_path):
    (tmp_path / "reconcile.yaml").write_text("region: 县\nyear: 2020\nsources: {system: {path: nope.csv}}\n",
                                             encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(tmp_path / "reconcile.yaml")])
    assert result.exit_code == 2
    assert "nope.csv" in result.output


def test_rules_list_and_explain_show_sql_and_parameters():
    listed = runner.invoke(app, ["rules", "list"])
    assert listed.exit_code == 0 and "FC-HH-SIZE" in listed.output
    explained = runner.invoke(app, ["rules", "explain", "EX-INCOME"])
    assert explained.exit_code == 0
    assert "param_exit_line" in explained.output and "select" in explained.output.lower()
    unknown = runner.invoke(app, ["rules", "explain", "FC-HH-SIZ"])
    assert unknown.exit_code == 2 and "FC-HH-SIZE" in unknown.output


def test_fail_on_sets_the_exit_code_by_the_worst_finding(tmp_path):
    """--fail-on high exits 1 only when a high finding exists; a bad level is a usage error (2)."""
    import shutil

    import polars as pl
    import yaml

    from reconcile.resources import sample_dir

    county = tmp_path / "county"
    shutil.copytree(sample_dir(), county, ignore=shutil.ignore_patterns("out", "truth"))
    config = county / "reconcile.yaml"
    assert runner.invoke(app, ["run", str(config), "--quiet", "--fail-on", "urgent"]).exit_code == 2
    first = runner.invoke(app, ["run", str(config), "--quiet", "--fail-on", "high"])
    findings = pl.read_parquet(county / "out" / "findings.parquet")
    high = sorted(set(findings.filter(pl.col("severity") == "high")["rule_id"]))
    assert high and first.exit_code == 1, first.output
    # without the rules that find high problems, --fail-on high passes and --fail-on low does not
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["rules"] = {**(data.get("rules") or {}), "disable": high}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert runner.invoke(app, ["run", str(config), "--quiet", "--fail-on", "high"]).exit_code == 0
    findings = pl.read_parquet(county / "out" / "findings.parquet")
    assert findings.height and not findings.filter(pl.col("severity") == "high").height
    assert runner.invoke(app, ["run", str(config), "--quiet", "--fail-on", "low"]).exit_code == 1


def test_demo_runs_the_monitoring_sample(tmp_path):
    from reconcile.resources import sample_dir

    if not (sample_dir() / "监测期" / "reconcile.yaml").exists():
        pytest.skip("no monitoring-era sample in this checkout")
    result = runner.invoke(app, ["demo", "--monitoring", "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "核查报告.xlsx").exists() and (tmp_path / "out" / "report.html").exists()
    assert "2024" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def _sample_copy(tmp_path):
    import shutil

    from reconcile.resources import sample_dir

    county = tmp_path / "county"
    shutil.copytree(sample_dir(), county, ignore=shutil.ignore_patterns("out", "truth", "监测期"))
    return county


def test_a_rule_that_fails_at_run_time_fails_the_run_naming_it(tmp_path):
    """The other rules run and the reports are written, but the run exits 2 and names the rule (it exited 0)."""
    import yaml

    county = _sample_copy(tmp_path)
    (county / "本县规则.yaml").write_text("""pack: local
title: 本县规则
rules:
  - id: LOCAL-CAST
    type: sql
    kind: record_incomplete
    title: 户主姓名转成数字
    message: 测试
    advice: 测试
    sql: select cluster_id from hh_wide where cast(head_name as integer) > 0
""", encoding="utf-8")
    config = county / "reconcile.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["rules"] = {"extra": ["本县规则.yaml"]}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["run", str(config), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "规则 LOCAL-CAST(户主姓名转成数字)运行出错" in result.output
    assert (county / "out" / "findings.parquet").exists() and (county / "out" / "核查报告.xlsx").exists()


@pytest.mark.parametrize(("module", "args", "extra"), [
    ("pyspark", ["run", "{config}", "--quiet", "--engine", "spark"], "spark"),
    ("great_expectations", ["validate", "{config}", "--gx"], "gx"),
])
def test_a_missing_extra_is_one_chinese_line_not_a_traceback(tmp_path, monkeypatch, module, args, extra):
    import sys

    county = _sample_copy(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    result = runner.invoke(app, [a.format(config=county / "reconcile.yaml") for a in args])
    assert result.exit_code == 2
    assert f'pip install "reconcile[{extra}]"' in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_rules_list_and_explain_read_in_chinese():
    """The catalogue names kinds, packs, needs and severities in Chinese; a description names each parameter in
    Chinese first, its key only as the 参数 to edit."""
    import io

    from rich.console import Console

    from reconcile.check.catalogue import explain_rule, print_catalogue

    def printed(write) -> str:
        console = Console(width=400, file=io.StringIO(), color_system=None)
        write(console)
        return console.file.getvalue()

    body = printed(print_catalogue).split("┡", 1)[1]
    assert not re.search(r"\b(?:low|medium|high|visits|register|[a-z]+_[a-z_]+)\b", body), body[:400]
    assert "部门数据「教育学籍」" in body and "走访记录" in body and "≥2 个有「家庭人口数」的来源" in body
    explained = printed(lambda c: explain_rule("MO-RISK-KEPT", None, c))
    described = next(line for line in explained.splitlines() if line.startswith("说明:"))
    assert "风险消除最短监测月数(参数 risk_elimination_min_months)" in described
    assert not re.search(r"[a-z]+_[a-z_]+", re.sub(r"\(参数 [a-z_.]+\)", "", described)), described
    assert "严重程度 低" in explained
