"""Write the county's files the way they really arrive: an xlsx export with a merged title row,
a GB18030 ledger, typed-in booklets, a survey with BOM, department registers in mixed encodings.

Output format "csv" writes the export (GB18030) and the booklets (UTF-8 with BOM) as CSV with one
header row; "parquet" writes every file as Parquet, all columns strings (empty cells null). The
content is the same in every format: cells an xlsx holds as numbers or dates are written as the text
a reader of the xlsx sees (an ID Excel stored as a number as Excel shows it, 4.30624E+17).

Formatting noise (date styles, label variants, `="…"` wrappers, 元 and thousands separators) uses its
own random stream, so it never changes what was injected. Writers return the record keys the loader
will see, for truth/links.csv and truth/person_links.csv.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import people as P
from . import specs as S
from .views import HRec, Views
from .world import County
from .xlsx import SheetWriter

SYSTEM_TYPE = {"一般户": "一般贫困户", "低保户": "低保贫困户", "特困户": "特困供养贫困户"}
ARCHIVE_TYPE_CODE = {"一般户": "01", "低保户": "04", "特困户": "06"}
SYSTEM_MEASURE = {"教育资助": "教育资助（雨露计划）", "小额信贷": "扶贫小额信贷", "公益岗位": "公益性岗位"}
LEVEL_CN = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
MONEY_KEYS = {"income_wage", "income_business", "income_property", "income_transfer", "expense_business",
              "income_total", "income_per_capita"}
INT_KEYS = {"hh_size", "exit_year", "identify_year", "income_year", "hukou_size", "card_size", "manual_size",
            "visits_reported", "enrol_year"}
BOOL_KEYS = {"medical_insured", "pension_insured", "dibao", "water_safe", "housing_safe", "dropout",
             "all_medical_insured", "knows_cadre", "employee_medical_insured", "serious_illness_insured", "tekun",
             "guarantee_household", "employee_pension_insured", "commercial_medical_insured", "medical_aid",
             "other_health_aid", "works_abroad", "speaks_mandarin", "yulu_plan"}
YEARMONTH_KEYS = {"monitor_start_date", "risk_eliminated_date"}
PHONE_KEYS = {"household_phone", "monitor_contact_phone", "member_phone"}
DATE_KEYS = {"birth_date", "record_date", "survey_date", "visit_date", "apply_date", "review_date",
             "village_notice_date", "township_notice_date", "county_notice_date", "exit_review_date",
             "exit_village_notice_date", "exit_township_notice_date", "exit_county_notice_date",
             "approved_date", "issued_date", "death_date", "registered_date", "assessed_date", "_cancel_date",
             "_birth_date"}


class Fmt:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def date(self, d: date | None, style: str | None = None) -> str:
        if d is None:
            return ""
        style = style or self.rng.choices(("iso", "slash", "cn", "compact"), (50, 20, 15, 15))[0]
        if style == "iso":
            return d.isoformat()
        if style == "slash":
            return f"{d.year}/{d.month}/{d.day}"
        if style == "cn":
            return f"{d.year}年{d.month}月{d.day}日"
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"  # strftime("%Y%m%d"), faster

    def money(self, v: float | int | None, noisy: bool) -> str:
        if v is None or v == "":
            return ""
        text = f"{v:.2f}" if isinstance(v, float) else str(v)
        if noisy:
            r = self.rng.random()
            if r < 0.08 and abs(v) >= 1000:
                text = f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"
            elif r < 0.15:
                text += "元"
        return text

    @staticmethod
    def yesno(v: bool | None) -> str:
        return "" if v is None else ("是" if v else "否")


# --- tables -------------------------------------------------------------------------------------
def cell_text(v: Any) -> str:
    """A cell as text: numbers in their shortest form (4.0 -> "4"), dates ISO, None empty."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _frame(headers: list[str], rows: list[list[str]]):
    """Text rows as a polars frame of strings; an empty cell becomes null, as a CSV reader gives it."""
    import polars as pl

    frame = pl.DataFrame(rows, schema={h: pl.String for h in headers}, orient="row")
    return frame.select(pl.when(pl.col(h) != "").then(pl.col(h)).alias(h) for h in headers)


