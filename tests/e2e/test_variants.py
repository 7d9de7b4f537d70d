"""The sample county in other counties' shapes (issue 11 §7): same findings, or fewer and explained.

Every variant is a transformation of a fresh copy of data/sample (tests/variants.py), run up to the check
stage on an in-memory database and compared with the unmodified run:

- respelled headers (a1 automatic recognition, a2 `columns:` with full-width brackets): the same findings;
- one column (or one group of columns) taken out of one file: never a finding more; every rule that lost
  findings is `partial` or `skipped` in the run plan with a reason naming the field;
- a register at household level, an optional source left out: the run completes, never a finding more.

The default selection of dropped columns touches every file and every value kind, and holds the columns
known to cause false alarms; RECONCILE_EXHAUSTIVE=1 drops every column of every file, one run each
(~220 runs, ~15 minutes: for benchmarks and nightly CI).
"""

from __future__ import annotations

import os
import shutil

import polars as pl
import pytest

from reconcile.resources import sample_dir
from reconcile.schema import REGISTER_KIND_LABELS, ROLE_LABELS
from tests.variants import (
    PROVIDED_STATUSES,
    County,
    CsvFile,
    Outcome,
    compare,
    copy_sample,
    describe,
    dibao_by_household,
    entry_for,
    field_label,
    field_of,
    file_entries,
    headers_of,
    in_truth,
    plan_explains,
    register_by_household,
    renamed,
    run_checks,
    without_columns,
    without_source,
)

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")
EXHAUSTIVE = os.environ.get("RECONCILE_EXHAUSTIVE") == "1"
NO_PLAN = "run plan not yet available (no plan_rule table in the run database)"

# The archive's procedure dates: the columns whose absence made one county's run report 缺少乡镇公示日期 on
# every household (issue 11).
ARCHIVE_DATES = ("申请时间", "民主评议时间", "村公示时间", "乡镇公示时间", "县公告时间", "退出评议时间",
                 "退出村公示时间", "退出乡镇公示时间", "退出县公告时间")

Drop = tuple[tuple[str, tuple[str, ...]], ...]  # (file, columns taken out of it), one or more files

# Every file touched, every value kind represented (text, name, id, code, codes, date, yearmonth, year,
# int, money, bool, township, village), and the columns known to be dangerous. One run each (~4 s).
DROPS: list[Drop] = [
    (("国家系统导出.xlsx", ("户编号",)),),  # text, required at person level
    (("国家系统导出.xlsx", ("人口编号",)),),  # the record key
    (("国家系统导出.xlsx", ("识别监测时间",)),),  # yearmonth
    (("国家系统导出.xlsx", ("是否享受低保",)),),  # bool
    (("国家系统导出.xlsx", ("脱贫年度",)),),  # year
    (("村级台账.csv", ("乡镇公示时间",)),),  # date: the false alarm of issue 11
    (("村级台账.csv", ARCHIVE_DATES),),  # every procedure date at once
    (("村级台账.csv", ("户编号",)),),  # household code of a household-level source
    (("村级台账.csv", ("帮扶人", "帮扶措施")),),  # name, codes
    (("扶贫手册.xlsx", ("户主身份证号",)),),  # id
    (("扶贫手册.xlsx", ("填写日期",)),),  # record date
    (("扶贫手册.xlsx", ("人均纯收入",)),),  # money
    (("入户核查.csv", ("帮扶干部今年上门次数",)),),  # int
    (("走访记录.csv", ("户编号",)),),  # visits then known by head ID only
    (("部门数据/民政低保.csv", ("村",)),),  # village
    (("部门数据/民政特困.csv", ("乡镇（街道）",)),),  # township
    (("部门数据/残联残疾人.csv", ("残疾等级",)),),  # code
    (("部门数据/公安死亡注销.csv", ("死亡日期",)),),
    (("部门数据/公安户籍.csv", ("与户主关系",)),),
    (("部门数据/教育学籍.csv", ("在校状态",)),),
    (("部门数据/医保参保.csv", ("参保状态",)),),
    (("部门数据/住建危房鉴定.csv", ("鉴定等级",)),),
    # the asset registers are read alike (a listed person owns something): one run for the four
    (("部门数据/财政供养人员.csv", ("人员类别",)), ("部门数据/车辆登记.csv", ("号牌号码",)),
     ("部门数据/商品房登记.csv", ("房屋性质",)), ("部门数据/工商登记.csv", ("名称",))),
]


