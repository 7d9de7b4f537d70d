"""`reconcile sample`: draw the inspection sample (入户核查抽样) and write pre-filled survey forms.

Per village, N households with quotas by category (DESIGN §8; `sampling:` in the config):
往年脱贫户 (exited two or more years before the assessment year), 上年脱贫户, 当年计划脱贫户 (exit year =
assessment year), 未脱贫户, 监测对象 (monitored households, exited or not: a category of their own), 非建档立卡户 (households of the police household
register, or survey-only households, that link to no registered household). The draw is reproducible: each
(village, category) stratum has its own random stream derived from the seed, so adding a village does not
change the draw elsewhere. With `--weight findings` a household's chance grows with its findings
(weighted sampling without replacement, Efraimidis–Spirakis keys). A quota a village cannot fill is
reported (配额执行情况), never silently shrunk or filled from another category.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from .config import SAMPLING_CATEGORIES, Config
from .db import attach_partitions, connect, table_names
from .db import query_frame as _frame
from .errors import InputError
from .schema import REGISTERED_ROLES

SAMPLE_DIR = "抽样"

# One link per 公安户籍 row: a person registered in two households has a link row for each, and counting through
# both would print one person twice on a form (the forms count a 户号's rows).
HUKOU_ROW_LINK = """
select file, row, cluster_id, person_cluster_id from register_link where kind = 'hukou'
qualify row_number() over (partition by file, row order by person_cluster_id is null, cluster_id) = 1"""
SEVERITY_WEIGHT = {"high": 3, "medium": 2, "low": 1}


@dataclass
class SampleResult:
    output: Path
    sample: pl.DataFrame  # one row per drawn household
    quotas: pl.DataFrame  # township, village, category, quota, candidates, drawn, shortfall
    seed: int
    per_village: int
    weight: str
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def shortfalls(self) -> pl.DataFrame:
        return self.quotas.filter(pl.col("shortfall") > 0)


def allocate(quotas: dict[str, int], n: int) -> dict[str, int]:
    """Scale category quotas to n households per village (largest remainder; exact when n = sum)."""
    total = sum(quotas.values())
    if total == n or total == 0:
        return dict(quotas)
    raw = {k: v * n / total for k, v in quotas.items()}
    out = {k: int(v) for k, v in raw.items()}
    rest = n - sum(out.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), list(quotas).index(k)))[:rest]:
        out[k] += 1
    return out



def _coalesce(columns: set[str], field_name: str, sources: list[str]) -> str:
    present = [f"{field_name}_{s}" for s in sources if f"{field_name}_{s}" in columns]
    return f"coalesce({', '.join(present)})" if present else "null"


def candidates(con: duckdb.DuckDBPyConnection, config: Config) -> pl.DataFrame:
    """Every household that can be drawn: key, township, village, category, head, findings weight."""
    ordered = config.sources_by_trust()
    registered = [s for s in ordered if config.sources[s].role in REGISTERED_ROLES]
    cols = {r[0] for r in con.execute("describe hh_wide").fetchall()}
    status = _coalesce(cols, "status", registered)
    exit_year = _coalesce(cols, "exit_year", registered)
    monitor = _coalesce(cols, "monitor_type", registered)
    size = _coalesce(cols, "hh_size", registered)
    present = " or ".join(f"coalesce(present_{s}, false)" for s in registered) or "false"
    y = config.year
    hh = _frame(con, f"""
        select cluster_id as key, township, village, hh_code, head_name, head_id,
               {status} as status, {exit_year} as exit_year, {monitor} as monitor_type, {size} as hh_size,
               case when not ({present}) then 'non_registered'
                    when {monitor} is not null then 'monitored'
                    when {status} = '已脱贫' and {exit_year} = {y} then 'exit_this_year'
                    when {status} = '未脱贫' and {exit_year} = {y} then 'exit_this_year'
                    when {status} = '已脱贫' and {exit_year} = {y - 1} then 'exited_last_year'
                    when {status} = '已脱贫' then 'exited_earlier'
                    when {status} = '未脱贫' then 'not_exited'
                    else 'non_registered' end as category,
               'cluster' as key_kind
        from hh_wide where township is not null and village is not null""")
    tables = table_names(con)
    if "register" in tables and "register_link" in tables:
        hukou = _frame(con, f"""
            with members as (
              select r.hukou_no, r.township, r.village, r.name, r.id_number, a.value as relation, l.cluster_id
              from register r
              left join register_attr a on a.file = r.file and a.row = r.row and a.kind = 'hukou' and a.attr = 'relation'
              left join ({HUKOU_ROW_LINK}) l on l.file = r.file and l.row = r.row
              where r.kind = 'hukou' and r.hukou_no is not null
            )
            select 'hukou:' || hukou_no as key, any_value(township) as township, any_value(village) as village,
                   null::varchar as hh_code,
                   coalesce(max(name) filter (where relation in ('户主', '本人')), min(name)) as head_name,
                   coalesce(max(id_number) filter (where relation in ('户主', '本人')), min(id_number)) as head_id,
                   '非建档立卡户' as status, null::bigint as exit_year, null::varchar as monitor_type,
                   count(*)::bigint as hh_size, 'non_registered' as category, 'hukou' as key_kind
            from members group by hukou_no
            having count(cluster_id) = 0 and any_value(township) is not null and any_value(village) is not null
        """)
        hh = pl.concat([hh, hukou.cast(hh.schema)], how="vertical") if hukou.height else hh
    findings = _frame(con, "select cluster_id, head_id, person_id, severity, message from finding")
    by_cluster = findings.filter(pl.col("cluster_id").is_not_null()).group_by("cluster_id").agg(
        findings=pl.len(), score=pl.col("severity").replace_strict(SEVERITY_WEIGHT, default=1).sum())
    by_person = findings.filter(pl.col("cluster_id").is_null() & pl.col("person_id").is_not_null()).group_by(
        "person_id").agg(findings=pl.len(), score=pl.col("severity").replace_strict(SEVERITY_WEIGHT, default=1).sum())
    hh = hh.join(by_cluster.rename({"cluster_id": "key"}), on="key", how="left")
    hh = hh.join(by_person.rename({"person_id": "head_id", "findings": "f2", "score": "s2"}), on="head_id", how="left")
    return hh.with_columns(findings=pl.coalesce("findings", "f2").fill_null(0).cast(pl.Int64),
                           score=pl.coalesce("score", "s2").fill_null(0).cast(pl.Int64)).drop("f2", "s2")


def _stream(seed: int, *parts: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join([str(seed), *parts]).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def draw(cands: pl.DataFrame, quotas: dict[str, int], seed: int, weight: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Draw per (village, category); returns (sample, quota report)."""
    villages = cands.filter(pl.col("category") != "non_registered").select("township", "village").unique() \
        .sort("township", "village")
    picked: list[pl.DataFrame] = []
    report = []
    for township, village in villages.iter_rows():
        in_village = cands.filter((pl.col("township") == township) & (pl.col("village") == village))
        for category, quota in quotas.items():
            pool = in_village.filter(pl.col("category") == category).sort("key")
            take = min(quota, pool.height)
            if take:
                rng = _stream(seed, township, village, category)
                u = rng.random(pool.height)
                w = (1.0 + pool["score"].to_numpy().astype(float)) if weight == "findings" else np.ones(pool.height)
                keys = np.log(u) / w  # log of u^(1/w): the largest keys win
                order = np.argsort(-keys, kind="stable")[:take]
                picked.append(pool[order.tolist()].with_columns(draw_rank=pl.Series(range(1, take + 1))))
            report.append({"township": township, "village": village, "category": category, "quota": quota,
                           "candidates": pool.height, "drawn": take, "shortfall": quota - take})
    sample = pl.concat(picked) if picked else cands.head(0).with_columns(draw_rank=pl.lit(0))
    category_order = {k: i for i, k in enumerate(SAMPLING_CATEGORIES)}
    sample = sample.with_columns(
        _o=pl.col("category").replace_strict(category_order, default=9, return_dtype=pl.Int32)) \
        .sort("township", "village", "_o", "draw_rank").drop("_o")
    sample = sample.with_columns(sample_no=pl.int_range(1, sample.height + 1))
    quota_frame = pl.DataFrame(report, schema={"township": pl.String, "village": pl.String, "category": pl.String,
                                               "quota": pl.Int64, "candidates": pl.Int64, "drawn": pl.Int64,
                                               "shortfall": pl.Int64})
    return sample, quota_frame