def write_table(path: Path, encoding: str, headers: list[str], rows: list[list[str]]) -> None:
    """A table of text cells as CSV (`encoding`, CRLF) or, for a .parquet path, as Parquet (all strings)."""
    if path.suffix == ".parquet":
        _frame(headers, rows).write_parquet(path)
        return
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(headers)
        w.writerows(rows)


class TextTable:
    """The CSV / Parquet counterpart of `SheetWriter`: one header row, then data rows via `put`.
    CSV rows go straight to the file; Parquet rows are turned into frames a chunk at a time."""

    CHUNK = 8192

    def __init__(self, path: Path, encoding: str, headers: list[str]):
        self.path, self.headers, self.row = path, headers, 1
        self.pending: list[list[str]] = []
        self.frames: list = []
        self.file = None if path.suffix == ".parquet" else open(path, "w", encoding=encoding, newline="")
        if self.file is not None:
            self.writer = csv.writer(self.file, lineterminator="\r\n")
            self.writer.writerow(headers)

    def put(self, cells: list[Any]) -> int:
        """Write one data row; returns its 1-based row number (the header is row 1)."""
        self.row += 1
        texts = [v if type(v) is str else cell_text(v) for v in cells]
        if self.file is not None:
            self.writer.writerow(texts)
        else:
            self.pending.append(texts)
            if len(self.pending) >= self.CHUNK:
                self.frames.append(_frame(self.headers, self.pending))
                self.pending = []
        return self.row

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            return
        import polars as pl

        self.frames.append(_frame(self.headers, self.pending))
        pl.concat(self.frames).write_parquet(self.path)
        self.frames, self.pending = [], []


def _order(county: County) -> dict[int, tuple]:
    vindex = {id(v): i for i, v in enumerate(county.villages)}
    return {h.hid: (vindex[id(h.village)], h.hh_code, h.hid) for h in county.households}


def _records(views: Views, source: str, order: dict[int, tuple]) -> list[HRec]:
    """Records in file order; a duplicate follows the last record of its village."""
    main = sorted(views.sources[source].values(), key=lambda r: order[r.hid])
    out: list[HRec] = []
    extras = sorted(views.extras[source], key=lambda r: order[r.hid])
    for i, rec in enumerate(main):
        out.append(rec)
        nxt = main[i + 1] if i + 1 < len(main) else None
        if nxt is None or order[nxt.hid][0] != order[rec.hid][0]:
            out += [e for e in extras if order[e.hid][0] == order[rec.hid][0]]
    return out


# --- system export and manual: xlsx, or CSV / Parquet ------------------------------------------------
def _sheet(out: Path, name: str, sheet: str, title: str, columns, county: County, kind: str,
           encoding: str) -> SheetWriter | TextTable:
    headers = [h for h, _ in columns]
    if kind == "xlsx":
        return SheetWriter(out / name, sheet, title, headers, f"{county.name}乡村振兴局",
                           datetime(county.year, 12, 31, 9, 0, 0))
    return TextTable(out / S.file_name(name, kind), encoding, headers)


def _list(values: list[str], sep: str, alias: dict[str, str] | None = None) -> str:
    return sep.join(alias.get(v, v) if alias else v for v in values)


