"""Shipped provincial parameter sets: a province's monitoring line replaces the national one for its years only, and
the monitoring-era rules read it."""

from __future__ import annotations

import yaml

from reconcile.check.cases import evaluate_rule
from reconcile.config import load_params
from reconcile.preflight import available_provinces


def test_yunnan_sets_its_2024_monitoring_line_and_keeps_the_others():
    assert "yunnan" in available_provinces()
    national, yunnan = load_params("default", None), load_params("yunnan", None)
    assert yunnan["monitoring_line"][2024] == 8700 and national["monitoring_line"][2024] == 7300
    assert {y: v for y, v in yunnan["monitoring_line"].items() if y != 2024} == \
        {y: v for y, v in national["monitoring_line"].items() if y != 2024}


def test_a_county_under_yunnan_judges_2024_incomes_on_its_line(tmp_path):
    case = yaml.safe_load("""
    year: 2024
    sources:
      system:
        level: person
        rows:
          - {hh_code: H1, village: 大田村, name: 王明, id_number: "430624198001011239", relation: 户主, status: 已脱贫,
             monitor_type: "", income_year: "2024", income_per_capita: "8000"}
    """)
    (tmp_path / "n").mkdir()
    (tmp_path / "y").mkdir()
    national = evaluate_rule("MI-INCOME-UNMONITORED", case, tmp_path / "n", plan_rules=False)
    assert national.findings.height == 0  # 8000 is above the national 7300
    case["province"] = "yunnan"
    provincial = evaluate_rule("MI-INCOME-UNMONITORED", case, tmp_path / "y", plan_rules=False)
    assert provincial.findings["message"].to_list() == [
        "已脱贫户未纳入防返贫监测,但国家系统2024年人均纯收入8000元,低于当年监测标准8700元"]
