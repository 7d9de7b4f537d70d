"""Linkage properties (hypothesis) and golden cases for the hard patterns of real files."""

from __future__ import annotations

import random
from datetime import date

import pytest
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


NAMES = st.sampled_from([None, "", "王明", "王明华", "王明化", "李秀英", "李秀", "Wang Ming", "wang ming"])
IDS = st.sampled_from([None, "", "?", "430624198001011234", "?430624198001011234", "430624198001011235",
                       "43062419800101123", "430624198001019999", "110101199003074514"])
DATES = st.sampled_from([None, date(1980, 1, 2), date(1980, 2, 1),
                         date(1980, 1, 9), date(1981, 5, 5)])
SIZES = st.sampled_from([None, 1, 2, 3, 5])
TEXTS = st.sampled_from([None, "", "户主", "配偶", "之子"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_comparing_each_distinct_pair_once_gives_every_pair_its_own_level(data):
    """Levels are computed once per distinct pair of values and spread back: the same as comparing every pair."""
    import numpy as np
    import polars as pl

    from reconcile.link.scoring import Comparison

    for kind, values, dtype in (("name", NAMES, pl.String), ("id", IDS, pl.String), ("date", DATES, pl.Date),
                                ("size", SIZES, pl.Int64), ("equal", TEXTS, pl.String)):
        pairs = data.draw(st.lists(st.tuples(values, values), min_size=1, max_size=30))
        left = pl.Series("x_l", [a for a, _ in pairs], dtype=dtype)
        right = pl.Series("x_r", [b for _, b in pairs], dtype=dtype)
        comparison = Comparison("x", kind, "x", "x", {}, fuzzy=0.8)
        levels, sim = comparison.levels(left, right)
        one_by_one = [comparison._levels(left[i:i + 1], right[i:i + 1]) for i in range(len(pairs))]
        assert levels.tolist() == [int(lv[0]) for lv, _ in one_by_one], kind
        assert np.allclose(sim, [float(s[0]) for _, s in one_by_one]), kind


def _member_overlap_one_pair_at_a_time(a: list, b: list, fuzzy: float) -> list[float]:
    """The specification of member_overlap, pair by pair (what the linker computed before issue 18)."""
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import Indel

    from reconcile.link.compare import pinyin

    shares = []
    for xs, ys in zip(a, b, strict=True):
        if not xs or not ys:
            shares.append(-1.0)
            continue
        xs = [(m["name"] or "", m["year"]) for m in xs]
        ys = [(m["name"] or "", m["year"]) for m in ys]
        small, large = (xs, ys) if len(xs) <= len(ys) else (ys, xs)
        chars = process.cdist([n for n, _ in small], [n for n, _ in large], scorer=Indel.normalized_similarity,
                              dtype=np.float32)
        sounds = process.cdist([pinyin(n) for n, _ in small], [pinyin(n) for n, _ in large],
                               scorer=Indel.normalized_similarity, dtype=np.float32)
        sim = np.maximum(chars, sounds)
        years_small = np.array([y if y is not None else -1 for _, y in small])[:, None]
        years_large = np.array([y if y is not None else -1 for _, y in large])[None, :]
        sim[(years_small >= 0) & (years_large >= 0) & (np.abs(years_small - years_large) > 1)] = 0
        shares.append(float((sim >= fuzzy).any(axis=1).sum() / len(small)))
    return shares


MEMBER = st.fixed_dictionaries({"name": st.sampled_from([None, "", "王明", "王明华", "王明化", "李秀英", "李秀", "张强"]),
                                "year": st.sampled_from([None, 1950, 1951, 1953, 1980, 2010])})
MEMBERS = st.one_of(st.none(), st.lists(MEMBER, max_size=5))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the same list on both sides too: those pairs take member_overlap's short way (share 1, no cross of the lists)
@given(st.lists(st.one_of(st.tuples(MEMBERS, MEMBERS), MEMBERS.map(lambda m: (m, m))), min_size=1, max_size=12),
       st.sampled_from([0.6, 0.8, 1.0]))
def test_member_overlap_over_all_pairs_at_once_is_the_pair_by_pair_share(pairs, fuzzy):
    import numpy as np
    import polars as pl

    from reconcile.link.compare import member_overlap

    kind = pl.List(pl.Struct({"name": pl.String, "year": pl.Int64}))
    left = pl.Series("m_l", [a for a, _ in pairs], dtype=kind)
    right = pl.Series("m_r", [b for _, b in pairs], dtype=kind)
    expected = _member_overlap_one_pair_at_a_time(left.to_list(), right.to_list(), fuzzy)
    assert np.allclose(member_overlap(left, right, fuzzy), expected)


def _id_level_one_pair(x: str | None, y: str | None) -> int:
    """The ID comparison as first written, one pair at a time: the reference the vectorised one must equal."""
    from rapidfuzz.distance import Hamming, Indel

    if not x or not y or x == "?" or y == "?":
        return 0
    bad = x[0] == "?" or y[0] == "?"
    x, y = x.lstrip("?"), y.lstrip("?")
    if x == y:
        return 2 if bad else 1
    if (len(x) == len(y) and (x[:15] == y[:15] or Hamming.distance(x, y) <= 2)) or \
            (abs(len(x) - len(y)) == 1 and Indel.distance(x, y) == 1):
        return 2
    if not bad and x[:14] == y[:14]:
        return 3
    return 0 if bad else 4


ID_LIKE = st.one_of(st.none(), st.just(""), st.just("?"),
                    st.text("?0123456789X", min_size=1, max_size=20),
                    st.sampled_from(["430624196907194917", "430624196907194918", "430624196907194", "?430624196907194917",
                                     "43062419690719491", "430624196907199008", "4306241969071949170"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(ID_LIKE, ID_LIKE), min_size=1, max_size=15))
def test_id_levels_for_all_pairs_at_once_are_the_pair_by_pair_levels(pairs):
    from reconcile.link.compare import id_levels

    left, right = [p[0] for p in pairs], [p[1] for p in pairs]
    assert id_levels(left, right).tolist() == [_id_level_one_pair(x, y) for x, y in pairs]


NAME_LIKE = st.one_of(st.none(), st.just(""), st.text("王李张明华化曾单 ab", max_size=5))


def _name_level_one_pair(x: str | None, y: str | None, fuzzy: float) -> tuple[int, float]:
    """The name comparison one pair at a time, as first written: the reference."""
    from rapidfuzz.distance import Indel, JaroWinkler

    from reconcile.link.compare import pinyin

    x, y = x or "", y or ""
    if not x or not y:
        return 0, -1.0
    chars = Indel.normalized_similarity(x, y)
    sounds = JaroWinkler.normalized_similarity(x.lower(), y.lower()) if x.isascii() and y.isascii() else \
        Indel.normalized_similarity(pinyin(x), pinyin(y))
    best = max(chars, sounds)
    level = 1 if x == y else 2 if sounds >= 0.999 else 3 if best >= fuzzy else 4
    return level, best


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# equal names too: name_similarity leaves them out of rapidfuzz
@given(st.lists(st.one_of(st.tuples(NAME_LIKE, NAME_LIKE), NAME_LIKE.map(lambda n: (n, n))), min_size=1, max_size=15),
       st.sampled_from([0.6, 0.8]))
def test_name_levels_for_all_pairs_at_once_are_the_pair_by_pair_levels(pairs, fuzzy):
    from reconcile.link.compare import name_levels

    levels, best = name_levels([p[0] for p in pairs], [p[1] for p in pairs], fuzzy)
    expected = [_name_level_one_pair(x, y, fuzzy) for x, y in pairs]
    assert levels.tolist() == [level for level, _ in expected]
    assert best.tolist() == pytest.approx([b for _, b in expected], abs=1e-6)


NAME_CHARACTERS = "李王张刘陈杨赵黄周吴曾单仇解区查朴盖乐员缪尉覃种长秘万俟迟明华芳国藩恭卨·阿卜杜热合曼 AbZx9-"


@given(st.lists(st.one_of(st.none(), st.text(alphabet=NAME_CHARACTERS, max_size=6),
                          st.text(max_size=4)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_readings_of_a_column_are_each_names_pinyin(names):
    """`readings` builds a column's pinyin from each distinct character's (issue 18): name for name what `pinyin`
    says — surnames read as surnames (曾 zeng, 万俟 moqi), Latin names lower-cased, a missing name ""."""
    import polars as pl

    from reconcile.link.compare import pinyin, readings

    assert readings(pl.Series("name", names, dtype=pl.String)).to_list() == [pinyin(n) for n in names]


def _simple_level_one_pair(kind: str, x, y) -> int:
    """Dates, sizes and plain equality one pair at a time, as first written: the reference for the column-wise
    comparisons (issue 18)."""
    if kind == "equal":
        return 0 if x is None or y is None or x == "" or y == "" else (1 if x == y else 2)
    if x is None or y is None:
        return 0
    if kind == "size":
        return 1 if x == y else 2 if abs(x - y) == 1 else 3
    if x == y:
        return 1
    if x.year == y.year and (x.month == y.month or (x.month == y.day and x.day == y.month)):
        return 2
    return 3 if x.year == y.year else 4


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_dates_sizes_and_equality_column_wise_are_the_pair_by_pair_levels(data):
    import polars as pl

    from reconcile.link.scoring import Comparison

    swapped_dates = st.sampled_from([None, date(1980, 1, 2), date(1980, 2, 1), date(1980, 1, 9), date(1981, 5, 5),
                                     date(1980, 9, 1), date(1980, 1, 1)])
    for kind, values, dtype in (("date", swapped_dates, pl.Date), ("size", SIZES, pl.Int64),
                                ("equal", TEXTS, pl.String)):
        pairs = data.draw(st.lists(st.tuples(values, values), min_size=1, max_size=30))
        left = pl.Series("x_l", [a for a, _ in pairs], dtype=dtype)
        right = pl.Series("x_r", [b for _, b in pairs], dtype=dtype)
        levels, _ = Comparison("x", kind, "x", "x", {}).levels(left, right)
        assert levels.tolist() == [_simple_level_one_pair(kind, x, y) for x, y in pairs], kind


PERSON_PAIR = st.fixed_dictionaries({
    "id_number_l": IDS, "id_number_r": IDS, "name_l": NAMES, "name_r": NAMES, "birth_l": DATES, "birth_r": DATES,
    "relation_l": TEXTS, "relation_r": TEXTS})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PERSON_PAIR, min_size=1, max_size=25), st.sampled_from([-2.0, 2.0, 6.0]))
def test_pruned_scoring_skips_only_pairs_that_could_never_be_possible(rows, possible):
    """A pair left uncompared by pruning could not have reached `possible`; every other pair is scored as in full,
    so the assignment decides the same links and possible matches (issue 18)."""
    import polars as pl

    from reconcile.link.scoring import assign, linker_from_params, score_pairs
    from reconcile.resources import default_params

    spec = dict(default_params()["linkage"]["person"], possible=possible, link=max(possible, 4.0))
    linker = linker_from_params(spec)
    pairs = pl.DataFrame(rows, schema={c: (pl.Date if c.startswith("birth") else pl.String) for c in rows[0]}) \
        .with_row_index("a").with_columns(pl.col("a").cast(pl.String), b=pl.lit("other") + pl.col("a").cast(pl.String))
    full, pruned = score_pairs(pairs, linker), score_pairs(pairs, linker, prune=True)
    level_columns = [c for c in full.columns if c.endswith("_level")]
    skipped = pruned.select(pl.any_horizontal(pl.col(level_columns).is_null()))[:, 0]
    assert (full.filter(skipped)["score"] < linker.possible).all()
    assert full.filter(~skipped).equals(pruned.filter(~skipped))
    assert assign(full, linker, "a", "b")["decision"].to_list() == assign(pruned, linker, "a", "b")["decision"].to_list()


def test_two_people_with_different_valid_ids_are_not_compared_by_name():
    """The common case pruning is for: two members of one household. Their names and births are not compared (null
    level, a skipped comparison), the same person's are."""
    import polars as pl

    from reconcile.link.scoring import linker_from_params, score_pairs
    from reconcile.resources import default_params

    linker = linker_from_params(default_params()["linkage"]["person"])
    pairs = pl.DataFrame({"a": ["1", "2"], "b": ["3", "4"],
                          "id_number_l": ["430624198001011234", "430624198001011234"],
                          "id_number_r": ["110101199003074514", "430624198001011234"],
                          "name_l": ["王明", "王明"], "name_r": ["王明化", "王明"],
                          "birth_l": [date(1980, 1, 1)] * 2, "birth_r": [date(1990, 3, 7), date(1980, 1, 1)],
                          "relation_l": ["户主"] * 2, "relation_r": ["之子", "户主"]})
    pruned = score_pairs(pairs, linker, prune=True)
    assert pruned["id_number_level"].to_list() == ["else", "exact"]
    assert pruned["name_level"].to_list() == [None, "exact"]
    assert pruned["birth_level"].to_list() == [None, "exact"]
    assert pruned["score"].to_list() == [-8 - 0.5, 14 + 5 + 3 + 1]  # relations (cheapest, compared first) differ
    assert score_pairs(pairs, linker)["name_level"].to_list() == ["fuzzy", "exact"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text("0123X?李 ", max_size=4).flatmap(
    lambda x: st.tuples(st.just(x), st.text("0123X?李 ", min_size=len(x), max_size=len(x)))), min_size=1, max_size=20))
def test_hamming_in_bulk_is_rapidfuzz_pair_by_pair(pairs):
    """Equal-length texts, ASCII or not, empty ones too: the byte matrix and rapidfuzz agree."""
    import polars as pl
    from rapidfuzz.distance import Hamming

    from reconcile.link.compare import hamming

    left = pl.Series([x for x, _ in pairs], dtype=pl.String)
    right = pl.Series([y for _, y in pairs], dtype=pl.String)
    assert hamming(left, right).tolist() == [Hamming.distance(x, y) for x, y in pairs]