def write_system(out: Path, county: County, views: Views, fmt: Fmt, order, kind: str = "xlsx") -> tuple[list, list]:
    columns = S.system_columns(county.monitoring)
    title = (f"{county.name}防返贫监测对象及脱贫人口信息表（{county.year}年度）" if county.monitoring
             else f"{county.name}建档立卡贫困人口信息表（{county.year}年度）")
    sheet = _sheet(out, S.SYSTEM_FILE, S.SYSTEM_SHEET, title, columns, county, kind, S.SYSTEM_CSV_ENCODING)
    number = P.excel_number if kind == "xlsx" else P.sci_text  # an ID Excel keeps as a number
    special = MONITORING_CELLS if county.monitoring else {}
    links, plinks = [], []
    for rec in _records(views, "system", order):
        hf = rec.f
        links.append(("system", hf["hh_code"].strip(), rec.hid))
        for row in rec.persons:
            pf = row.f
            cells = []
            for _, key in columns:
                v = pf[key] if key in pf else hf.get(key)
                if key in special:
                    v = special[key](v, hf, county, fmt)
                elif key == "_province":
                    v = county.spec.province
                elif key == "_city":
                    v = county.spec.city
                elif key == "id_number" and row.id_cell == "number":
                    v = number(v)
                elif key == "head_id" and hf.get("head_id_cell") == "number":
                    v = number(v)
                elif key == "birth_date":
                    v = v if fmt.rng.random() < 0.15 else fmt.date(v)
                elif key in BOOL_KEYS:
                    v = fmt.yesno(v)
                elif key == "hh_type":
                    v = SYSTEM_TYPE.get(v, v)
                elif key == "other_causes":
                    v = _list(v, "、")
                elif key == "measures":
                    v = _list(v, ",", SYSTEM_MEASURE)
                cells.append(v)
            sheet.put(cells)
            plinks.append(("system", pf["rec_id"], row.pid))
    sheet.close()
    return links, plinks


def _further_risk(k: int):
    return lambda v, hf, county, fmt: hf["other_causes"][k] if len(hf["other_causes"]) > k else ""


def _yearmonth(v, hf, county, fmt) -> str:
    """YYYYMM as the export gives it: text, a number read back with ".0", or a dashed month."""
    if not v:
        return ""
    r = fmt.rng.random()
    return f"{v}.0" if r < 0.3 else (f"{v[:4]}-{v[4:]}" if r < 0.4 else v)


def _phone(v, hf, county, fmt) -> str:
    return f"{v}.0" if v and fmt.rng.random() < 0.2 else (v or "")  # a phone typed into a number cell


def _months(v, hf, county, fmt) -> str:
    return "" if v is None else (f"{v}.0" if fmt.rng.random() < 0.2 else str(v))


# The monitoring export's cells that need more than the value: (value, household fields, county, Fmt) -> cell
MONITORING_CELLS = {
    "other_causes#0": _further_risk(0), "other_causes#1": _further_risk(1),
    "monitor_start_date": _yearmonth, "risk_eliminated_date": _yearmonth,
    "household_phone": _phone, "monitor_contact_phone": _phone, "member_phone": _phone,
    "work_months": _months, "public_post_months": _months,
    "_id_type": lambda v, hf, county, fmt: "居民身份证",
    "_year": lambda v, hf, county, fmt: str(county.year),
    "_hh_kind": lambda v, hf, county, fmt: "脱贫户" if hf["status"] == "已脱贫" else "非脱贫户",
    "elimination_method": lambda v, hf, county, fmt: v or "",
}


