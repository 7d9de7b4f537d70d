"""Golden rule tests: each case is a tiny input and the exact findings the rule must produce."""

from __future__ import annotations

import pytest

from reconcile.check.packs import kinds, load_rules

from .harness import CASES, load_cases, run_case

ENTITY_KEYS = ("hh_code", "head_id", "head_name", "person_id", "person_name", "kind", "severity")


@pytest.mark.parametrize("rule_id,path,case", load_cases(), ids=lambda v: v if isinstance(v, str) else None)
def test_rule_case(rule_id, path, case, tmp_path):
    result = run_case(case, tmp_path, rule_id)
    runs = {r["rule_id"]: r for r in result.rule_runs.to_dicts()}
    assert runs[rule_id]["status"] == "ran", runs[rule_id]["reason"]
    findings = result.findings.filter(result.findings["rule_id"] == rule_id).to_dicts()
    expected = case.get("expect", [])
    # every expected finding is produced, described by a subset of its columns ...
    unmatched = list(findings)
    for want in expected:
        match = next((f for f in unmatched if all(str(f.get(k)) == str(v) for k, v in want.items()
                                                  if k != "message_contains")), None)
        assert match is not None, f"{path.name}/{case['_name']}: missing finding {want}; got {findings}"
        if "message_contains" in want:
            assert want["message_contains"] in match["message"], match["message"]
        unmatched.remove(match)
    # ... and nothing else: the near misses in the case must not fire
    assert not unmatched, f"{path.name}/{case['_name']}: unexpected findings {unmatched}"


def test_every_rule_has_a_case_file():
    with_cases = {rule for rule, _, _ in load_cases()}
    missing = [r.id for r in load_rules() if r.id not in with_cases]
    assert not missing, f"rules without a case file in {CASES}: {missing}"


def test_every_rule_kind_is_in_the_vocabulary():
    vocabulary = kinds()
    assert len(vocabulary) == 43  # kinds.csv (33) and kinds-monitoring.csv (10)
    for rule in load_rules():
        assert rule.kind in vocabulary


def test_project_vocabulary_matches_shared_codes():
    import csv
    from pathlib import Path

    shared = Path(__file__).resolve().parents[3] / "shared"
    files = [shared / "kinds.csv", shared / "kinds-monitoring.csv"]
    if not all(f.exists() for f in files):
        pytest.skip("shared/kinds.csv and kinds-monitoring.csv are not beside this checkout")
    rows = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            rows += list(csv.DictReader(f))
    assert [row["kind"] for row in rows] == list(kinds())
    for row in rows:  # the project's own copy says the same of each kind
        kind = kinds()[row["kind"]]
        assert (kind.title, kind.category, kind.severity) == (row["title_zh"], row["table3_category"],
                                                              row["default_severity"])
