"""Exact-key household and person linkage."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.link.unionfind import cluster_numbers
from tests.rules.harness import run_case

IDS = {
    "wang": "430624198001011239", "li": "430624198202022241", "son": "430624201003033313",
    "zhang": "430624197004044410", "liu": "430624199005055524", "zhao": "430624196507077711",
}


def _clusters(result) -> dict[tuple[str, str], str]:
    return {(r["source"], r["rec_key"]): r["cluster_id"] for r in result.links.to_dicts()}


def test_clusters_numbered_by_their_first_record_and_ignore_pair_order():
    # records 0..4; pairs 2-3 and 0-1: the cluster holding record 0 is first, then 2's, then 4 alone
    numbers = cluster_numbers(5, np.array([2, 0]), np.array([3, 1]))
    assert numbers.tolist() == [1, 1, 2, 2, 3]
    assert cluster_numbers(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == [1, 2, 3]
    assert cluster_numbers(0, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == []


@given(st.permutations(list(range(8))))
@settings(max_examples=30, deadline=None)
def test_clusters_do_not_depend_on_pair_order(order):
    left = np.array([0, 1, 2, 4, 5, 6, 0, 3])
    right = np.array([1, 2, 3, 5, 6, 7, 3, 2])
    base = cluster_numbers(10, left, right).tolist()
    assert base == [1, 1, 1, 1, 2, 2, 2, 2, 3, 4]
    assert cluster_numbers(10, left[list(order)], right[list(order)]).tolist() == base


def _case(system_rows, archive_rows, manual_rows=None):
    sources = {"system": {"level": "person", "rows": system_rows}}
    if archive_rows:
        sources["archive"] = {"rows": archive_rows}
    if manual_rows:
        sources["manual"] = {"level": "person", "rows": manual_rows}
    return {"sources": sources}


def test_households_link_on_head_id_then_hh_code_then_member_majority(tmp_path):
    system = [
        {"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": IDS["wang"], "relation": "户主"},
        {"hh_code": "H1", "village": "大田村", "name": "李芳", "id_number": IDS["li"], "relation": "配偶"},
        {"hh_code": "H2", "village": "大田村", "name": "张强", "id_number": IDS["zhang"], "relation": "户主"},
        {"hh_code": "H3", "village": "大田村", "name": "赵刚", "id_number": IDS["zhao"], "relation": "户主"},
        {"hh_code": "H3", "village": "大田村", "name": "刘梅", "id_number": IDS["liu"], "relation": "配偶"},
    ]
    archive = [
        {"hh_code": "", "village": "大田村委会", "head_name": "王明", "head_id": IDS["wang"]},  # head ID
        {"hh_code": "H2", "village": "大田", "head_name": "张强", "head_id": "4.30624E+17"},  # 户编号
        {"hh_code": "", "village": "大田", "head_name": "某某", "head_id": ""},  # nothing to link on
    ]
    manual = [  # H3 under another code and another head, same members: linked by the member majority
        {"hh_code": "X9", "village": "大田村", "name": "刘梅", "id_number": IDS["liu"], "relation": "户主"},
        {"hh_code": "X9", "village": "大田村", "name": "赵刚", "id_number": IDS["zhao"], "relation": "配偶"},
    ]
    result = run_case(_case(system, archive, manual), tmp_path, "FC-HH-SIZE")
    links = result.links.to_dicts()
    by_key = {(r["source"], r["rec_key"]): r for r in links}
    clusters = _clusters(result)
    assert clusters[("system", "H1")] == clusters[("archive", "archive.csv::2")]
    assert by_key[("archive", "archive.csv::2")]["method"] == "head_id"
    assert clusters[("system", "H2")] == clusters[("archive", "archive.csv::3")]
    assert by_key[("archive", "archive.csv::3")]["method"] == "hh_code"
    assert clusters[("system", "H3")] == clusters[("manual", "X9")]
    assert by_key[("manual", "X9")]["method"] == "member_ids"
    assert by_key[("archive", "archive.csv::4")]["method"] == "single"
    assert len({clusters[("system", h)] for h in ("H1", "H2", "H3")}) == 3


def test_one_shared_member_does_not_fuse_two_households(tmp_path):
    # a married daughter still listed with her parents: one shared ID of three is not a majority
    system = [
        {"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": IDS["wang"], "relation": "户主"},
        {"hh_code": "H1", "village": "大田村", "name": "李芳", "id_number": IDS["li"], "relation": "配偶"},
        {"hh_code": "H1", "village": "大田村", "name": "刘梅", "id_number": IDS["liu"], "relation": "之女"},
    ]
    manual = [
        {"hh_code": "H7", "village": "大田村", "name": "赵刚", "id_number": IDS["zhao"], "relation": "户主"},
        {"hh_code": "H7", "village": "大田村", "name": "刘梅", "id_number": IDS["liu"], "relation": "配偶"},
        {"hh_code": "H7", "village": "大田村", "name": "赵小", "id_number": IDS["son"], "relation": "之子"},
    ]
    result = run_case(_case(system, [], manual), tmp_path, "FC-HH-SIZE")
    clusters = _clusters(result)
    assert clusters[("system", "H1")] != clusters[("manual", "H7")]


def test_persons_link_on_id_then_unique_name_and_results_ignore_row_order(tmp_path):
    system = [
        {"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": IDS["wang"], "relation": "户主"},
        {"hh_code": "H1", "village": "大田村", "name": "王小虎", "id_number": IDS["son"], "relation": "之子"},
        {"hh_code": "H1", "village": "大田村", "name": "李芳", "id_number": IDS["li"], "relation": "配偶"},
    ]
    manual = [
        {"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": IDS["wang"], "relation": "户主"},
        {"hh_code": "H1", "village": "大田村", "name": "王小虎", "id_number": "43062420100303331", "relation": "之子"},
        {"hh_code": "H1", "village": "大田村", "name": "李芳", "id_number": "", "relation": "配偶"},
    ]

    def person_groups(rows_system, rows_manual, path):
        result = run_case(_case(rows_system, [], rows_manual), path, "FC-MEMBER")
        frame = result.person_links
        names = dict(zip(zip(frame["source"], frame["rec_key"], strict=True), frame["name"], strict=True))
        groups = frame.group_by("person_cluster_id").agg(pl.struct("source", "rec_key")).to_dicts()
        return sorted(sorted(f"{m['source']}:{names[(m['source'], m['rec_key'])]}" for m in g["source"])
                      for g in groups), frame

    groups, frame = person_groups(system, manual, tmp_path / "a")
    assert groups == [["manual:李芳", "system:李芳"], ["manual:王小虎", "system:王小虎"], ["manual:王明", "system:王明"]]
    methods = dict(zip(frame["name"], frame["method"], strict=False))
    assert methods["王明"] == "id_number" and methods["李芳"] == "name"
    rng = random.Random(3)
    shuffled_s, shuffled_m = system[:], manual[:]
    rng.shuffle(shuffled_s)
    rng.shuffle(shuffled_m)
    assert person_groups(shuffled_s, shuffled_m, tmp_path / "b")[0] == groups


def test_explain_link_shows_every_comparison_and_the_decision(tmp_path):
    from rich.console import Console

    from reconcile.link.explain import explain_link

    system = [
        {"hh_code": "H1", "village": "大田村", "name": "张明华", "id_number": IDS["zhang"], "relation": "户主",
         "hh_size": "1"},
    ]
    archive = [{"hh_code": "", "village": "大田村委会", "head_name": "张明化", "head_id": "", "hh_size": "1"}]
    # explain-link reads a finished run's database: the whole pipeline, not just the rule
    from reconcile.check.cases import case_config
    from reconcile.pipeline import run

    result = run(case_config(_case(system, archive), tmp_path))
    console = Console(record=True, width=160)
    explain_link(result.config, "system:H1", "archive:archive.csv::2", console)
    text = console.export_text()
    assert "户主姓名" in text and "同音" in text and "家庭人口数" in text
    assert not {"homophone", "exact", "fuzzy", "head_id", "hh_code"} & set(text.replace("│", " ").split())
    assert "已匹配" in text and "同一个匹配组" in text


def test_explain_link_scores_in_full_a_pair_the_linker_stopped_comparing(tmp_path):
    """Husband and wife, one in each source: the linker stops at their different IDs (they can never be one person)
    and keeps no row of them in person_candidate; explain-link knows them for a candidate pair from their records
    (one household, two sources), shows every comparison and the whole score, and concludes they are not linked.
    Two records that were never a candidate pair are said to be so."""
    from rich.console import Console

    from reconcile.check.cases import case_config
    from reconcile.link.explain import explain_link
    from reconcile.pipeline import run

    members = [
        {"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": IDS["wang"], "relation": "户主"},
        {"hh_code": "H1", "village": "大田村", "name": "李芳", "id_number": IDS["li"], "relation": "配偶"},
    ]
    result = run(case_config(_case(members, None, members), tmp_path))
    keys = {(r["source"], r["name"]): r["rec_key"] for r in result.person_links.to_dicts()}
    con = duckdb.connect(str(result.config.output / "reconcile.duckdb"), read_only=True)
    stored = con.execute("select a, b, decision from person_candidate").fetchall()
    con.close()
    assert {d for *_, d in stored} == {"link"}  # the two links kept; the husband-wife pairs stopped, not kept
    console = Console(record=True, width=160)
    explain_link(result.config, f"system:{keys[('system', '王明')]}", f"manual:{keys[('manual', '李芳')]}", console)
    text = console.export_text()
    total = next(line for line in text.splitlines() if line.startswith("合计得分")).split()[1].split(";")[0]
    assert "姓名" in text and "未匹配" in text
    assert f"得分 {total}" in text.split("结论")[1]  # the conclusion's score is the whole one
    assert "依据 综合得分" in text.split("结论")[1] and "没有进入候选" not in text
    # each column is headed by the record it shows, whichever order the two were asked in
    header = next(line for line in text.splitlines() if "比较项" in line)
    assert header.index("manual:") < header.index("system:")
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("姓名"))
    assert row.index("李芳") < row.index("王明")
    console = Console(record=True, width=160)  # one source's husband and wife: never a candidate pair
    explain_link(result.config, f"system:{keys[('system', '王明')]}", f"system:{keys[('system', '李芳')]}", console)
    assert "没有进入候选" in console.export_text()


def test_a_run_with_household_level_sources_only(tmp_path):
    archive = [{"hh_code": "H1", "village": "大田村", "head_name": "王明", "head_id": IDS["wang"], "hh_size": "2"}]
    survey = [{"village": "大田村", "head_name": "王明", "head_id": IDS["wang"], "hh_size": "3"}]
    result = run_case({"sources": {"archive": {"rows": archive}, "survey": {"rows": survey}}}, tmp_path, "FC-HH-SIZE")
    assert result.person_links.height == 0
    assert result.findings.filter(result.findings["rule_id"] == "FC-HH-SIZE").height == 1


def test_every_comparison_level_reads_in_chinese():
    from reconcile.link.scoring import LEVEL_LABELS, LEVEL_NAMES

    levels = {level for names in LEVEL_NAMES.values() for level in names}
    assert levels == set(LEVEL_LABELS)
    assert all(not label.isascii() for label in LEVEL_LABELS.values())
