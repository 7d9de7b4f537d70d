"""`reconcile compare-exports OLD NEW`: what changed between two exports of the national system.

Both files are read with the same mapping (the `system` source of a config, or the built-in header
synonyms), normalised like a run, then compared with set-based joins in DuckDB (no per-row Python):

- households added / removed / changed, persons added / removed / moved between households / changed,
  each changed field with its before and after value;
- each change classified as a 动态调整 type (domain §4.3): 自然增减 (出生, 死亡, 婚入, 婚出, 分户), 新识别 /
  新纳入监测, 销户, and status / exit / risk changes (标注脱贫, 返贫, 纳入监测, 风险消除 …);
- checks against the registers: a person in the police death register whom the new export still lists
  (死亡未减员), a birth in the household register (户籍) the new export did not add (出生未增员).

Outputs (full values in Parquet; the workbook masks IDs unless `show_ids`): hh_changes.parquet,
person_changes.parquet, field_changes.parquet, register_checks.parquet, 导出比对.xlsx.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from .clock import now
from .config import Config, SourceSpec, load_config, parse_config
from .db import connect, has_table
from .db import query_frame as _frame
from .errors import InputError
from .outputs import output_lock, run_scratch

OUT_DIR = "导出比对"
HH_FIELDS = ["head_name", "head_id", "hh_size", "hh_type", "status", "exit_year", "identify_year", "monitor_type",
             "risk_status", "risk_eliminated_date", "main_cause", "income_year", "income_per_capita", "measures",
             "cadre_name", "housing_grade", "water_safe", "township", "village"]
PERSON_FIELDS = ["name", "relation", "sex", "birth_date", "student_status", "education", "health", "disability_level",
                 "labor", "migrant_work", "medical_insured", "employee_medical_insured", "pension_insured", "dibao"]
CHILD_RELATIONS = ("之子", "之女", "之孙子", "之孙女", "之外孙子", "之外孙女", "之曾孙子", "之曾孙女")
MARRY_IN = ("配偶", "之儿媳", "之女婿", "之孙媳妇", "之孙女婿")


@dataclass
class CompareResult:
    output: Path
    households: pl.DataFrame  # hh_key, change, type, township, village, hh_code, head_name, head_id …
    persons: pl.DataFrame  # pkey, change, type, … old/new hh_code
    fields: pl.DataFrame  # level, key, township, village, hh_code, name, field, before, after, type
    checks: pl.DataFrame  # check, township, village, hh_code, name, id_number, detail
    old: Path
    new: Path
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # filled by compare_exports_report.write_comparison
    region: str = ""  # the config's region, for the workbook's title

    def summary(self) -> dict:
        def by_type(frame: pl.DataFrame) -> dict[str, int]:
            return dict(frame.group_by("type").len().sort("type").rows()) if frame.height else {}
        return {"old": str(self.old), "new": str(self.new), "output": str(self.output), **self.counts,
                "household_changes": by_type(self.households), "person_changes": by_type(self.persons),
                "field_changes": by_type(self.fields), "register_checks":
                dict(self.checks.group_by("check").len().sort("check").rows()) if self.checks.height else {},
                "files": {k: str(v) for k, v in self.files.items()}}



def _date(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{what} 应为 YYYY-MM-DD 格式的日期,实际为 {text!r}") from exc


def comparison_config(old: Path, new: Path, config: Path | Config | None, source: str | None) -> Config:
    """A config with sources `old` and `new` read like the chosen system source, plus death/hukou registers."""
    for path in (old, new):
        if not Path(path).exists():
            raise InputError(f"找不到导出文件: {path}")
    if config is None:
        base = {"region": "导出比对", "year": now().year if 2013 <= now().year <= 2035 else 2024,
                "sources": {k: {"path": str(Path(p).resolve()), "role": "system", "level": "person"}
                            for k, p in (("old", old), ("new", new))}}
        return parse_config(base, Path.cwd())
    cfg = config if isinstance(config, Config) else load_config(config)
    systems = [k for k, s in cfg.sources.items() if s.role == "system"]
    key = source or (systems[0] if systems else None)
    if key is None or key not in cfg.sources:
        raise InputError(f"配置 {cfg.path or config} 中没有来源 {source or '(role: system)'};可用: {', '.join(cfg.sources)}")
    spec: SourceSpec = cfg.sources[key]
    sources = {"old": replace(spec, key="old", path=Path(old).resolve()),
               "new": replace(spec, key="new", path=Path(new).resolve())}
    registers = {k: r for k, r in cfg.registers.items() if r.kind in ("death", "hukou")}
    return replace(cfg, sources=sources, registers=registers, visits=None)


def _load(con: duckdb.DuckDBPyConnection, cfg: Config, work: Path) -> None:
    from .load import load
    from .normalize.stage import normalize
    from .validate import validate

    load(con, cfg, work)
    validate(con)
    normalize(con)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"describe {table}").fetchall()}


def _build(con: duckdb.DuckDBPyConnection, old_date: date | None, new_date: date | None) -> None:
    pcols = _columns(con, "src_person")
    pf = [f for f in PERSON_FIELDS if f in pcols]
    hf = [f for f in HH_FIELDS if f in pcols]
    valid = "coalesce(id_number_valid, false)" if "id_number_valid" in pcols else "id_number is not null"
    # persons: a valid ID is the key, unless the export lists it more than once (then every row stays, keyed by
    # ID, household and name, and is reported as a duplicate: never merged); without a valid ID, household + name
    con.execute(f"""
        create or replace table cmp_person as
        with keyed as (
          select *, {valid} as usable, count(*) over (partition by source, id_number) as id_rows from src_person
          where source in ('old', 'new')
        )
        select source, case when usable and id_rows = 1 then id_number
                            when usable then id_number || '@' || coalesce(hh_code, '') || ':' || coalesce(name, '')
                            else coalesce(hh_code, '') || ':' || coalesce(name, '') end as pkey,
               usable and id_rows > 1 as duplicate_id, row, id_number, hh_code, township, village, head_name, head_id,
               {', '.join(f'"{f}"' for f in pf)}
        from keyed
        qualify row_number() over (partition by source, pkey order by row) = 1""")
    # households: one row per hh_code (person exports repeat household columns on every member row)
    con.execute(f"""
        create or replace table cmp_household as
        select source, coalesce(hh_code, 'head:' || head_id) as hkey, hh_code,
               {', '.join(f'any_value("{f}") as "{f}"' for f in hf if f not in ('township', 'village', 'head_name',
                                                                                 'head_id'))}{',' if hf else ''}
               any_value(township) as township, any_value(village) as village,
               coalesce(max(name) filter (where relation = '户主'), any_value(head_name)) as head_name,
               coalesce(max(id_number) filter (where relation = '户主'), any_value(head_id)) as head_id,
               count(*) as members
        from src_person where source in ('old', 'new') and coalesce(hh_code, head_id) is not null
        group by all""")
    # without --old-date, the old export's date is taken as its latest birth date, less a year for the lag
    # of registration; a person added to an existing household and born since then counts as a birth
    latest = con.execute("select max(birth_date) from cmp_person where source = 'old'").fetchall()[0][0] \
        if "birth_date" in pf else None
    since = old_date or (date(latest.year - 1, latest.month, min(latest.day, 28)) if latest else date(1900, 1, 1))
    params = {"since": since, "until": new_date or date(2999, 12, 31)}
    con.execute("create or replace temp table _o as select * from cmp_person where source = 'old'")
    con.execute("create or replace temp table _n as select * from cmp_person where source = 'new'")
    con.execute("create or replace temp table _ho as select * from cmp_household where source = 'old'")
    con.execute("create or replace temp table _hn as select * from cmp_household where source = 'new'")
    deaths = _register_people(con, "death")
    con.execute(f"create or replace temp table _death as {deaths}")
    rel_old = '"relation"' if "relation" in pf else "null"
    birth = '"birth_date"' if "birth_date" in pf else "null::date"
    # an ID corrected between the exports: one row gone and one come in the same household under the same name —
    # a correction of its own, not a 婚入 and an unexplained 减少 (only one-to-one pairs: two 王芳 stay unpaired)
    con.execute("""
        create or replace temp table _corrected as
        with gone as (select * from _o anti join _n using (pkey)), came as (select * from _n anti join _o using (pkey)),
        pairs as (
          select g.pkey as old_pkey, c.pkey as new_pkey, c.id_number as new_id, g.id_number as old_id, c.name,
                 c.township, c.village, g.hh_code as old_hh_code, c.hh_code as new_hh_code,
                 count(*) over (partition by g.pkey) as n_old, count(*) over (partition by c.pkey) as n_new
          from gone g join came c on c.hh_code = g.hh_code and c.name = g.name
        )
        select * exclude (n_old, n_new) from pairs where n_old = 1 and n_new = 1""")
    con.execute("create or replace temp table _o_left as select * from _o where pkey not in (select old_pkey from _corrected)")
    con.execute("create or replace temp table _n_left as select * from _n where pkey not in (select new_pkey from _corrected)")
    con.execute(f"""
        create or replace table cmp_person_change as
        select 'corrected' as change, c.new_pkey as pkey, c.new_id as id_number, c.name, c.township, c.village,
               c.old_hh_code, c.new_hh_code, n.{rel_old} as relation, n.{birth} as birth_date,
               '证件号码更正' as type
        from _corrected c join _n n on n.pkey = c.new_pkey
        union all
        select 'added' as change, n.pkey, n.id_number, n.name, n.township, n.village, null as old_hh_code,
               n.hh_code as new_hh_code, n.{rel_old} as relation, n.{birth} as birth_date,
               case when n.hh_code not in (select hkey from _ho) then '新识别/新纳入(新增户成员)'
                    when n.{birth} >= $since and n.{rel_old} in {CHILD_RELATIONS} then '自然增加(出生)'
                    when n.{rel_old} in {MARRY_IN} then '自然增加(婚入)'
                    else '其他增加(待核实)' end as type
        from _n_left n anti join _o o using (pkey)
        union all
        select 'removed', o.pkey, o.id_number, o.name, o.township, o.village, o.hh_code, null, o.{rel_old},
               o.{birth},
               case when o.hh_code not in (select hkey from _hn) then '销户(所在户整户减少)'
                    when o.id_number in (select id_number from _death) then '自然减少(死亡)'
                    when o.{rel_old} in {CHILD_RELATIONS} and o.{birth} <= $since - interval 16 year
                         then '自然减少(婚出/迁出,待核实)'
                    else '其他减少(待核实)' end
        from _o_left o anti join _n n using (pkey)
        union all
        select 'moved', n.pkey, n.id_number, n.name, n.township, n.village, o.hh_code, n.hh_code, n.{rel_old},
               n.{birth},
               case when n.hh_code not in (select hkey from _ho) then '自然增减(分户)'
                    else '户间调整(迁移/合户)' end
        from _n n join _o o using (pkey) where o.hh_code is distinct from n.hh_code""", {"since": params["since"]})
    con.execute("""
        create or replace table cmp_household_change as
        select 'added' as change, n.hkey, n.hh_code, n.township, n.village, n.head_name, n.head_id, n.members,
               case when exists (select 1 from cmp_person_change c where c.new_hh_code = n.hkey and c.change = 'moved')
                         then '自然增减(分户新立户)'
                    when n.monitor_type is not null and coalesce(n.status, '') <> '已脱贫' then '新纳入监测对象'
                    else '新识别' end as type
        from _hn n anti join _ho o using (hkey)
        union all
        select 'removed', o.hkey, o.hh_code, o.township, o.village, o.head_name, o.head_id, o.members,
               case when not exists (select 1 from _o p where p.hh_code = o.hkey
                                     and p.id_number not in (select id_number from _death))
                         then '自然销户(全户死亡)'
                    when exists (select 1 from cmp_person_change c where c.old_hh_code = o.hkey and c.change = 'moved')
                         then '合户/并户'
                    else '销户' end
        from _ho o anti join _hn n using (hkey)""")
    _field_changes(con, hf, pf)
    _register_checks(con, params)


def _register_people(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    if not has_table(con, "register"):
        return "select null::varchar as id_number, null::varchar as name, null::date as death_date, " \
               "null::varchar as hukou_no, null::date as birth where false"
    return f"""
        select r.id_number, r.name, try_cast(a.value as date) as death_date, r.hukou_no, r.id_number_birth as birth
        from register r left join register_attr a on a.file = r.file and a.row = r.row and a.attr = 'death_date'
        where r.kind = '{kind}' and r.id_number is not null"""


HH_TYPES = {
    "status": """case when b = '未脱贫' and a = '已脱贫' then '标注脱贫' when b = '已脱贫' and a = '未脱贫' then '返贫'
                      else '户状态变更' end""",
    "exit_year": "'脱贫年度变更'",
    "monitor_type": """case when b is null then '纳入监测' when a is null then '退出监测' else '监测类别变更' end""",
    "risk_status": """case when a = '已消除' then '风险消除' when b = '已消除' then '风险重现(返贫致贫风险)'
                           else '风险状态变更' end""",
    "risk_eliminated_date": "'风险消除时间变更'",
    "hh_size": "'家庭人口变更'", "hh_type": "'贫困户属性变更'",
    # the same person under a corrected name or ID is a correction; another person is a new head
    "head_name": "case when o_head_id = n_head_id then '户主姓名更正' else '户主变更' end",
    "head_id": "case when o_head_name = n_head_name then '户主证件号码更正' else '户主变更' end",
}


def _field_changes(con: duckdb.DuckDBPyConnection, hf: list[str], pf: list[str]) -> None:
    parts = []
    for f in hf:
        kind = HH_TYPES.get(f, "'信息变更'")
        parts.append(f"""
            select 'household' as level, o.hkey as key, n.township, n.village, n.hh_code, n.head_name as name,
                   '{f}' as field, b, a, {kind} as type
            from (select hkey, cast("{f}" as varchar) as b, head_id as o_head_id, head_name as o_head_name from _ho) o
            join (select hkey, hh_code, township, village, head_name, head_id as n_head_id, head_name as n_head_name,
                         cast("{f}" as varchar) as a from _hn) n
            using (hkey) where b is distinct from a""")
    for f in pf:
        parts.append(f"""
            select 'person', o.pkey, n.township, n.village, n.hh_code, n.name, '{f}', b, a,
                   {"'姓名变更'" if f == 'name' else "'人员信息变更'"}
            from (select pkey, cast("{f}" as varchar) as b from _o) o
            join (select pkey, hh_code, township, village, name, cast("{f}" as varchar) as a from _n) n
            using (pkey) where b is distinct from a""")
    union = " union all ".join(parts) or "select null as level where false"
    con.execute(f"create or replace table cmp_field_change as select * rename (b as before, a as after) from ({union})")


def _register_checks(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    deaths = _register_people(con, "death")
    hukou = _register_people(con, "hukou")
    con.execute(f"""
        create or replace table cmp_register_check as
        select '证件号码重复' as "check", p.township, p.village, p.hh_code, p.name, p.id_number,
               case p.source when 'old' then '旧导出' else '新导出' end || '中该证件号码出现 '
               || count(*) over (partition by p.source, p.id_number) || ' 次(本行为第 ' || p.row || ' 行),'
               || '各行分别比较,没有合并' as detail
        from cmp_person p where p.duplicate_id
        union all
        select '死亡未减员' as "check", n.township, n.village, n.hh_code, n.name, n.id_number,
               '公安死亡注销记录' || coalesce(' 死亡日期 ' || cast(d.death_date as varchar), '') ||
               ',新导出仍列为家庭成员' as detail
        from _n n join ({deaths}) d on d.id_number = n.id_number
        where d.death_date is null or d.death_date <= $until
        union all
        select '出生未增员', n.township, n.village, n.hh_code, h.name, h.id_number,
               '公安户籍(户号 ' || h.hukou_no || ')' || cast(h.birth as varchar) || ' 出生,与该户同户,新导出未增加此人'
        from ({hukou}) h
        join (select distinct r.hukou_no, n.hh_code, n.township, n.village from ({hukou}) r
              join _n n on n.id_number = r.id_number) n on n.hukou_no = h.hukou_no
        where h.birth >= $since and h.birth <= $until and h.id_number not in (select id_number from _n where id_number is not null)
        order by 1, 2, 3, 4, 5, 6, 7""", params)  # every column: rows that tie on the household keep one order


def compare_exports(old: Path, new: Path, config: Path | Config | None = None, source: str | None = None,
                    output: Path | None = None, old_date: str | None = None,
                    new_date: str | None = None) -> CompareResult:
    """The changes between two exports, and where their files go (`output`); nothing is written here:
    `compare_exports_report.write_comparison` writes the files, `print_comparison` the terminal summary."""
    od, nd = _date(old_date, "--old-date"), _date(new_date, "--new-date")
    cfg = comparison_config(Path(old), Path(new), config if isinstance(config, Config) or config is None
                            else Path(config), source)
    out = (output or (cfg.output / OUT_DIR if config else Path.cwd() / OUT_DIR)).resolve()
    from .pipeline import guard_output, make_output

    guard_output(cfg, out)
    make_output(out)
    with output_lock(out), run_scratch(out) as work:  # its scratch database in the output folder, not /tmp
        return _compare(cfg, work, out, Path(old), Path(new), od, nd)


def _compare(cfg: Config, work: Path, out: Path, old: Path, new: Path, od, nd) -> CompareResult:
    con = connect(work / "compare.duckdb")
    try:
        _load(con, cfg, work)
        _build(con, od, nd)
        result = CompareResult(
            output=out, old=old, new=new,
            households=_frame(con, "select * from cmp_household_change order by township, village, hh_code"),
            persons=_frame(con, "select * from cmp_person_change order by township, village, new_hh_code, old_hh_code, name"),
            fields=_frame(con, "select * from cmp_field_change order by township, village, hh_code, level, name, field"),
            checks=_frame(con, "select * from cmp_register_check"),
            region=cfg.region,
            counts={k: int(v) for k, v in zip(
                ("households_old", "households_new", "persons_old", "persons_new"),
                con.execute("select (select count(*) from _ho), (select count(*) from _hn), "
                            "(select count(*) from _o), (select count(*) from _n)").fetchall()[0], strict=True)},
        )
    finally:
        con.close()
    return result