def _sample_config() -> dict:
    import yaml

    return yaml.safe_load((SAMPLE / "reconcile.yaml").read_text(encoding="utf-8"))


def _every_column() -> list[Drop]:
    sample = County(SAMPLE, _sample_config())
    return [((spec["path"], (h,)),) for _, spec in file_entries(sample.config) for h in headers_of(sample, spec["path"])]


def _drop_cases() -> list[Drop]:
    if not (SAMPLE / "reconcile.yaml").exists():
        return []
    return _every_column() if EXHAUSTIVE else DROPS


def _case_id(case: Drop) -> str:
    parts = [f"{rel}:{'+'.join(h) if len(h) < 3 else f'{len(h)} columns'}" for rel, h in case]
    return parts[0] if len(parts) == 1 else f"{len(parts)} files:" + ",".join(h[0] for _, h in case)


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory, sample_baseline):
    """`variant_run(name, transform)`: the outcome of a transformed copy of the sample, computed once per module
    (the subset test and the explanation test of a case share one run).

    With RECONCILE_VARIANTS_REPORT=<file.csv> every variant's counts against the baseline are written there
    at the end (for the exhaustive nightly run: which columns add or lose findings, in one table)."""
    cache: dict[str, tuple[County, Outcome]] = {}

    def get(name: str, transform) -> tuple[County, Outcome]:
        if name not in cache:
            folder = tmp_path_factory.mktemp("variant")
            county = transform(copy_sample(folder / "county"))
            cache[name] = (county, run_checks(county))
            shutil.rmtree(folder, ignore_errors=True)
        return cache[name]

    yield get
    target = os.environ.get("RECONCILE_VARIANTS_REPORT")
    if target:
        rows = []
        for name, (_, outcome) in cache.items():
            diff = compare(sample_baseline.findings, outcome.findings)
            rows.append({
                "variant": name, "stopped": str(outcome.error or ""), "baseline": sample_baseline.findings.height,
                "variant_findings": outcome.findings.height, "same_id": diff.same_id,
                "same_entity": diff.same_entity, "added": diff.added.height, "lost": diff.lost.height,
                "added_rules": _counts(diff.added), "lost_rules": _counts(diff.lost),
            })
        pl.DataFrame(rows).write_csv(target)


def _counts(findings: pl.DataFrame) -> str:
    counted = findings.group_by("rule_id").len().sort("rule_id")
    return " ".join(f"{r}:{n}" for r, n in counted.iter_rows())


def _completed(outcome: Outcome, what: str) -> None:
    assert outcome.error is None, f"{what}: the run stopped — {outcome.error}"


# ---- the transformation library itself (no run) ------------------------------------------------------------


def test_rewriting_a_file_changes_only_what_was_asked(tmp_path):
    """A rename of nothing and a drop of one column leave every other value, header and Excel number cell as
    it was: a variant differs from the sample only by its transformation."""
    from reconcile.load.readers import read_table

    original = copy_sample(tmp_path / "a")
    county = copy_sample(tmp_path / "b")
    renamed(county, "full_width", renames={rel: {} for rel in ("国家系统导出.xlsx", "村级台账.csv")})
    without_columns(county, "扶贫手册.xlsx", ["填写日期"])
    without_columns(county, "部门数据/民政低保.csv", ["村"])
    for rel, gone in (("国家系统导出.xlsx", []), ("村级台账.csv", []), ("扶贫手册.xlsx", ["填写日期"]),
                      ("部门数据/民政低保.csv", ["村"])):
        spec = entry_for(original.config, rel)[1]
        kwargs = {"header_rows": spec.get("header_rows"), "text_sensitive": ["证件号码", "身份证号"]}
        before, after = read_table(original.path(rel), **kwargs), read_table(county.path(rel), **kwargs)
        assert after.headers == [h for h in before.headers if h not in gone]
        assert after.frame.equals(before.frame.drop(gone)), rel
        assert after.numeric_cells.equals(before.numeric_cells), rel
    assert CsvFile.read(county.path("村级台账.csv")).encoding == "gb18030"
    assert CsvFile.read(county.path("部门数据/民政低保.csv")).encoding == "gb18030"


def test_respelled_headers_are_all_new(tmp_path):
    county = renamed(copy_sample(tmp_path / "county"), "full_width")
    original = County(SAMPLE, _sample_config())
    for _, spec in file_entries(county.config):
        before, after = headers_of(original, spec["path"]), headers_of(county, spec["path"])
        assert len(before) == len(after) and not set(before) & set(after), spec["path"]
        assert all(k.count("(") == 0 for k in spec["columns"]), "config keys carry full-width brackets"


