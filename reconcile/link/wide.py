"""Views over linked records for the rules.

- wide: one row per household (person) cluster, `<field>_<source>` columns (`hh_wide`, `person_wide`);
- long: one row per cluster × source this run uses (`hh_source`, `person_source`, tables: every rule reads
  them, so they are built once), with the source's role,
  label, trust order (`ord`), whether it holds registered households, whether the cluster has a record there
  (`present`) and every field of that record under its own name (persons also with the name and ID number the
  person is shown by, `person_name` / `person_id`) — so a rule compares sources with
  `group by cluster_id` instead of a loop over sources. `source_info` lists the sources (plan-excluded files
  left out), one fact read by both; `hh_registered` is each registered household's status as the most trusted
  registered source records it.
"""

from __future__ import annotations

import duckdb
import polars as pl

from ..config import Config
from ..db import write_frame
from ..plan_tables import left_out_files
from ..schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, REGISTERED_ROLES, SURVEY_FIELDS, source_labels

HOUSEHOLD_DISPLAY = ("township", "village", "hh_code", "head_name")
PERSON_EXTRA = ("id_number_valid", "id_number_birth", "id_number_sex", "id_number_raw", "id_number_problem")
HOUSEHOLD_EXTRA = ("head_id_valid", "head_id_raw", "head_id_problem", "member_rows", "head_rows", "file", "sheet", "row")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"describe {table}").fetchall()]


def _pivot_sql(base: str, key: str, table: str, link: str, link_key: str, sources: list[str],
               fields: list[str]) -> str:
    selects = [f"k.{key}"]
    joins = []
    for s in sources:
        alias = f"s_{s}"
        selects.append(f"{alias}.rec_key is not null as present_{s}")
        selects.append(f"{alias}.rec_key as rec_key_{s}")
        selects += [f'{alias}."{f}" as "{f}_{s}"' for f in fields]
        joins.append(
            f"left join (select l.{key}, t.* from {link} l join {table} t "
            f"on t.source = l.source and t.rec_key = l.rec_key "
            f"where l.source = '{s}' and l.is_primary) {alias} on {alias}.{key} = k.{key}"
        )
    return f"select {', '.join(selects)} from ({base}) k {' '.join(joins)}"