def write_manual(out: Path, county: County, views: Views, fmt: Fmt, order, kind: str = "xlsx") -> tuple[list, list]:
    sheet = _sheet(out, S.MANUAL_FILE, S.MANUAL_SHEET, f"{county.name}扶贫手册信息录入表", S.MANUAL_COLUMNS,
                   county, kind, S.MANUAL_CSV_ENCODING)
    # the loader's record key of a row without a record id: file:sheet:row (no sheet in CSV/Parquet)
    where = f"{S.MANUAL_FILE}:{S.MANUAL_SHEET}" if kind == "xlsx" else f"{S.file_name(S.MANUAL_FILE, kind)}:"
    links, plinks = [], []
    for rec in _records(views, "manual", order):
        hf = rec.f
        links.append(("manual", hf["hh_code"].strip(), rec.hid))
        drop_unit = fmt.rng.random() < 0.08
        for row in rec.persons:
            pf = row.f
            cells = []
            for _, key in S.MANUAL_COLUMNS:
                v = pf[key] if key in pf else hf.get(key)
                if key in ("birth_date", "record_date"):
                    v = fmt.date(v, fmt.rng.choice(("iso", "iso", "cn", "slash")))
                elif key in ("other_causes", "measures"):
                    v = _list(v, "、")
                elif key == "ethnicity" and fmt.rng.random() < 0.08:
                    v = ""  # not required, often left blank when typing from paper
                elif key == "cadre_unit" and drop_unit:
                    v = ""
                cells.append(v)
            r = sheet.put(cells)
            plinks.append(("manual", f"{where}:{r}", row.pid))
    sheet.close()
    return links, plinks


# --- csv (or Parquet) ----------------------------------------------------------------------------
def _archive_cell(key: str, v: Any, rec: HRec, fmt: Fmt, seq: int, since: int, county: str) -> str:
    rng = fmt.rng
    if key == "_seq":
        return str(seq)
    if key == "township":
        return (county + v) if rng.random() < 0.1 else v
    if key == "village":
        stem = v[:-1]
        return stem + rng.choices(("村委会", "", "村民委员会", "村"), (35, 25, 15, 25))[0]
    if key == "group":
        return f"{rec.hid % 9 + 1}组"
    if key == "head_id":
        return f'="{v}"' if v and rng.random() < 0.04 else (v or "")
    if key == "hh_type":
        if not v:
            return ""
        r = rng.random()
        if rec.f.get("record_date") and rec.f["record_date"].year >= since:
            return ARCHIVE_TYPE_CODE[v] if r < 0.08 else v  # rows updated since then use the new labels
        return ARCHIVE_TYPE_CODE[v] if r < 0.08 else (SYSTEM_TYPE[v] if r < 0.6 else v)
    if key == "exit_year":
        return "" if v is None else (f"{v}年" if rng.random() < 0.3 else str(v))
    if key in MONEY_KEYS:
        return fmt.money(v, True)
    if key in DATE_KEYS:
        return fmt.date(v)
    if key == "measures":
        return _list(v, rng.choice(("，", ";", "、")))
    return "" if v is None else str(v)


def write_archive(out: Path, county: County, views: Views, fmt: Fmt, order, kind: str = "xlsx") -> list:
    links, rows = [], []
    since = int(county.params["retired_terms_from_year"])
    name = S.file_name(S.ARCHIVE_FILE, kind)
    for i, rec in enumerate(_records(views, "archive", order), start=1):
        rows.append([_archive_cell(key, rec.f.get(key), rec, fmt, i, since, county.name)
                     for _, key in S.ARCHIVE_COLUMNS])
        links.append(("archive", f"{name}::{i + 1}", rec.hid))
    write_table(out / name, S.ARCHIVE_ENCODING, [h for h, _ in S.ARCHIVE_COLUMNS], rows)
    return links


def write_survey(out: Path, views: Views, fmt: Fmt, order, kind: str = "xlsx") -> list:
    recs = sorted(views.sources["survey"].values(), key=lambda r: (order[r.hid][0], fmt.rng.random()))
    links, rows = [], []
    inspectors = ("县交叉检查组", "市级核查组", "第三方评估组")
    for i, rec in enumerate(recs, start=1):
        cells = []
        for _, key in S.SURVEY_COLUMNS:
            v = rec.f.get(key)
            if key == "_seq":
                v = str(i)
            elif key == "_inspector":
                v = inspectors[rec.hid % 3]
            elif key in BOOL_KEYS:
                v = fmt.yesno(v)
            elif key == "survey_date":
                v = fmt.date(v, fmt.rng.choice(("iso", "slash")))
            elif key == "income_per_capita":
                v = fmt.money(v, False)
            else:
                v = "" if v is None else str(v)
            cells.append(v)
        rows.append(cells)
        links.append(("survey", f"{S.file_name(S.SURVEY_FILE, kind)}::{i + 1}", rec.hid))
    write_table(out / S.file_name(S.SURVEY_FILE, kind), S.SURVEY_ENCODING, [h for h, _ in S.SURVEY_COLUMNS], rows)
    return links