def test_the_household_dibao_list_names_heads_only(tmp_path):
    county = copy_sample(tmp_path / "county")
    people = len(CsvFile.read(county.path("部门数据/民政低保.csv")).rows) - 1
    county = dibao_by_household(county)
    header, *rows = CsvFile.read(county.path("部门数据/民政低保.csv")).rows
    assert header == ["户主姓名", "户主身份证号", "乡镇", "村", "保障类别", "保障人数", "月保障金额", "审批日期"]
    assert len(rows) < people and sum(int(r[5]) for r in rows) == people  # everyone, in fewer households
    assert len({r[1] for r in rows}) == len(rows)
    assert "columns" not in county.config["registers"]["dibao"]


# ---- the unmodified run ------------------------------------------------------------------------------------


def test_the_baseline_runs_every_rule(sample_baseline):
    assert sample_baseline.findings.height > 100
    if sample_baseline.rule_run is not None:
        failed = sample_baseline.rule_run.filter(sample_baseline.rule_run["status"] == "error")
        assert failed.height == 0, failed.to_dicts()


# ---- a. respelled headers: the same findings ---------------------------------------------------------------


@pytest.mark.parametrize("columns", ["remove", "full_width"], ids=["a1-auto", "a2-full-width-columns"])
def test_respelled_headers_give_the_same_findings(sample_baseline, variant_run, columns):
    _, outcome = variant_run(f"renamed-{columns}", lambda c: renamed(c, columns))
    _completed(outcome, f"headers respelled ({columns})")
    diff = compare(sample_baseline.findings, outcome.findings)
    assert outcome.ids() == sample_baseline.ids(), (
        f"baseline {sample_baseline.findings.height} findings, variant {outcome.findings.height}: {diff.summary()}"
        f"\nadded:{describe(diff.added)}\nlost:{describe(diff.lost)}")


# ---- c. a column taken out: never a finding more, every loss explained -------------------------------------


def _drop(case: Drop):
    def transform(county: County) -> County:
        for rel, headers in case:
            county = without_columns(county, rel, headers)
        return county

    return transform


def _fields(case: Drop) -> list[tuple[str, str, str]]:
    """(owner, field, label) of every mapped column the case takes out."""
    config = _sample_config()
    out = []
    for rel, headers in case:
        for h in headers:
            owner, fld = field_of(config, rel, h)
            if fld:
                out.append((owner, fld, field_label(config, rel, fld)))
    return out


def _stopped_by_design(case: Drop, outcome: Outcome) -> bool:
    """A required column of the system export may stop the run (the required source is then unusable), but
    only with a message that names the field."""
    from reconcile.validate.contract import load_contract

    if outcome.error is None:
        return False
    config = _sample_config()
    labels = []
    for rel, headers in case:
        where, spec = entry_for(config, rel)
        if where[0] != "sources" or spec.get("role", where[1]) != "system":
            continue
        required = load_contract()["tables"][spec.get("level", "household")]["required"]
        needed = set(required.get("all", [])) | {f for group in required.get("any_of", []) for f in group}
        labels += [field_label(config, rel, f) for f in (field_of(config, rel, h)[1] for h in headers) if f in needed]
    return bool(labels) and any(label in str(outcome.error) for label in labels)


@pytest.mark.parametrize("case", _drop_cases(), ids=_case_id)
def test_a_column_taken_out_never_adds_a_finding(sample_baseline, variant_run, case):
    _, outcome = variant_run(_case_id(case), _drop(case))
    if _stopped_by_design(case, outcome):
        return
    _completed(outcome, f"without {case}")
    diff = compare(sample_baseline.findings, outcome.findings)
    added = diff.added
    owners = {field_of(_sample_config(), rel, headers[0])[0] for rel, headers in case}
    if owners & outcome.left_out():
        # the column was required, so the plan left its file out: judged as a run without that file (a
        # problem the ground truth lists, now found through another source, is not a false alarm)
        added = in_truth(added).filter(~pl.col("true"))
    assert added.height == 0, (
        f"baseline {sample_baseline.findings.height}, variant {outcome.findings.height}: {diff.summary()}"
        f"\nadded (True = the ground truth lists it):{describe(diff.added)}")


