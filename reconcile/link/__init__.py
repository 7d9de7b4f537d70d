"""Link stage: the same household and the same person across sources (DESIGN §6).

Reads `src_household`, `src_person`; writes `hh_edge`, `hh_link`, `person_edge`, `person_link`,
and the wide views `hh_wide` / `person_wide` (paired columns `<field>_<source>`).

This first version links on exact keys only, in order of trust: a valid head ID, the 户编号,
then a majority of shared valid member IDs. Persons inside a linked household are linked on a
valid ID, then on an identical normalised name that is unique on both sides.
"""

from __future__ import annotations

import duckdb
import polars as pl

from ..config import Config
from ..schema import ROLES
from .unionfind import components
from .wide import build_wide_views

SEP = "\x1f"

HOUSEHOLD_EDGES_SQL = f"""
with hh as (
    select source, rec_key, source || '{SEP}' || rec_key as node, hh_code, head_id, head_id_valid
    from src_household
),
members as (
    select p.source, p.hh_key as rec_key, p.id_number as id
    from src_person p where p.id_number_valid and p.hh_key is not null
    union
    select source, rec_key, head_id from hh where head_id_valid
),
member_sizes as (select source, rec_key, count(distinct id) as k from members group by all),
shared as (
    select a.source as sa, a.rec_key as ra, b.source as sb, b.rec_key as rb, count(distinct a.id) as n
    from members a join members b on a.id = b.id and a.source < b.source
    group by all
)
select a.node as a, b.node as b, 'head_id' as method, 1.0 as score, 1 as tier
from hh a join hh b on a.head_id = b.head_id and a.source < b.source
where a.head_id_valid and b.head_id_valid
union all
select a.node, b.node, 'hh_code', 1.0, 2
from hh a join hh b on a.hh_code = b.hh_code and a.source < b.source
union all
select s.sa || '{SEP}' || s.ra, s.sb || '{SEP}' || s.rb, 'member_ids', s.n / least(x.k, y.k), 3
from shared s
join member_sizes x on x.source = s.sa and x.rec_key = s.ra
join member_sizes y on y.source = s.sb and y.rec_key = s.rb
where 2 * s.n > least(x.k, y.k)
"""

PERSON_NODES_SQL = f"""
select p.source, p.rec_key, p.source || '{SEP}' || p.rec_key as node, l.cluster_id,
       p.id_number, p.id_number_valid, p.name
from src_person p join hh_link l on l.source = p.source and l.rec_key = p.hh_key
"""

PERSON_EDGES_SQL = """
with id_edges as (
    select a.node as a, b.node as b, 'id_number' as method, 1.0 as score, 1 as tier,
           a.source as sa, b.source as sb
    from person_node a join person_node b
      on a.cluster_id = b.cluster_id and a.id_number = b.id_number and a.source < b.source
    where a.id_number_valid and b.id_number_valid
),
matched as (
    select a as node, sb as other from id_edges union select b, sa from id_edges
),
unique_names as (
    select * from person_node
    qualify count(*) over (partition by cluster_id, source, name) = 1
)
select a, b, method, score, tier from id_edges
union all
select a.node, b.node, 'name', 1.0, 2
from unique_names a join unique_names b
  on a.cluster_id = b.cluster_id and a.name = b.name and a.source < b.source
where not exists (select 1 from matched m where m.node = a.node and m.other = b.source)
  and not exists (select 1 from matched m where m.node = b.node and m.other = a.source)
"""


def _role_rank(config: Config) -> dict[str, int]:
    """Sources in the order their values are trusted for display: system, archive, manual, survey."""
    order = sorted(config.sources, key=lambda k: (ROLES.index(config.sources[k].role), k))
    return {key: i for i, key in enumerate(order)}


def _cluster(con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_table: str) -> pl.DataFrame:
    nodes = pl.from_arrow(con.sql(nodes_sql).to_arrow_table())
    edges = pl.from_arrow(con.sql(f"select a, b from {edges_table}").to_arrow_table())
    roots = components(nodes["node"], edges["a"], edges["b"])
    return nodes.with_columns(roots.alias("root"))  # type: ignore[union-attr]


def _numbered(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    roots = frame.select("root").unique().sort("root").with_row_index("n", offset=1)
    roots = roots.with_columns((pl.lit(prefix) + pl.col("n").cast(pl.String).str.zfill(6)).alias("cid"))
    return frame.join(roots.select("root", "cid"), on="root", how="left", maintain_order="left")


def link(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    con.execute(f"create or replace table hh_edge as {HOUSEHOLD_EDGES_SQL}")
    nodes = _cluster(con, f"select source, rec_key, source || '{SEP}' || rec_key as node from src_household",
                     "hh_edge")
    nodes = _numbered(nodes, "H")
    rank = _role_rank(config)
    con.register("_hh_nodes", nodes.to_arrow())
    con.execute(f"""
        create or replace table hh_link as
        with best as (
            select node, min_by(method, tier) as method, max(score) as score
            from (select a as node, method, score, tier from hh_edge union all
                  select b, method, score, tier from hh_edge)
            group by node
        )
        select n.cid as cluster_id, n.source, s.role, n.rec_key, s.hh_code, s.head_id,
               coalesce(b.method, 'single') as method, coalesce(b.score, 1.0) as score,
               row_number() over (partition by n.cid, n.source order by s.row, n.rec_key) = 1 as is_primary,
               count(*) over (partition by n.cid, n.source) as records_in_cluster
        from _hh_nodes n
        join src_household s on s.source = n.source and s.rec_key = n.rec_key
        left join best b on b.node = n.node
    """)
    con.unregister("_hh_nodes")

    con.execute(f"create or replace table person_node as {PERSON_NODES_SQL}")
    con.execute(f"create or replace table person_edge as {PERSON_EDGES_SQL}")
    persons = _numbered(_cluster(con, "select node, source, rec_key, cluster_id from person_node", "person_edge"), "P")
    con.register("_p_nodes", persons.to_arrow())
    con.execute("""
        create or replace table person_link as
        with best as (
            select node, min_by(method, tier) as method, max(score) as score
            from (select a as node, method, score, tier from person_edge union all
                  select b, method, score, tier from person_edge)
            group by node
        )
        select n.cid as person_cluster_id, n.cluster_id, n.source, n.rec_key, p.id_number, p.name,
               coalesce(b.method, 'single') as method, coalesce(b.score, 1.0) as score,
               row_number() over (partition by n.cid, n.source order by p.row, n.rec_key) = 1 as is_primary
        from _p_nodes n
        join src_person p on p.source = n.source and p.rec_key = n.rec_key
        left join best b on b.node = n.node
    """)
    con.unregister("_p_nodes")
    build_wide_views(con, config, rank)