def write_registers(out: Path, views: Views, fmt: Fmt, kind: str = "xlsx") -> None:
    folder = out / S.REGISTER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for reg, (name, encoding, style, columns) in S.REGISTERS.items():
        rows = sorted((r for r in views.registers[reg] if not r.get("_drop")),
                      key=lambda r: (r["township"], r["village"], r["id_number"]))
        # what each column does, decided once per register rather than once per cell
        plan = []
        for _, key in columns:
            if key == "_seq":
                mode = "seq"
            elif key == "id_number" and reg == "disability":
                mode = "cert"
            elif key == "disability_level":
                mode = "level"
            elif key in DATE_KEYS:
                mode = "date"
            elif key == "monthly_amount":
                mode = "amount"
            else:
                mode = "text"
            plan.append((key, key.lstrip("_"), mode))
        rand, date_text = fmt.rng.random, fmt.date
        out_rows = []
        for i, r in enumerate(rows, start=1):
            cells = []
            for key, base, mode in plan:
                v = r[key] if key in r else r.get(base)
                if mode == "text":
                    v = "" if v is None else str(v)
                elif mode == "date":
                    v = date_text(v, style)
                elif mode == "seq":
                    v = str(i)
                elif mode == "cert":  # the 20-character certificate number typed into the ID column
                    v = r["cert_no"] if rand() < 0.08 else ("" if v is None else str(v))
                elif mode == "level":
                    v = LEVEL_CN[v]
                else:
                    v = f"{v:.2f}"
                cells.append(v)
            out_rows.append(cells)
        write_table(folder / S.file_name(name, kind), encoding, [h for h, _ in columns], out_rows)


def write_visits(out: Path, views: Views, fmt: Fmt, order, kind: str = "xlsx") -> None:
    rows = []
    all_visits = [v for hid in sorted(views.visits, key=lambda k: order[k]) for v in views.visits[hid]]
    all_visits.sort(key=lambda v: v["visit_date"])
    for v in all_visits:
        r = fmt.rng.random()
        code = v["hh_code"] if r < 0.85 else ""
        head_id = v["head_id"] if r >= 0.6 else ""
        rows.append([v["township"], v["village"], code, v["head_name"], head_id, v["cadre_name"],
                     fmt.date(v["visit_date"], fmt.rng.choice(("iso", "iso", "slash"))), v["note"]])
    write_table(out / S.file_name(S.VISITS_FILE, kind), S.VISITS_ENCODING, [h for h, _ in S.VISIT_COLUMNS], rows)


def write_all(out: Path, county: County, views: Views, seed: int, kind: str = "xlsx") -> tuple[list, list]:
    """Every data file in format `kind` (xlsx, csv, parquet); returns (household links, person links)
    as (source, rec_key, hid|pid). The formatting noise is the same in every format."""
    S.file_name(S.SYSTEM_FILE, kind)  # rejects an unknown format before anything is written
    out.mkdir(parents=True, exist_ok=True)
    fmt = Fmt(random.Random(f"{seed}:format"))
    order = _order(county)
    links, plinks = write_system(out, county, views, fmt, order, kind)
    m_links, m_plinks = write_manual(out, county, views, fmt, order, kind)
    links += m_links + write_archive(out, county, views, fmt, order, kind) + write_survey(out, views, fmt, order, kind)
    plinks += m_plinks
    write_registers(out, views, fmt, kind)
    write_visits(out, views, fmt, order, kind)
    return links, plinks
