"""Rule cases: a rule run on a tiny input described as data, up to the check stage and no further.

A case is a dict (one entry of a `tests/rules/cases/<RULE>.yaml` file):

    sources:   {<key>: {role: system, level: person, rows: [{hh_code: H1, name: 王明, …}, …]}, …}
    registers: {<key>: {kind: dibao, rows: [{id_number: …, name: …}, …]}, …}
    visits:    {rows: [{hh_code: H1, visit_date: 2020-05-01}, …]}
    params:    {<param>: <value>}          year: 2020

Each source, register and the visits become one CSV whose columns are the keys its rows use, mapped one to
one (`profile: none`): a source "has no such column" when no row names the key, and `key: ""` is an empty
cell (absent is not empty). `evaluate_rule` compiles the run plan for that rule alone and runs load →
validate → normalise → link → check on an in-memory database: no ledger, workbook or HTML, so a rule can
have many cheap cases.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ..config import Config, parse_config
from ..errors import ConfigError
from .engine import FINDING_COLUMNS
from .packs import load_rules

if TYPE_CHECKING:
    from ..plan import RunPlan


@dataclass
class RuleEvaluation:
    findings: pl.DataFrame  # the rule's findings (columns of the `finding` table)
    rule_runs: pl.DataFrame  # rule_id, status (ran / skipped / error), reason, …
    plan: RunPlan
    config: Config
    links: pl.DataFrame  # hh_link: which record of which source is in which household cluster
    person_links: pl.DataFrame  # person_link
    input_issues: pl.DataFrame


def write_rows(path: Path, rows: list[dict]) -> list[str]:
    """A UTF-8 CSV of `rows`; its header is every key any row names, in first-seen order."""
    headers: list[str] = []
    for row in rows:
        headers += [k for k in row if k not in headers]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=headers)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return headers


def case_config(case: dict, folder: Path, extra_rules: list[str] | None = None) -> Config:
    """The config of a case, its files written into `folder` (which must exist)."""
    sources, registers = {}, {}
    for key, spec in case.get("sources", {}).items():
        path = folder / f"{key}.csv"
        headers = write_rows(path, spec["rows"])
        sources[key] = {"path": path.name, "role": spec.get("role", key), "level": spec.get("level", "household"),
                        "profile": "none", "columns": {h: h for h in headers}}
    for key, spec in case.get("registers", {}).items():
        path = folder / f"reg_{key}.csv"
        headers = write_rows(path, spec["rows"])
        registers[key] = {"path": path.name, "kind": spec.get("kind", key), "profile": "none",
                          "columns": {h: h for h in headers}}
    data: dict = {"region": "用例县", "year": case.get("year", 2020), "output": "out", "sources": sources,
                  "registers": registers, "params": case.get("params", {}),
                  **({"province": case["province"]} if "province" in case else {})}
    if "visits" in case:
        path = folder / "visits.csv"
        headers = write_rows(path, case["visits"]["rows"])
        data["visits"] = {"path": path.name, "profile": "none", "columns": {h: h for h in headers}}
    if extra_rules:
        data["rules"] = {"extra": extra_rules}
    return parse_config(data, folder)


def evaluate_rule(rule_id: str, case: dict, folder: Path | None = None, *, plan_rules: bool = True) -> RuleEvaluation:
    """Run rule `rule_id` (built in, or from a pack the case's `rules_extra` names) on `case`.

    `plan_rules=False` leaves the rule out of the run plan's dry run (a third of a case's time): the plan
    still says which columns each file has, the check stage still reports a rule that cannot run, but
    `plan.rules` is empty."""
    from ..db import connect, query_frame
    from ..pipeline import run_county_stages, stage_runner
    from ..plan import compile_plan

    with tempfile.TemporaryDirectory(prefix="reconcile-case-") as scratch:
        work = Path(folder) if folder is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        config = case_config(case, work, case.get("rules_extra"))
        rules = [r for r in load_rules(extra=config.rule_files) if r.id == rule_id]
        if not rules:
            raise ConfigError([f"未知的规则编号 `{rule_id}`"])
        con = connect()
        try:
            plan = run_county_stages(con, config, work, stage_runner({}, None), rules,
                                     compile_plan(config, rules, check_rules=plan_rules))
            findings = query_frame(con, f"select {', '.join(FINDING_COLUMNS)} from finding")
            tables = {name: query_frame(con, f"select * from {name}")
                      for name in ("rule_run", "hh_link", "person_link", "input_issue")}
        finally:
            con.close()
    return RuleEvaluation(findings.filter(pl.col("rule_id") == rule_id), tables["rule_run"], plan, config,
                          tables["hh_link"], tables["person_link"], tables["input_issue"])
