"""Linkage properties (hypothesis) and golden cases for the hard patterns of real files."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.normalize.ids import id_check_char
from tests.rules.harness import run_case

SURNAMES = "王李张刘陈杨黄赵周吴"
GIVEN = "明华强芳伟秀英敏静丽军洋勇艳杰娟涛超"


def _id(rng: random.Random, year: int, seq: int) -> str:
    body = f"430624{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{seq:03d}"
    return body + id_check_char(body)


def _county(seed: int, households: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for h in range(households):
        size = rng.randint(1, 4)
        for m in range(size):
            rows.append({
                "hh_code": f"H{h:03d}", "village": rng.choice(["大田村", "小河村"]),
                "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
                "id_number": _id(rng, rng.randint(1950, 2015), h * 10 + m),
                "relation": "户主" if m == 0 else rng.choice(["配偶", "之子", "之女"]), "hh_size": str(size),
            })
    # a household's rows share the first row's village
    village = {}
    for row in rows:
        row["village"] = village.setdefault(row["hh_code"], row["village"])
    return rows


def _pairs(result) -> set[tuple[str, str]]:
    links = result.links
    by_cluster: dict[str, list] = {}
    for row in links.iter_rows(named=True):
        by_cluster.setdefault(row["cluster_id"], []).append((row["source"], row["rec_key"]))
    return {tuple(sorted(m)) for m in by_cluster.values() if len(m) > 1}


@given(st.integers(0, 10_000))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_source_linked_to_itself_links_every_record_to_its_copy(tmp_path_factory, seed):
    rows = _county(seed, 12)
    case = {"sources": {"system": {"level": "person", "rows": rows},
                        "manual": {"level": "person", "rows": [dict(r) for r in rows]}}}
    result = run_case(case, tmp_path_factory.mktemp("self"), "FC-HH-SIZE")
    assert _pairs(result) == {(("manual", f"H{h:03d}"), ("system", f"H{h:03d}")) for h in range(12)}
    persons = result.person_links
    assert persons.group_by("person_cluster_id").len()["len"].to_list() == [2] * (len(rows))


@given(st.integers(0, 10_000))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_links_do_not_depend_on_row_order_and_noise_never_splits_a_clean_pair(tmp_path_factory, seed):
    rows = _county(seed, 10)
    archive = [{"hh_code": "", "village": r["village"], "head_name": r["name"], "head_id": "", "hh_size": r["hh_size"]}
               for r in rows if r["relation"] == "户主"]
    base = run_case({"sources": {"system": {"level": "person", "rows": rows}, "archive": {"rows": archive}}},
                    tmp_path_factory.mktemp("a"), "FC-HH-SIZE")
    linked = {frozenset(p) for p in _pairs(base)}
    rng = random.Random(seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    noise = _county(seed + 1, 5)
    for row in noise:
        row["hh_code"] = "N" + row["hh_code"]
        row["village"] = "远山村"
    again = run_case({"sources": {"system": {"level": "person", "rows": shuffled + noise},
                                  "archive": {"rows": archive}}}, tmp_path_factory.mktemp("b"), "FC-HH-SIZE")
    # archive rec_keys carry row numbers: same archive file, so the same keys
    assert {frozenset(p) for p in _pairs(again)} >= linked


def _hard_case():
    wang, li, son = "430624198001011239", "430624198202022241", "430624201003033313"
    zhang, liu = "430624197004044410", "430624199005055524"
    system = [
        {"hh_code": "H1", "village": "大田村", "name": "李明华", "id_number": wang, "relation": "户主", "hh_size": "3"},
        {"hh_code": "H1", "village": "大田村", "name": "王芳", "id_number": li, "relation": "配偶", "hh_size": "3"},
        {"hh_code": "H1", "village": "大田村", "name": "李小虎", "id_number": son, "relation": "之子", "hh_size": "3"},
        {"hh_code": "H2", "village": "大田村", "name": "张强", "id_number": zhang, "relation": "户主", "hh_size": "2"},
        {"hh_code": "H2", "village": "大田村", "name": "刘梅", "id_number": liu, "relation": "配偶", "hh_size": "2"},
    ]
    manual = [  # homophone head, Excel-mangled ID, no 户编号 match; H2 with head and spouse swapped
        {"hh_code": "M1", "village": "大田村委会", "name": "李明化", "id_number": "430624198001011328",
         "relation": "户主", "hh_size": "3"},
        {"hh_code": "M1", "village": "大田村委会", "name": "王芳", "id_number": "", "relation": "配偶", "hh_size": "3"},
        {"hh_code": "M1", "village": "大田村委会", "name": "李小虎", "id_number": "", "relation": "之子", "hh_size": "3"},
        {"hh_code": "H2", "village": "大田", "name": "刘梅", "id_number": liu, "relation": "户主", "hh_size": "2"},
        {"hh_code": "H2", "village": "大田", "name": "张强", "id_number": zhang, "relation": "配偶", "hh_size": "2"},
    ]
    return {"sources": {"system": {"level": "person", "rows": system}, "manual": {"level": "person", "rows": manual}}}


def test_golden_homophone_head_mangled_id_and_swapped_head_spouse(tmp_path):
    result = run_case(_hard_case(), tmp_path, "FC-HEAD")
    pairs = _pairs(result)
    assert (("manual", "M1"), ("system", "H1")) in pairs
    assert (("manual", "H2"), ("system", "H2")) in pairs
    persons = result.person_links.group_by("person_cluster_id").len()
    assert persons["len"].to_list() == [2] * 5  # every member found its counterpart