@pytest.mark.parametrize("case", _drop_cases(), ids=_case_id)
def test_findings_lost_with_a_column_are_explained_by_the_plan(sample_baseline, variant_run, case):
    _, outcome = variant_run(_case_id(case), _drop(case))
    if _stopped_by_design(case, outcome):
        pytest.skip("the required source cannot be used without this column: the run stops, nothing to explain")
    _completed(outcome, f"without {case}")
    fields = _fields(case)
    diff = compare(sample_baseline.findings, outcome.findings)
    if outcome.plan_rule is None:
        if diff.lost.height:
            pytest.xfail(NO_PLAN)
        return
    if not fields:  # columns nothing reads: nothing may change
        assert diff.lost.height == 0, f"{diff.summary()}\nlost:{describe(diff.lost)}"
        return
    unexplained = plan_explains(outcome.plan_rule, diff.lost["rule_id"], [label for _, _, label in fields])
    assert not unexplained, f"{diff.summary()}\n" + "\n".join(unexplained) + f"\nlost:{describe(diff.lost)}"
    plan_field = outcome.plan_field
    if plan_field is not None and {"owner", "raw_header", "status"} <= set(plan_field.columns):
        for rel, headers in case:
            owner = field_of(_sample_config(), rel, headers[0])[0]
            claimed = plan_field.filter((plan_field["owner"] == owner) & plan_field["raw_header"].is_in(list(headers))
                                        & plan_field["status"].is_in(list(PROVIDED_STATUSES)))
            assert claimed.height == 0, f"the plan reads a column the file does not have: {claimed.to_dicts()}"


# ---- d. a register at household level ---------------------------------------------------------------------

HOUSEHOLD_REGISTERS = {
    "housing-auto": ("housing", register_by_household),
    "dibao-by-household": ("dibao", dibao_by_household),
}


@pytest.mark.parametrize("name", list(HOUSEHOLD_REGISTERS))
def test_a_register_at_household_level_is_used_without_false_findings(sample_baseline, variant_run, name):
    key, transform = HOUSEHOLD_REGISTERS[name]
    _, outcome = variant_run(name, transform)
    _completed(outcome, f"{key} register at household level")
    diff = compare(sample_baseline.findings, outcome.findings)
    assert diff.added.height == 0, f"{diff.summary()}\nadded:{describe(diff.added)}"
    if outcome.plan_rule is None:
        if diff.lost.height:
            pytest.xfail(NO_PLAN)
        return
    kind = _sample_config()["registers"][key]["kind"]
    unexplained = plan_explains(outcome.plan_rule, diff.lost["rule_id"], [REGISTER_KIND_LABELS[kind], "证件号码"])
    assert not unexplained, f"{diff.summary()}\n" + "\n".join(unexplained) + f"\nlost:{describe(diff.lost)}"


# ---- e. an optional source left out -------------------------------------------------------------------------

SOURCE_LABELS = {"survey": ROLE_LABELS["survey"], "manual": ROLE_LABELS["manual"], "visits": "走访记录"}


@pytest.mark.parametrize("key", list(SOURCE_LABELS))
def test_a_source_left_out_never_raises_a_false_alarm(sample_baseline, variant_run, key):
    """Findings ⊆ baseline, except a problem the ground truth lists that another rule now reports: without the
    扶贫手册 the member the system export lacks is seen through the 户籍 register (MI-HUKOU-MEMBER) instead
    of the comparison with the handbook (FC-MEMBER) — the same problem, found another way, not a false alarm."""
    from reconcile.check.packs import load_rules

    _, outcome = variant_run(f"without-{key}", lambda c: without_source(c, key))
    _completed(outcome, f"without {key}")
    diff = compare(sample_baseline.findings, outcome.findings)
    false = in_truth(diff.added).filter(~pl.col("true"))
    assert false.height == 0, (f"{diff.summary()}, of the added {false.height} not in the ground truth"
                               f"\nadded (True = the ground truth lists it):{describe(diff.added)}")
    needing = {r.id for r in load_rules() if key in r.needs}
    leftover = outcome.findings.filter(outcome.findings["rule_id"].is_in(list(needing)))
    assert leftover.height == 0, f"rules that need {key} still found:{describe(leftover)}"
    if outcome.plan_rule is None:
        if needing:
            pytest.xfail(NO_PLAN)
        return
    unexplained = plan_explains(outcome.plan_rule, needing, [SOURCE_LABELS[key]])
    assert not unexplained, "\n".join(unexplained)