def run_database(config: Config) -> Path:
    """The database of the run in the config's output folder, which the sample is drawn from."""
    return config.output / "reconcile.duckdb"


def open_run_database(config: Config) -> duckdb.DuckDBPyConnection:
    """The run's database, read-only; a Chinese error when there is no run yet or another program writes it."""
    db = run_database(config)
    if not db.exists():
        raise InputError(f"{db} 不存在:抽样读取核查结果,请先运行 reconcile run {config.path or ''}".rstrip())
    try:
        con = connect(db, read_only=True)
    except duckdb.Error as exc:
        raise InputError(f"无法打开 {db}(可能正被其他程序写入):{exc}") from exc
    try:
        attach_partitions(con, db.parent)  # a province run's tables are views over its counties' databases
    except BaseException:
        con.close()
        raise
    return con


def sample(config: Config, per_village: int | None = None, seed: int = 1, weight: str | None = None,
           output: Path | None = None) -> SampleResult:
    """Draw the sample from the run's database; nothing is written (sample_forms.write_sample writes the list
    and forms into `result.output`)."""
    spec = config.sampling
    n = per_village if per_village is not None else int(spec["per_village"])
    if n < 1:
        raise InputError(f"--per-village 应为正整数,实际为 {n}")
    weight = weight or spec.get("weight", "none")
    quotas = allocate(spec["quotas"], n)
    con = open_run_database(config)
    try:
        drawn, quota_frame = draw(candidates(con, config), quotas, seed, weight)
    finally:
        con.close()
    return SampleResult((output or config.output / SAMPLE_DIR).resolve(), drawn, quota_frame, seed, n, weight)


