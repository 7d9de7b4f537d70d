"""Ground truth (truth/*.csv, truth/README.md) and the run configuration (reconcile.yaml)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import yaml

from . import specs as S
from .catalogue import MISSED, recipes_for
from .inject import Ctx

PERSON_KINDS = {"member_missing", "person_multi_household", "name_mismatch", "id_mismatch", "id_invalid",
                "id_demographic_conflict", "relation_mismatch", "deceased_listed", "ineligible_member"}


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write(out: Path, ctx: Ctx, links: list, plinks: list) -> Counter:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    rows = []
    for fd in ctx.findings:
        h = ctx.hh[fd.hid] if fd.hid is not None else None
        person = ctx.people.get(fd.pid) if fd.pid else None
        if fd.kind == "missed_suspect" and fd.pid:
            hh_code, head_id = "", fd.pid
        else:
            hh_code, head_id = (h.hh_code, h.head.pid) if h else ("", fd.pid)
        named = fd.kind in PERSON_KINDS or (fd.kind == "missed_suspect" and fd.pid)
        rows.append([fd.kind, hh_code, head_id, fd.pid if named else "", person.name if named and person else "",
                     fd.source, fd.detail])
    _write(truth / "findings.csv", ["kind", "hh_code", "head_id", "person_id", "person_name", "source", "detail"],
           rows)
    hh_rows = []
    for h in ctx.county.households:
        clean = h.hid not in ctx.used and h.hid not in ctx.dirty
        hh_rows.append([h.hh_code, h.head.pid, h.village.town, h.village.name, str(h.registered).lower(),
                        str(clean).lower()])
    _write(truth / "households.csv", ["hh_code", "head_id", "township", "village", "registered", "clean"], hh_rows)
    _write(truth / "links.csv", ["source", "rec_key", "hh_code", "head_id"],
           [[src, key, ctx.hh[hid].hh_code, ctx.hh[hid].head.pid] for src, key, hid in links])
    _write(truth / "person_links.csv", ["source", "rec_key", "person_id"], [list(r) for r in plinks])
    counts = Counter(r[0] for r in rows)
    (truth / "README.md").write_text(readme(counts, ctx.county.monitoring), encoding="utf-8")
    return counts


def readme(counts: Counter, monitoring: bool = False) -> str:
    lines = [
        "# 真值 / Ground truth",
        "",
        "由 `reconcile_synth.generate` 生成，与数据文件同一随机种子。Generated with the data files from one seed.",
        "",
        "- `findings.csv` — 每个注入问题 × 其引起的每种问题类型一行 (one row per injected problem × kind it implies).",
        "  `hh_code`/`head_id` 为该户真实户编号与真实户主身份证号；仅部门数据中的人员 (missed_suspect) "
        "`hh_code` 为空，`head_id` = `person_id` = 其身份证号；非建档立卡的核查户 `hh_code` 为空。",
        "- `households.csv` — 全部真实户（含非建档立卡户，`hh_code` 为空）；`clean` = 没有任何问题或背景噪声触及该户。",
        "- `links.csv` — 每条来源记录属于哪个真实户；`person_links.csv` — 系统/手册每个成员行是谁。",
        "",
        "## 注入目录 / Injection catalogue",
        "",
        "每个被选中的建档立卡户只注入一个问题（帮扶责任人超限一组户、一人多户涉及的两户除外）。",
        "Each chosen registered household gets one problem; the kinds it implies are all listed in findings.csv.",
        "",
        "| kind | 注入方式 (what changed, where; implied kinds) | 核查样本 survey |",
        "|---|---|---|",
    ]
    survey = {"ok": "可抽到", "no": "不抽", "force": "必抽"}
    for r in recipes_for(monitoring) + MISSED:
        lines.append(f"| {r.kind} | {r.variant} | {survey[r.survey]} |")
    lines += [
        "",
        "## 背景噪声 / Background corruption (`Corruption`)",
        "",
        "| knob | 做法 | findings |",
        "|---|---|---|",
        "| typo_rate | 手册姓名同音/形近字（户主则手册户主姓名同改） | name_mismatch (manual) |",
        "| missing_id_rate | 手册成员身份证号为空（户主栏仍有户主身份证号） | record_incomplete (manual) |",
        "| mangled_id_rate | 系统Excel数值 / 手册错一位 / 手册17位 | id_invalid |",
        "| missing_hh_code_rate | 台账户编号为空 | 无 (none; household not clean) |",
        "| split_rate | 成年子女分户：户籍另立户、手册已删，系统和台账未改 | member_missing (manual) + household_size_mismatch |",
        "",
        "## 语义约定 / Semantics chosen",
        "",
        "- 户籍人数 = 公安户籍中户主所在户号的人数；与系统人数不同即 household_size_mismatch (户籍 is a size source).",
        "- 比较只在双方都有值时进行：空值只算 record_incomplete（若为必填项），不另算不一致。",
        "  Comparisons skip empty values; an empty required field is record_incomplete only.",
        "- 一方损坏的身份证号 (id_invalid) 不再算 id_mismatch，也不算 head_mismatch。",
        "- 户主姓名错字（证件号相同）是 name_mismatch，不是 head_mismatch；head_mismatch 指换了一个人。",
        "- 状态不一致时脱贫年度保持一致（台账/手册只改状态），不另算 exit_year_mismatch。",
        "- measure_cause_mismatch 只针对有措施的户；措施全空是 no_measure（手册必填项缺失另算 record_incomplete）。",
        "- 手册重复录入同一户（第二个户编号）只算 household_duplicate，不算 person_multi_household。",
        "- 边缘易致贫户：户状态为非贫困户，贫困户属性为空，识别年度为监测年度；不进入核查样本。",
        "- 按月走访：未脱贫、边缘户和所有监测户（含已消除）；按季走访：其余已脱贫户。",
        "- Clean survey income may differ from the system by at most 50 元 (inside income_tolerance).",
        "- 漏评线索：非建档立卡户中，凡在低保、特困、残疾、大病名单中的人，每人一条 missed_suspect（无需第二个标记）；",
        "  该户被入户核查的，另按户一条。Everyone outside the register on those registers is a lead (one mark is enough).",
        "- 风险消除：因病（仍患大病）、因残（仍残疾）、因学（仍在校）的风险不会被标注消除，除非注入了该问题；",
        "  已落实的帮扶措施不能代替风险消除条件。",
        "- 义务教育年龄（school_age，按考核年度12月31日）的子女记为非在校生或学籍中没有，即义务教育未保障。",
        "",
        "## 本样本各类数量 / Rows per kind",
        "",
        "| kind | rows |",
        "|---|---|",
    ]
    lines += [f"| {k} | {n} |" for k, n in sorted(counts.items())]
    return "\n".join(lines) + "\n"


def config(out: Path, year: int, region: str = "湘阴县", kind: str = "xlsx", monitoring: bool = False) -> Path:
    """reconcile.yaml for the files `writers.write_all` wrote in format `kind`.

    Every raw header is mapped explicitly. Workbooks have a merged title row above the header
    (header_rows: 2); the CSV export and manual have one header row; Parquet has neither encoding
    nor header rows (its column names are the headers).
    """
    def src(name: str, role: str, level: str, columns, encoding: str = "auto", **extra) -> dict:
        spec = {"path": S.file_name(name, kind), "role": role, "level": level, **extra}
        if kind != "parquet":
            spec["encoding"] = encoding
        return {**spec, "columns": S.mapping(columns)}

    system_columns = S.system_columns(monitoring)
    if kind == "xlsx":
        system = src(S.SYSTEM_FILE, "system", "person", system_columns, sheet=0, header_rows=2)
        manual = src(S.MANUAL_FILE, "manual", "person", S.MANUAL_COLUMNS, sheet=0, header_rows=2)
    elif kind == "csv":
        system = src(S.SYSTEM_FILE, "system", "person", system_columns, S.SYSTEM_CSV_ENCODING, header_rows=1)
        manual = src(S.MANUAL_FILE, "manual", "person", S.MANUAL_COLUMNS, S.MANUAL_CSV_ENCODING, header_rows=1)
    else:
        system = src(S.SYSTEM_FILE, "system", "person", system_columns)
        manual = src(S.MANUAL_FILE, "manual", "person", S.MANUAL_COLUMNS)

    def plain(name: str, **extra) -> dict:
        return {"path": S.file_name(name, kind), **extra, **({} if kind == "parquet" else {"encoding": "auto"})}

    cfg = {
        "region": region,
        "year": year,
        "province": "default",
        "output": "out/",
        "sources": {
            "system": system,
            "archive": src(S.ARCHIVE_FILE, "archive", "household", S.ARCHIVE_COLUMNS),
            "manual": manual,
            "survey": src(S.SURVEY_FILE, "survey", "household", S.SURVEY_COLUMNS),
        },
        "registers": {reg: {**plain(f"{S.REGISTER_DIR}/{name}", kind=reg), "columns": S.mapping(columns)}
                      for reg, (name, _enc, _style, columns) in S.REGISTERS.items()},
        "visits": {**plain(S.VISITS_FILE), "columns": S.mapping(S.VISIT_COLUMNS)},
        "packs": ["all"],
    }
    path = out / "reconcile.yaml"
    text = yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False, width=200)
    # written last and atomically: a folder with reconcile.yaml is complete (province.py resumes on it)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("# 示例县配置：由 reconcile_synth 生成 (generated by reconcile_synth)\n" + text, encoding="utf-8")
    tmp.replace(path)
    return path
