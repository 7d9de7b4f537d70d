"""`reconcile explain-link CONFIG A B`: why two records were, or were not, linked."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table

from ..config import Config
from ..errors import ReconcileError
from . import PERSON_METHODS, PERSON_PAIR_ACROSS, PERSON_PAIR_COPIES, SEP, _method, _pairs_with_sides
from .scoring import LEVEL_LABELS, LEVEL_NAMES, linker_from_params, score_pairs

DECISIONS = {"link": "已匹配(同一户/同一人)", "possible": "疑似匹配,需人工确认", "duplicate": "同一来源重复记录",
             "rejected": "未匹配(得分不足或有更好的候选)"}

HH_PAIR_SQL = """
select ra.node as a, rb.node as b, ra.source as source_a, rb.source as source_b,
       case when len(ra.ids) = 0 or len(rb.ids) = 0 then null
            else len(list_intersect(ra.ids, rb.ids)) / least(len(ra.ids), len(rb.ids)) end as member_ids_share,
       coalesce(ra.head_id_valid_value <> rb.head_id_valid_value
                and (list_contains(rb.ids, ra.head_id_valid_value) or list_contains(ra.ids, rb.head_id_valid_value)),
                false) as head_swapped
from hh_record ra, hh_record rb where ra.node = $a and rb.node = $b
"""


def _node(text: str) -> str:
    if ":" not in text:
        raise ReconcileError(f"记录应写成 来源:记录键,例如 system:4306241012010000001,实际为 {text}")
    source, key = text.split(":", 1)
    return f"{source}{SEP}{key}"


def _open(config: Config) -> duckdb.DuckDBPyConnection:
    database = config.output / "reconcile.duckdb"
    if database.exists():
        from ..db import attach_partitions, connect

        con = connect()
        con.execute("attach ? as run (read_only)", [str(database)])
        attach_partitions(con, database.parent, "run")  # a province run's tables are views over its counties'
        con.execute("use run")
        return con
    raise ReconcileError(f"找不到运行结果 {database}:请先运行 reconcile run {config.path}")


def _person_candidates(con: duckdb.DuckDBPyConnection, a: str, b: str) -> bool:
    """Whether two person records were a candidate pair (the link stage's own conditions): one `person_candidate`
    does not keep was one the linker stopped comparing once it could no longer reach a possible match."""
    return bool(con.execute(f"""
        select count(*) from person_record a, person_record b
        where (a.node = $a and b.node = $b or a.node = $b and b.node = $a)
          and ({PERSON_PAIR_ACROSS} or {PERSON_PAIR_COPIES})""", {"a": a, "b": b}).fetchall()[0][0])


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "、".join(str(v.get("name") if isinstance(v, dict) else v) for v in value)
    text = str(value).lstrip("?")
    return text[:6] + "********" + text[-4:] if len(text) == 18 and text[:6].isdigit() else text


def _the_two(con: duckdb.DuckDBPyConnection, records_sql: str, a: str, b: str) -> pl.DataFrame:
    """The two records of a pair, `a` (the smaller node) first: rows 0 and 1 for _pairs_with_sides."""
    return cast(pl.DataFrame, pl.from_arrow(con.sql(f"select * from ({records_sql}) where node in ($a, $b) order by node",
                                                    params={"a": a, "b": b}).to_arrow_table()))


def explain_link(config: Config, first: str, second: str, console: Console, show_ids: bool = False) -> None:
    con = _open(config)
    a, b = sorted([_node(first), _node(second)])
    kind = "household"
    found = con.execute("select count(*) from hh_record where node in ($a, $b)", {"a": a, "b": b}).fetchall()[0][0]
    if found < 2:
        found = con.execute("select count(*) from person_record where node in ($a, $b)", {"a": a, "b": b}).fetchall()[0][0]
        kind = "person"
    if found < 2:
        raise ReconcileError(f"找不到记录 {first} 或 {second}:记录键见 links.parquet / person_links.parquet 的 rec_key 列")
    spec = config.params["linkage"][kind]
    if kind == "household":
        # from_arrow of a Table is a DataFrame; the stubs say DataFrame | Series
        pair = cast(pl.DataFrame, pl.from_arrow(con.sql(HH_PAIR_SQL, params={"a": a, "b": b}).to_arrow_table()))
        records = _the_two(con, "select node, source, rec_key, head_name, head_id, hh_code, hh_size, members "
                                "from hh_record", a, b)
        columns = {"member_ids": ("member_ids_share", "member_ids_share")}
        pair = _pairs_with_sides(pair.with_columns(ia=0, ib=1), records).with_columns(
            pl.col("member_ids_share").alias("member_ids_share_l"), pl.col("member_ids_share").alias("member_ids_share_r"))
        if pair["head_swapped"][0]:
            pair = pair.with_columns(*[pl.lit(None).alias(c) for c in ("head_id_l", "head_id_r", "head_name_l",
                                                                        "head_name_r")])
        decided = con.execute("select decision, score, runner_up, method from hh_candidate where a = $a and b = $b",
                              {"a": a, "b": b}).fetchall()
        clusters = con.execute("select source || ':' || rec_key, cluster_id from hh_link where source || chr(31) || "
                               "rec_key in ($a, $b)", {"a": a, "b": b}).fetchall()
    else:
        pair = pl.DataFrame({"a": [a], "b": [b], "source_a": [a.split(SEP)[0]], "source_b": [b.split(SEP)[0]]})
        records = _the_two(con, "select node, source, rec_key, cluster_id, name, id_number, birth, relation "
                                "from person_record", a, b)
        columns = {}
        pair = _pairs_with_sides(pair.with_columns(ia=0, ib=1), records)
        decided = con.execute("select decision, score, runner_up, method from person_candidate where a = $a and b = $b",
                              {"a": a, "b": b}).fetchall()
        clusters = con.execute("select source || ':' || rec_key, person_cluster_id from person_link where source || "
                               "chr(31) || rec_key in ($a, $b)", {"a": a, "b": b}).fetchall()
    linker = linker_from_params(spec, columns)
    scored_pair = score_pairs(pair, linker)
    scored = scored_pair.row(0, named=True)
    if not decided and kind == "person" and _person_candidates(con, a, b):
        # stopped, so rejected with no rival; what it rests on, from its whole score
        decided = [("rejected", None, None, scored_pair.select(_method(scored_pair, PERSON_METHODS)).item())]
    title = "户" if kind == "household" else "人"
    table = Table(title=f"{first} 与 {second} 的逐项比较({title})")
    # the pair's columns are its records in node order (a, b): each headed by the record it shows
    shown = (first, second) if _node(first) == a else (second, first)
    for col in ("比较项", *shown, "等级", "相似度", "权重"):
        table.add_column(col)
    for comp in linker.comparisons:
        level = scored[f"{comp.name}_level"]
        weight = comp.weight_array()[LEVEL_NAMES[comp.kind].index(level)]
        sim = scored.get(f"{comp.name}_sim")
        left = scored.get(f"{comp.left}_l")
        right = scored.get(f"{comp.right}_r")
        if show_ids:
            left, right = (str(left), str(right))
        table.add_row(comp.label, _show(left) if not show_ids else str(left), _show(right) if not show_ids else str(right),
                      LEVEL_LABELS[level], "-" if sim is None or sim < 0 else f"{sim:.2f}", f"{weight:+g}")
    console.print(table)
    if kind == "household" and scored.get("head_swapped"):
        console.print("两条记录的户主互为对方的家庭成员(户主与配偶互换),户主比较不计分。")
    console.print(f"合计得分 {scored['score']:.1f};自动匹配标准 ≥ {linker.link:g},人工确认区间 "
                  f"[{linker.possible:g}, {linker.link:g}),与次优候选至少相差 {linker.margin:g}")
    decided_row = decided[0] if decided else None
    if decided_row is None and kind == "person":
        console.print("结论: 这两条记录没有进入候选:人员只在已匹配的同一户内比较,且来自不同来源"
                      "(或同一来源重复录入的两份户记录)。")
    elif decided_row is None:
        console.print("结论: 这两条记录没有进入候选:既没有相同的有效证件号码、户编号或成员证件号码,"
                      "也不是同村中都尚未匹配的记录。")
    else:
        # the score is the pair's whole one: the link stage stops comparing a pair that can no longer reach a
        # possible match (and keeps no person pair it stopped at; household pairs with the part they added up)
        decision, _, runner_up, method = decided_row
        rival = f";对方或本方的次优候选得分 {runner_up:.1f}" if runner_up is not None and runner_up == runner_up else ""
        # the method is the comparison that agreed exactly (its Chinese label), or none of them: the score as a whole
        methods = {c.name: c.label for c in linker.comparisons} | {"fuzzy": "综合得分"}
        console.print(f"结论: {DECISIONS.get(decision, decision)}(依据 {methods.get(method, method)},"
                      f"得分 {scored['score']:.1f}{rival})")
    same = len({c for _, c in clusters}) == 1 and len(clusters) == 2
    console.print("两条记录" + ("在同一个匹配组 " + clusters[0][1] if same else "不在同一个匹配组") + "。")


def explain_link_command(config_path: Path, first: str, second: str, console: Console, show_ids: bool,
                         output: Path | None = None) -> None:
    from ..config import load_config

    config = load_config(config_path)
    explain_link(config.with_output(output) if output else config, first, second, console, show_ids)