def print_sample(result: SampleResult, console: Console) -> None:
    s = result.sample
    console.print(f"抽取 {s.height} 户(每村 {result.per_village} 户,种子 {result.seed},"
                  f"{'按问题加权' if result.weight == 'findings' else '等概率'}),写到 {result.output}", highlight=False)
    if s.height:
        t = Table(title="各类别抽中户数")
        t.add_column("类别")
        t.add_column("抽中", justify="right")
        for cat, label in SAMPLING_CATEGORIES.items():
            t.add_row(label, str(s.filter(pl.col("category") == cat).height))
        console.print(t)
    short = result.shortfalls
    if short.height:
        t = Table(title=f"[yellow]{short.height} 个村的配额无法抽满(候选户不足,未用其他类别补足)[/]")
        for col in ("乡镇", "村", "类别", "配额", "候选户", "缺额"):
            t.add_column(col, justify="right" if col in ("配额", "候选户", "缺额") else "left")
        for r in short.iter_rows(named=True):
            t.add_row(r["township"], r["village"], SAMPLING_CATEGORIES[r["category"]], str(r["quota"]),
                      str(r["candidates"]), str(r["shortfall"]))
        console.print(t)
    for path in result.files.values():
        if path.suffix != ".xlsx" or path.parent == result.output:
            console.print(f"  {path}", highlight=False)
    forms = [p for p in result.files.values() if p.parent != result.output]
    if forms:
        console.print(f"  农户调查表 {len(forms)} 份: {result.output / '农户调查表'}", highlight=False)