def build_household_views(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """`hh_wide`, `source_info`, `hh_source` and `hh_registered`: all they read is final once households are
    linked, so `link` builds them on a cursor of their own while persons are linked."""
    sources = config.sources_by_trust()
    hh_cols = set(_columns(con, "src_household"))
    hh_fields = [f for f in [*HOUSEHOLD_FIELDS, *SURVEY_FIELDS, *HOUSEHOLD_EXTRA] if f in hh_cols]
    pivot = _pivot_sql("select distinct cluster_id from hh_link", "cluster_id", "src_household", "hh_link",
                       "cluster_id", sources, hh_fields)
    display = []
    for f in HOUSEHOLD_DISPLAY:
        candidates = ", ".join(f'"{f}_{s}"' for s in sources)
        display.append(f"coalesce({candidates}) as {f}")
    valid_ids = ", ".join(f'case when "head_id_valid_{s}" then "head_id_{s}" end' for s in sources)
    any_ids = ", ".join(f'"head_id_{s}"' for s in sources)
    display.append(f"coalesce({valid_ids}, {any_ids}) as head_id")
    con.execute(f"create or replace table hh_wide as select p.*, {', '.join(display)} from ({pivot}) p")
    _write_source_info(con, config)
    _build_long_tables(con, HOUSEHOLD_LONG_TABLES)


def build_person_views(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """`person_wide` and `person_source`, once persons are linked (after `build_household_views`)."""
    sources = config.sources_by_trust()
    person_sources = [s for s in sources if config.sources[s].level == "person"]
    p_cols = set(_columns(con, "src_person"))
    p_fields = [f for f in [*PERSON_FIELDS, *PERSON_EXTRA, "file", "sheet", "row"] if f in p_cols]
    if not person_sources:
        con.execute("create or replace table person_wide as select person_cluster_id, cluster_id, "
                    "name as person_name, id_number as person_id from person_link where false")
    else:
        pivot = _pivot_sql("select distinct person_cluster_id, cluster_id from person_link", "person_cluster_id",
                           "src_person", "person_link", "person_cluster_id", person_sources, p_fields)
        names = ", ".join(f'"name_{s}"' for s in person_sources)
        valid = ", ".join(f'case when "id_number_valid_{s}" then "id_number_{s}" end' for s in person_sources)
        any_ids = ", ".join(f'"id_number_{s}"' for s in person_sources)
        con.execute(f"""
            create or replace table person_wide as
            select p.*, k.cluster_id, coalesce({names}) as person_name, coalesce({valid}, {any_ids}) as person_id
            from ({pivot}) p join (select distinct person_cluster_id, cluster_id from person_link) k
              using (person_cluster_id)
        """)
    _build_long_tables(con, PERSON_LONG_TABLES)


HOUSEHOLD_LONG_TABLES = ("hh_source", "hh_registered")
PERSON_LONG_TABLES = ("person_source",)
REGISTER_TABLES = ("register_link",)

# Register rows whose valid ID belongs to a person (or head) of a linked household. A head is known twice, as a
# member and as the head: one link per household, the member's; two members with one ID link to the first person
# cluster, so that the saved view reads what the rules read. Nothing after a county's own rules reads it (the
# `sample` command reads the saved database), so it is saved as a view like the long tables (issue 18: a tenth of
# what a county saved).
REGISTER_LINK_SQL = """
with known as (
    select l.cluster_id, l.person_cluster_id, p.id_number from src_person p
    join person_link l on l.source = p.source and l.rec_key = p.rec_key where p.id_number_valid
    union
    select k.cluster_id, null, h.head_id from src_household h
    join hh_link k on k.source = h.source and k.rec_key = h.rec_key where h.head_id_valid
)
select r.register, r.kind, r.file, r.row, r.id_number, r.name, r.hukou_no, k.cluster_id, k.person_cluster_id
from register r left join (
    select distinct * from known
    qualify row_number() over (partition by id_number, cluster_id
                               order by person_cluster_id is null, person_cluster_id) = 1
) k on k.id_number = r.id_number
where r.id_number_valid"""


def build_register_links(con: duckdb.DuckDBPyConnection) -> None:
    """`register_link`, once persons are linked (the normalise stage always writes `register`)."""
    _build_long_tables(con, REGISTER_TABLES)


def _write_source_info(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """`source_info`: the sources this run uses (plan-excluded files left out), in trust order."""
    left_out = left_out_files(con)
    used = [s for s in config.sources_by_trust() if s not in left_out]
    labels = source_labels({s: config.sources[s].role for s in used})
    write_frame(con, "source_info", pl.DataFrame(
        [{"source": s, "role": config.sources[s].role, "label": labels[s], "ord": i,
          "level": config.sources[s].level, "registered": config.sources[s].role in REGISTERED_ROLES}
         for i, s in enumerate(used)],
        schema={"source": pl.String, "role": pl.String, "label": pl.String, "ord": pl.Int64, "level": pl.String,
                "registered": pl.Boolean}))


def _build_long_tables(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    queries = _long_view_sql(con)
    for name in names:  # names of this module's long tables, in the order they read each other
        con.execute(f"create or replace table {name} as {queries[name]}")


def long_tables_as_views(con: duckdb.DuckDBPyConnection) -> None:
    """The long tables and `register_link` replaced by views of the same query before the run database is saved:
    the rules' working copies cost seconds to write out, and the saved database has every table they are made of."""
    for name, query in _long_view_sql(con).items():
        con.execute(f"drop table if exists {name}")
        con.execute(f"create or replace view {name} as {query}")


def _record_columns(con: duckdb.DuckDBPyConnection, table: str, fields: list[str]) -> str:
    """The record's columns the views carry (the same as the wide views'), quoted: the table's own names."""
    present = set(_columns(con, table))
    return ", ".join(f't."{c}"' for c in ["rec_key", *fields] if c in present)


def _long_view_sql(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    hh = _record_columns(con, "src_household", [*HOUSEHOLD_FIELDS, *SURVEY_FIELDS, *HOUSEHOLD_EXTRA])
    person = _record_columns(con, "src_person", [*PERSON_FIELDS, *PERSON_EXTRA, "file", "sheet", "row"])
    return {
        "hh_source": f"""
        select k.cluster_id, i.source, i.role, i.label, i.ord, i.level, i.registered, r.rec_key is not null as present,
               r.* exclude (cluster_id, source)
        from (select distinct cluster_id from hh_link) k cross join source_info i
        left join (select l.cluster_id, t.source, {hh} from hh_link l join src_household t
                   on t.source = l.source and t.rec_key = l.rec_key where l.is_primary) r
          on r.cluster_id = k.cluster_id and r.source = i.source""",
        # the registered households with what the most trusted registered source that records it says: read by
        # several rules (register_hit, AS-NO-MEASURE), so worked out once
        "hh_registered": """
        select cluster_id,
               arg_min(status, ord) filter (where status is not null) as status,
               arg_min(exit_year, ord) filter (where exit_year is not null) as exit_year,
               arg_min(risk_status, ord) filter (where risk_status is not null) as risk_status,
               arg_min(monitor_type, ord) filter (where monitor_type is not null) as monitor_type
        from hh_source where registered
        group by cluster_id having bool_or(present)""",
        # `known_birth`: the birth date a rule reckons age from — a valid ID's, else the recorded one (an ID failing
        # its check digit may carry any date: 2064 made a −44-year-old student)
        "person_source": f"""
        select k.person_cluster_id, k.cluster_id, k.person_name, k.person_id, i.source, i.role, i.label, i.ord,
               i.registered, r.rec_key is not null as present, r.* exclude (person_cluster_id, source),
               coalesce(case when r.id_number_valid then r.id_number_birth end, r.birth_date) as known_birth
        from (select person_cluster_id, cluster_id, person_name, person_id from person_wide) k
        cross join (select * from source_info where level = 'person') i
        left join (select l.person_cluster_id, t.source, {person} from person_link l join src_person t
                   on t.source = l.source and t.rec_key = l.rec_key where l.is_primary) r
          on r.person_cluster_id = k.person_cluster_id and r.source = i.source""",
        "register_link": REGISTER_LINK_SQL,
    }
