"""Run one rule on a tiny input described in a YAML case file; used by the golden rule tests.

A file's columns are the keys its rows use, so a case says "this source has no such column" by leaving the
key out of every row of that source, and "this cell is empty" with `key: ""` (absent is not empty, issue 11).
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from reconcile.check.packs import load_rules
from reconcile.config import parse_config
from reconcile.pipeline import run

CASES = Path(__file__).parent / "cases"


def _write_rows(path: Path, rows: list[dict]) -> list[str]:
    headers: list[str] = []
    for row in rows:
        headers += [k for k in row if k not in headers]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=headers)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return headers


def run_case(case: dict, tmp: Path, rule_id: str):
    tmp.mkdir(parents=True, exist_ok=True)
    sources, registers = {}, {}
    for key, spec in case.get("sources", {}).items():
        path = tmp / f"{key}.csv"
        headers = _write_rows(path, spec["rows"])
        sources[key] = {"path": path.name, "role": spec.get("role", key), "level": spec.get("level", "household"),
                        "profile": "none", "columns": {h: h for h in headers}}
    for key, spec in case.get("registers", {}).items():
        path = tmp / f"reg_{key}.csv"
        headers = _write_rows(path, spec["rows"])
        registers[key] = {"path": path.name, "kind": spec.get("kind", key), "profile": "none",
                          "columns": {h: h for h in headers}}
    data = {"region": "用例县", "year": case.get("year", 2020), "output": "out", "sources": sources,
            "registers": registers, "params": case.get("params", {})}
    if "visits" in case:
        path = tmp / "visits.csv"
        headers = _write_rows(path, case["visits"]["rows"])
        data["visits"] = {"path": path.name, "profile": "none", "columns": {h: h for h in headers}}
    config = parse_config(data, tmp)
    disable = [r.id for r in load_rules() if r.id != rule_id]
    config.rules_disable = disable
    return run(config)


def load_cases() -> list[tuple[str, Path, dict]]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, case in enumerate(doc["cases"]):
            out.append((doc["rule"], path, {**case, "_name": case.get("name", f"case{i + 1}")}))
    return out
