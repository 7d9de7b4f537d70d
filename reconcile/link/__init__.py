"""Link stage: the same household and the same person across sources (DESIGN §6).

Reads `src_household`, `src_person`, `register`; writes `hh_candidate` (every scored pair, for
`explain-link`), `hh_link`, `person_candidate`, `person_link`, `register_link` and the wide views
`hh_wide` / `person_wide` (paired columns `<field>_<source>`).

Households: candidate pairs come from exact keys anywhere in the county (valid head ID, 户编号,
shared valid member IDs) and, for records those keys left without a partner, from every record of
the other source in the same village (blocking on the normalised village name). Each pair is scored
by comparison levels (`rules/params` → `linkage.household`), and links are chosen one-to-one per
source pair by optimal assignment. Pairs of one source that are the same household become
`household_duplicate` evidence and join their twin's cluster as non-primary records.
Persons: every cross-source pair inside a linked household is scored the same way (ID, name in
characters and pinyin, birth date from the record or the ID, relation) and assigned one-to-one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing

import duckdb
import numpy as np
import polars as pl

from ..config import Config
from ..db import query_frame as _frame
from ..db import write_frame as _write
from .compare import readings
from .scoring import assign, linker_from_params, score_pairs
from .unionfind import cluster_numbers
from .wide import build_household_views, build_person_views, build_register_links

SEP = "\x1f"

HH_RECORDS_SQL = f"""
create or replace table hh_record as
with members as (
    select source, hh_key as rec_key,
           list(struct_pack(name := name, year := year(coalesce(birth_date, id_number_birth))) order by row) as members,
           list(distinct id_number) filter (where id_number_valid) as member_ids
    from src_person where hh_key is not null group by all
)
select h.source, h.rec_key, h.source || '{SEP}' || h.rec_key as node, h.row,
       -- the record's place in the frame the linker reads (`order by i`): pairs carry it, not the node's text
       (row_number() over (order by h.source, h.rec_key) - 1)::bigint as i,
       coalesce(h.village_key, '') as block, s.reading as surname_key, h.hh_code, h.head_name,
       case when h.head_id_valid then h.head_id end as head_id_valid_value,
       case when h.head_id_valid then h.head_id else '?' || h.head_id end as head_id, h.hh_size, m.members,
       -- sorted: a set, written the same way every run (list_distinct's order varies from run to run)
       list_sort(list_distinct(coalesce(m.member_ids, []) || case when h.head_id_valid then [h.head_id] else [] end))
           as ids
from src_household h left join members m using (source, rec_key)
left join _surname_reading s on s.name = h.head_name
"""

# candidate pairs a < b by node; `same_source` pairs are duplicate candidates. The records are joined on their
# number `i` (ordered as the node's text: source, then rec_key), not on the node's text (issue 18)
HH_CANDIDATES_SQL = """
create or replace table hh_candidate_keys as
with ids as (select i, unnest(ids) as id from hh_record),
keyed as (
    select a.i as a, b.i as b, a.source as source_a, b.source as source_b from hh_record a join hh_record b
      on a.head_id_valid_value = b.head_id_valid_value and a.i < b.i
    union
    select a.i, b.i, a.source, b.source from hh_record a join hh_record b on a.hh_code = b.hh_code and a.i < b.i
    union
    select a.i, b.i, ra.source, rb.source from ids a join ids b on a.id = b.id and a.i < b.i
    join hh_record ra on ra.i = a.i join hh_record rb on rb.i = b.i
),
keyed_partners as (select a as i, source_b as other from keyed union select b, source_a from keyed),
residual as (  -- (record, other source) with no exact-key candidate: compare inside the village
    select r.i, r.source, r.block, r.surname_key, o.source as other
    from hh_record r cross join (select distinct source from hh_record) o
    where o.source <> r.source
      and not exists (select 1 from keyed_partners k where k.i = r.i and k.other = o.source)
),
blocked as (  -- both still without a partner in the other's source; same village, same-sounding surname
    select x.i as a, y.i as b, x.source as source_a, y.source as source_b
    from residual x join residual y
      on y.source = x.other and y.other = x.source and y.block = x.block and x.block <> '' and x.i < y.i
    where x.surname_key is not distinct from y.surname_key
),
pairs as (select * from keyed union select * from blocked),
shared as (
    select p.a, p.b, count(distinct ia.id) as n
    from pairs p join ids ia on ia.i = p.a join ids ib on ib.i = p.b and ib.id = ia.id
    group by all
)
select ra.node as a, rb.node as b, p.a as ia, p.b as ib, p.source_a, p.source_b,
       case when len(ra.ids) = 0 or len(rb.ids) = 0 then null
            else coalesce(s.n, 0) / least(len(ra.ids), len(rb.ids)) end as member_ids_share,
       -- another member recorded as head (head and spouse swapped): the heads differ, the household does not
       coalesce(ra.head_id_valid_value <> rb.head_id_valid_value
                and (list_contains(rb.ids, ra.head_id_valid_value) or list_contains(ra.ids, rb.head_id_valid_value)),
                false) as head_swapped
from pairs p
join hh_record ra on ra.i = p.a join hh_record rb on rb.i = p.b
left join shared s on s.a = p.a and s.b = p.b
"""




def _pairs_with_sides(pairs: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Each pair beside its two records' columns (suffixes _l and _r). `ia` and `ib` are the records' rows in
    `records`: taken by position, not joined on the node's text (issue 18)."""
    sides = records.drop("node")
    left = sides[pairs["ia"]].rename({c: f"{c}_l" for c in sides.columns})
    right = sides[pairs["ib"]].rename({c: f"{c}_r" for c in sides.columns})
    return pl.concat([pairs, left, right], how="horizontal")


def _score_and_assign(pairs: pl.DataFrame, spec: dict, columns: dict[str, tuple[str, str]], records: pl.DataFrame,
                      assign_duplicates: bool = False) -> pl.DataFrame:
    """Score every pair; links one-to-one per source pair; same-source pairs are duplicates.

    Household duplicates are every same-source pair above the link score (three copies are one
    household); persons of a duplicated household are matched one-to-one to the first copy's.
    """
    linker = linker_from_params(spec, columns)
    scored = score_pairs(pairs, linker, prune=True, records=records)
    same = scored["source_a"] == scored["source_b"]
    # one assignment for every source pair at once: a record is a different node in each source pair (its position
    # times the number of source pairs, plus the pair's number), so no group of rivals spans two source pairs, as
    # when each source pair was assigned on its own — without splitting the pairs' whole frame (issue 18)
    sides = scored.select(pl.concat_str("source_a", "source_b", separator=SEP).rank("dense").cast(pl.Int64)
                          .alias("group"), "ia", "ib", "score")
    groups = sides["group"].n_unique() + 1  # ranks 1 … n
    sides = sides.select((pl.col("ia") * groups + pl.col("group")).alias("l"),
                         (pl.col("ib") * groups + pl.col("group")).alias("r"), "score")
    assigned = pl.repeat(True, scored.height, eager=True) if assign_duplicates else ~same
    decided = assign(sides.filter(assigned), linker)
    decision = pl.repeat("rejected", scored.height, dtype=pl.String, eager=True).alias("decision").scatter(
        assigned.arg_true(), decided["decision"])
    runner_up = pl.repeat(None, scored.height, dtype=pl.Float32, eager=True).alias("runner_up").scatter(
        assigned.arg_true(), decided["runner_up"])
    decision = pl.select(
        pl.when(same & (decision == "link")).then(pl.lit("duplicate"))
        .when(same & ~assigned & (scored["score"] >= linker.link)).then(pl.lit("duplicate"))
        .otherwise(decision).alias("decision")).to_series()
    return scored.with_columns(decision, runner_up)


def _method(frame: pl.DataFrame, keys: list[tuple[str, str]]) -> pl.Expr:
    """The most trusted comparison that agreed exactly names how a pair was linked."""
    expr = pl.lit("fuzzy")
    for column, level in reversed(keys):
        if f"{column}_level" in frame.columns:
            expr = pl.when(pl.col(f"{column}_level") == level).then(pl.lit(column)).otherwise(expr)
    return expr


def _write_surname_readings(con: duckdb.DuckDBPyConnection) -> None:
    """Blocking key inside a village: the tone-less reading of the head's surname (李/里 and 张/章 stay together),
    worked out once per distinct head name into `_surname_reading` for the records' SQL to join."""
    names = _frame(con, "select distinct head_name as name from src_household where head_name is not null")["name"]
    surnames = pl.DataFrame({"name": names, "reading": readings(names)}, schema={"name": pl.String, "reading": pl.String})
    _write(con, "_surname_reading", surnames.with_columns(
        pl.when(pl.col("name") != "").then(pl.col("reading").str.split(" ").list.first()).alias("reading")))


def link_households(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    _write_surname_readings(con)
    con.execute(HH_RECORDS_SQL)
    con.execute("drop table _surname_reading")
    con.execute(HH_CANDIDATES_SQL)
    records = _frame(con, "select node, source, rec_key, head_name, head_id, hh_code, hh_size, members from hh_record "
                          "order by i")
    pairs = _frame(con, "select * from hh_candidate_keys")
    con.execute("drop table hh_candidate_keys")  # read once: not held through check and the reports (issue 18)
    swapped = pl.col("head_swapped")
    # the heads' sides now (blanked where head and spouse are swapped); the other compared columns are taken from the
    # records by the scoring, for the pairs it still compares
    pairs = _pairs_with_sides(pairs, records.select("node", "head_id", "head_name")).with_columns(
        pl.col("member_ids_share").alias("member_ids_share_l"), pl.col("member_ids_share").alias("member_ids_share_r"),
        *[pl.when(swapped).then(None).otherwise(pl.col(c)).alias(c)
          for c in ("head_id_l", "head_id_r", "head_name_l", "head_name_r")],
    )
    columns = {"head_id": ("head_id", "head_id"), "hh_code": ("hh_code", "hh_code"),
               "member_ids": ("member_ids_share", "member_ids_share"), "head_name": ("head_name", "head_name"),
               "members": ("members", "members"), "hh_size": ("hh_size", "hh_size")}
    decided = _score_and_assign(pairs, config.params["linkage"]["household"], columns, records)
    methods = [("head_id", "exact"), ("hh_code", "exact"), ("member_ids", "all"), ("member_ids", "majority")]
    decided = decided.with_columns(_method(decided, methods).alias("method"))
    keep = ["a", "b", "source_a", "source_b", "score", "decision", "runner_up", "method", "head_swapped"] + \
        [c for c in decided.columns if c.endswith("_level") or c.endswith("_sim")]
    _write(con, "hh_candidate", decided.select(keep) if decided.height else pl.DataFrame(
        schema={"a": pl.String, "b": pl.String, "source_a": pl.String, "source_b": pl.String, "score": pl.Float32,
                "decision": pl.String, "runner_up": pl.Float32, "method": pl.String}))

    _write(con, "_hh_nodes", _clusters(records.height, decided, _cluster_prefix(config, "H")))
    con.execute("""
        create or replace table hh_link as
        select n.cid as cluster_id, r.source, s.role, r.rec_key, r.hh_code, ltrim(r.head_id, '?') as head_id,
               coalesce(n.method, 'single') as method, coalesce(n.score, 0.0) as score,
               row_number() over (partition by n.cid, r.source
                                  order by coalesce(n.linked, false) desc, r.row, r.rec_key) = 1 as is_primary,
               count(*) over (partition by n.cid, r.source) as records_in_cluster
        from _hh_nodes n join hh_record r on r.i = n.i
        join (select distinct source, role from src_household) s on s.source = r.source
    """)
    con.execute("drop table _hh_nodes")


PERSON_RECORDS_SQL = f"""
create or replace table person_record as
select p.source, p.rec_key, p.source || '{SEP}' || p.rec_key as node,
       (row_number() over (order by p.source, p.rec_key) - 1)::bigint as i,  -- as hh_record's
       l.cluster_id, p.row, l.is_primary as hh_primary,
       p.name, case when p.id_number_valid then p.id_number else '?' || p.id_number end as id_number,
       coalesce(p.birth_date, p.id_number_birth) as birth, p.relation
from src_person p join hh_link l on l.source = p.source and l.rec_key = p.hh_key
"""

# which two person records `a`, `b` are a candidate pair: members of one household in two sources, or in two copies
# of a household one source entered twice (matched to the first copy's)
PERSON_PAIR_ACROSS = "a.cluster_id = b.cluster_id and a.source < b.source and a.hh_primary and b.hh_primary"
PERSON_PAIR_COPIES = "a.cluster_id = b.cluster_id and a.source = b.source and a.hh_primary and not b.hh_primary"
PERSON_CANDIDATES_SQL = f"""
create or replace table person_candidate_keys as
select a.node as a, b.node as b, a.i as ia, b.i as ib, a.source as source_a, b.source as source_b
from person_record a join person_record b on {PERSON_PAIR_ACROSS}
union all
select a.node, b.node, a.i, b.i, a.source, b.source
from person_record a join person_record b on {PERSON_PAIR_COPIES}
"""
# the comparisons that name how two person records were linked, most trusted first (see _method)
PERSON_METHODS = [("id_number", "exact"), ("name", "exact")]


def link_persons(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    con.execute(PERSON_RECORDS_SQL)
    con.execute(PERSON_CANDIDATES_SQL)
    records = _frame(con, "select node, source, rec_key, cluster_id, name, id_number, birth, relation "
                          "from person_record order by i")
    pairs = _frame(con, "select * from person_candidate_keys")  # sides taken from `records` as compared
    con.execute("drop table person_candidate_keys")  # read once (see hh_candidate_keys)
    columns = {"id_number": ("id_number", "id_number"), "name": ("name", "name"), "birth": ("birth", "birth"),
               "relation": ("relation", "relation")}
    decided = _score_and_assign(pairs, config.params["linkage"]["person"], columns, records, assign_duplicates=True) \
        if pairs.height else pairs
    if decided.height:
        decided = decided.with_columns(_method(decided, PERSON_METHODS).alias("method"))
        keep = ["a", "b", "source_a", "source_b", "score", "decision", "runner_up", "method"] + \
            [c for c in decided.columns if c.endswith("_level") or c.endswith("_sim")]
        # the pairs compared to the end: one the linker stopped comparing (a null level: not compared) can only be
        # rejected, and `explain-link` tells it from its records (three quarters of a county's pairs: two people of
        # one household with different IDs; issue 18: what a run writes and saves)
        compared = pl.all_horizontal(pl.col(c).is_not_null() for c in keep if c.endswith("_level"))
        _write(con, "person_candidate", decided.filter(compared).select(keep))
    else:
        _write(con, "person_candidate", pl.DataFrame(schema={
            "a": pl.String, "b": pl.String, "source_a": pl.String, "source_b": pl.String, "score": pl.Float32,
            "decision": pl.String, "runner_up": pl.Float32, "method": pl.String}))
    _write(con, "_p_nodes", _clusters(records.height, decided, _cluster_prefix(config, "P")))
    con.execute("""
        create or replace table person_link as
        select n.cid as person_cluster_id, r.cluster_id, r.source, r.rec_key, ltrim(r.id_number, '?') as id_number,
               r.name,
               coalesce(n.method, 'single') as method, coalesce(n.score, 0.0) as score,
               row_number() over (partition by n.cid, r.source order by r.hh_primary desc, r.row, r.rec_key) = 1
                   as is_primary
        from _p_nodes n join person_record r on r.i = n.i
    """)
    con.execute("drop table _p_nodes")


def link_registers(con: duckdb.DuckDBPyConnection) -> None:
    """Register rows whose valid ID belongs to a person (or head) of a linked household (`register_link`: a table
    while the rules read it, saved as a view of its query like the long tables; see `wide.REGISTER_LINK_SQL`)."""
    build_register_links(con)


def _cluster_prefix(config: Config, letter: str) -> str:
    """Cluster ids are unique across the partitions of a province run (`430001-H000001`)."""
    return f"{config.partition}-{letter}" if config.partition else letter


# Every valid ID number with the household it is recorded in: the one table a province-scope rule needs to
# find a person in several households, whether they are in one county or in several (DESIGN §10).
PERSON_ID_OCCURRENCE_SQL = """
create or replace table person_id_occurrence as
with ids as (
    select p.id_number, p.name, p.source, l.cluster_id, coalesce(p.relation = '户主', false) as is_head
    from src_person p join person_link l on l.source = p.source and l.rec_key = p.rec_key
    where p.id_number_valid
    union all
    select h.head_id, h.head_name, h.source, k.cluster_id, true
    from src_household h join hh_link k on k.source = h.source and k.rec_key = h.rec_key
    where h.head_id_valid and h.level = 'household'
)
select i.*, w.hh_code, w.head_name, w.township, w.village, $partition as partition, $county as county
from ids i join hh_wide w using (cluster_id)
"""


def _clusters(records: int, decided: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Each record's cluster (`cid`) by its position `i`, with the method and score of its best link or duplicate
    pair (ties: the method that sorts first) and whether any of them is a link (a duplicate is not): what
    `hh_link` / `person_link` show, worked out on positions instead of joining the pairs' node text (issue 18)."""
    edges = decided.filter(pl.col("decision").is_in(["link", "duplicate"])) if decided.height else \
        pl.DataFrame(schema={"ia": pl.Int64, "ib": pl.Int64, "method": pl.String, "score": pl.Float32,
                             "decision": pl.String})
    numbers = cluster_numbers(records, edges["ia"].to_numpy(), edges["ib"].to_numpy())
    ends = pl.concat([edges.select(pl.col(side).alias("i"), "method", "score",
                                   (pl.col("decision") == "link").alias("linked")) for side in ("ia", "ib")])
    best = ends.sort(["i", "score", "method"], descending=[False, True, False]).group_by("i", maintain_order=True).agg(
        pl.col("method").first(), pl.col("score").first(), pl.col("linked").any())
    clusters = pl.DataFrame({"i": np.arange(records, dtype=np.int64), "n": numbers}).with_columns(
        (pl.lit(prefix) + pl.col("n").cast(pl.String).str.zfill(6)).alias("cid")).drop("n")
    return clusters.join(best, on="i", how="left")


def link(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    link_households(con, config)
    # the household views are DuckDB's work on its own threads, linking persons mostly Python's: side by side
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-views") as pool, \
            closing(con.cursor()) as beside:
        households = pool.submit(build_household_views, beside, config)
        try:
            link_persons(con, config)
            link_registers(con)  # the normalise stage always writes `register`, empty when no register is configured
        except BaseException:
            wait([households])  # before its cursor closes; the persons' error is the one to tell
            raise
        households.result()
    build_person_views(con, config)
    con.execute(PERSON_ID_OCCURRENCE_SQL, {"partition": config.partition, "county": config.region})
