"""Run one rule on a tiny input described in a YAML case file (reconcile.check.cases.evaluate_rule): the
golden rule tests. A file's columns are the keys its rows use, so a case says "this source has no such
column" by leaving the key out of every row of that source, and "this cell is empty" with `key: ""`
(absent is not empty, issue 11)."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconcile.check.cases import RuleEvaluation, evaluate_rule

CASES = Path(__file__).parent / "cases"


def run_case(case: dict, tmp: Path, rule_id: str) -> RuleEvaluation:
    return evaluate_rule(rule_id, case, tmp, plan_rules=False)


def load_cases() -> list[tuple[str, Path, dict]]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, case in enumerate(doc["cases"]):
            out.append((doc["rule"], path, {**case, "_name": case.get("name", f"case{i + 1}")}))
    return out
