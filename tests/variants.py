"""The sample county in the shapes real counties' files come in, made by transforming a copy of it (issue 11 §7).

Nothing here is a stored copy: every variant is computed from `data/sample/` when a test asks for it, so a
regenerated sample regenerates every variant. A variant is a function `County -> County` that rewrites
files inside the county's folder (always a fresh copy in a test's tmp_path, never data/sample itself) and
returns a new config dict; the input config is never mutated.

- `renamed(county, columns=...)`  every header respelled the way another county writes it (a1: no
  `columns:`, automatic recognition; a2: `columns:` rewritten with full-width brackets);
- `wrapped_system_csv(county)`    the system export as a GB18030 CSV, a title row, every cell `="…"` (b);
- `without_columns(county, file, headers)`  columns taken out of one file, config left as it was (c);
- `register_by_household(county, key)`   a register that names households by the head's ID (d);
- `dibao_by_household(county)`   the 民政低保 list reduced to one row per household, head's ID only (d);
- `without_source(county, key)`  an optional source, or the visit records, left out entirely (e).

Files are rewritten at the level of their bytes' meaning, not re-exported: CSVs keep their encoding, BOM
and line ends; workbooks are edited in their XML so that cell types (IDs Excel stores as numbers, date
cells) stay exactly as they were — a re-export would change what the reader sees and with it the findings.

`run_checks(county)` runs the county stages up to check on an in-memory database and returns the findings
and the run plan; `compare(baseline, variant)` matches findings by (rule_id, finding_id), then by rule and
entity (see its doc for why).
"""

from __future__ import annotations

import copy
import csv
import html
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from reconcile.errors import ReconcileError
from reconcile.load.xlsx_guard import col_letters, col_number
from reconcile.resources import sample_dir

CONFIG_NAME = "reconcile.yaml"
SYSTEM_FILE = "国家系统导出.xlsx"

# ---- the county and its config ------------------------------------------------------------------------------


@dataclass(frozen=True)
class County:
    """A county folder and its reconcile.yaml as a dict (file paths relative to the folder)."""

    folder: Path
    config: dict

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def with_config(self, config: dict) -> County:
        return County(self.folder, config)

    def write_config(self) -> Path:
        target = self.folder / CONFIG_NAME
        target.write_text(yaml.safe_dump(self.config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return target

    def load(self):
        from reconcile.config import load_config

        return load_config(self.write_config())


def copy_sample(dest: Path, source: Path | None = None) -> County:
    """A copy of the sample county (its files and reconcile.yaml; not the ground truth) in `dest`."""
    source = source or sample_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in ("truth", "README.md", CONFIG_NAME, "out"):
            continue
        if item.is_dir():
            shutil.copytree(item, dest / item.name)
        else:
            shutil.copy2(item, dest / item.name)
    config = yaml.safe_load((source / CONFIG_NAME).read_text(encoding="utf-8"))
    return County(dest, config)


def file_entries(config: dict) -> list[tuple[tuple[str, ...], dict]]:
    """(where in the config, file spec) for every configured file: sources, registers, visits."""
    out: list[tuple[tuple[str, ...], dict]] = []
    for section in ("sources", "registers"):
        out += [((section, key), spec) for key, spec in (config.get(section) or {}).items()]
    if config.get("visits"):
        out.append((("visits",), config["visits"]))
    return out


def entry_for(config: dict, rel: str) -> tuple[tuple[str, ...], dict]:
    for where, spec in file_entries(config):
        if spec["path"] == rel:
            return where, spec
    raise KeyError(f"no configured file {rel}")


def owner_of(where: tuple[str, ...]) -> str:
    """The owner key the run database uses for a file: source key, register key or "visits"."""
    return where[-1]


def _spec_in(config: dict, where: tuple[str, ...]) -> dict:
    node = config
    for key in where:
        node = node[key]
    return node


# ---- CSV files --------------------------------------------------------------------------------------------


def text_encoding(raw: bytes) -> str:
    """How a county CSV is encoded, as far as a test needs to write it back the same way."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


@dataclass
class CsvFile:
    """A CSV as rows of text, with what it takes to write it back the way it came."""

    encoding: str  # utf-8-sig / utf-8 / gb18030
    newline: str
    rows: list[list[str]]

    @classmethod
    def read(cls, path: Path) -> CsvFile:
        raw = path.read_bytes()
        encoding = text_encoding(raw)
        text = raw.decode(encoding)
        newline = "\r\n" if "\r\n" in text[:65536] else "\n"
        return cls(encoding, newline, list(csv.reader(io.StringIO(text, newline=""))))

    def write(self, path: Path, encoding: str | None = None) -> None:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator=self.newline).writerows(self.rows)
        path.write_bytes(out.getvalue().encode(encoding or self.encoding))


def _csv_header_index(spec: dict) -> int:
    return int(spec.get("skip_rows") or 0) + int(spec.get("header_rows") or 1) - 1


# ---- xlsx files, edited in their XML ----------------------------------------------------------------------

_CELL = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(/>|>(.*?)</c>)', re.S)
_SI = re.compile(r"<si>(.*?)</si>", re.S)
_T = re.compile(r"<t[^>]*>(.*?)</t>", re.S)
_REF = re.compile(r'(<(?:dimension|mergeCell) ref=")([A-Z]+\d+(?::[A-Z]+\d+)?)(")')




@dataclass
class XlsxFile:
    """The first sheet of a workbook as XML text, with its shared strings; everything else copied as is."""

    entries: dict[str, bytes]
    sheet_name: str
    sheet: str
    strings: list[str]  # shared strings as XML fragments (<si> contents), in index order

    @classmethod
    def read(cls, path: Path) -> XlsxFile:
        with zipfile.ZipFile(path) as z:
            entries = {n: z.read(n) for n in z.namelist()}
        sheet_name = _first_sheet(entries)
        strings = _SI.findall(entries.get("xl/sharedStrings.xml", b"").decode("utf-8"))
        return cls(entries, sheet_name, entries[sheet_name].decode("utf-8"), strings)

    def text(self, attrs: str, body: str | None) -> str | None:
        body = body or ""
        if 't="s"' in attrs:
            v = re.search(r"<v>(\d+)</v>", body)
            return html.unescape("".join(_T.findall(self.strings[int(v.group(1))]))) if v else None
        if 't="inlineStr"' in attrs or 't="str"' in attrs:
            parts = _T.findall(body) or re.findall(r"<v>(.*?)</v>", body)
            return html.unescape("".join(parts))
        v = re.search(r"<v>(.*?)</v>", body)
        return v.group(1) if v else None

    def row_texts(self, row: int) -> dict[int, str | None]:
        match = re.search(rf'<row r="{row}"[^>]*?(?:/>|>(.*?)</row>)', self.sheet, re.S)
        if not match or not match.group(1):
            return {}
        return {col_number(m.group(1)): self.text(m.group(3), m.group(5)) for m in _CELL.finditer(match.group(1))}

    def header_row(self, spec: dict) -> int:
        """1-based row of the (last) header row: from header_rows, else the first row with two filled cells."""
        if spec.get("header_rows"):
            return int(spec.get("skip_rows") or 0) + int(spec["header_rows"])
        row = int(spec.get("skip_rows") or 0) + 1
        while sum(1 for t in self.row_texts(row).values() if t and t.strip()) < 2:
            row += 1
        return row

    def headers(self, spec: dict) -> dict[int, str]:
        return {c: t for c, t in self.row_texts(self.header_row(spec)).items() if t}

    def rename(self, row: int, renames: dict[str, str]) -> None:
        """Give header cells of `row` new text: each a new shared string, so no data cell changes with it."""
        def one(m: re.Match) -> str:
            if int(m.group(2)) != row:
                return m.group(0)
            old = self.text(m.group(3), m.group(5))
            if old not in renames:
                return m.group(0)
            self.strings.append(f'<t xml:space="preserve">{html.escape(renames[old], quote=False)}</t>')
            attrs = re.sub(r'\s*t="[^"]*"', "", m.group(3))
            return f'<c r="{m.group(1)}{m.group(2)}"{attrs} t="s"><v>{len(self.strings) - 1}</v></c>'

        self.sheet = _CELL.sub(one, self.sheet)

    def drop(self, columns: Iterable[int]) -> None:
        """Remove whole columns (1-based) and move the cells right of them left, as Excel's "delete column" does."""
        gone = sorted(set(columns))

        def shifted(col: int) -> int:
            return col - sum(1 for g in gone if g < col)

        def cell(m: re.Match) -> str:
            col = col_number(m.group(1))
            if col in gone:
                return ""
            return f'<c r="{col_letters(shifted(col))}{m.group(2)}"{m.group(3)}{m.group(4)}'

        def ref(m: re.Match) -> str:
            parts = []
            for part in m.group(2).split(":"):
                letters, digits = re.match(r"([A-Z]+)(\d+)", part).groups()  # type: ignore[union-attr]
                parts.append(f"{col_letters(max(1, shifted(col_number(letters))))}{digits}")
            return m.group(1) + ":".join(parts) + m.group(3)

        self.sheet = _REF.sub(ref, _CELL.sub(cell, self.sheet))
        self.sheet = re.sub(r'\s+spans="[^"]*"', "", self.sheet)  # row spans are a hint; stale ones mislead

    def write(self, path: Path) -> None:
        entries = dict(self.entries)
        entries[self.sheet_name] = self.sheet.encode("utf-8")
        if "xl/sharedStrings.xml" in entries:
            n = len(self.strings)
            body = "".join(f"<si>{s}</si>" for s in self.strings)
            head = entries["xl/sharedStrings.xml"].decode("utf-8").split("<sst", 1)[0]
            entries["xl/sharedStrings.xml"] = (
                f'{head}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                f'count="{n}" uniqueCount="{n}">{body}</sst>').encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in entries.items():
                z.writestr(name, data)


def _first_sheet(entries: dict[str, bytes]) -> str:
    workbook = entries["xl/workbook.xml"].decode("utf-8")
    rid = re.search(r'<sheet [^>]*r:id="([^"]+)"', workbook).group(1)  # type: ignore[union-attr]
    rels = entries["xl/_rels/workbook.xml.rels"].decode("utf-8")
    for rel in re.findall(r"<Relationship [^>]*/>", rels):
        if f'Id="{rid}"' in rel:
            target = re.search(r'Target="([^"]+)"', rel).group(1)  # type: ignore[union-attr]
            return target.lstrip("/") if target.startswith("/xl/") else "xl/" + target
    raise KeyError("first sheet not found")


# ---- headers of any file ----------------------------------------------------------------------------------


def headers_of(county: County, rel: str) -> list[str]:
    """The header names of a configured file, in file order, as they are written in it."""
    _, spec = entry_for(county.config, rel)
    path = county.path(rel)
    if path.suffix.lower() == ".xlsx":
        book = XlsxFile.read(path)
        return [t for _, t in sorted(book.headers(spec).items())]
    return [h for h in CsvFile.read(path).rows[_csv_header_index(spec)] if h]


def _rename_file(county: County, rel: str, renames: dict[str, str]) -> None:
    _, spec = entry_for(county.config, rel)
    path = county.path(rel)
    if path.suffix.lower() == ".xlsx":
        book = XlsxFile.read(path)
        book.rename(book.header_row(spec), renames)
        book.write(path)
        return
    table = CsvFile.read(path)
    i = _csv_header_index(spec)
    table.rows[i] = [renames.get(h, h) for h in table.rows[i]]
    table.write(path)


def _drop_from_file(county: County, rel: str, headers: Iterable[str]) -> None:
    _, spec = entry_for(county.config, rel)
    wanted = set(headers)
    path = county.path(rel)
    if path.suffix.lower() == ".xlsx":
        book = XlsxFile.read(path)
        cols = [c for c, t in book.headers(spec).items() if t in wanted]
        missing = wanted - {book.headers(spec)[c] for c in cols}
        if missing:
            raise KeyError(f"{rel} has no column {sorted(missing)}")
        book.drop(cols)
        book.write(path)
        return
    table = CsvFile.read(path)
    header = table.rows[_csv_header_index(spec)]
    idx = {j for j, h in enumerate(header) if h in wanted}
    if wanted - {header[j] for j in idx}:
        raise KeyError(f"{rel} has no column {sorted(wanted - {header[j] for j in idx})}")
    table.rows = [[v for j, v in enumerate(row) if j not in idx] for row in table.rows]
    table.write(path)


# ---- a. every header respelled ------------------------------------------------------------------------------

# How other counties write each header of the sample's files. Spellings come from ../shared/domain.md §2
# (national export, 2014 form, monitoring-era exports) and from what people type: 号/号码, 乡/乡镇, 名/名称,
# 是否/能否, units in brackets, spaces and line breaks inside a cell. Brackets are half-width in the files
# (the a2 config writes them full-width). Unmapped columns are respelled too, to names that mean nothing
# the engine reads. Line breaks only in workbook cells: a CSV header with one is rare.
RENAMES: dict[str, dict[str, str]] = {
    "国家系统导出.xlsx": {
        "省": "省份", "市": "市(州)", "县": "县(市、区)", "乡": "乡镇(街道)", "村": "村(社区)",
        "户编号": "贫困户编号", "人口编号": "人编号", "姓名": "家庭成员姓名", "性别": "性  别",
        "出生日期": "出生年月日", "证件号码": "公民身份号码", "与户主关系": "与户主的关系", "民族": "民  族",
        "文化程度": "文化\n程度", "在校生状况": "在校生情况", "健康状况": "健康\n状况", "劳动技能": "劳动能力",
        "务工状况": "务工情况",
        "是否参加城乡居民基本医疗保险": "是否参加新型农村合作医疗(城乡居民基本医疗保险)",
        "是否参加城乡居民基本养老保险": "参加城乡居民养老保险", "是否享受低保": "享受低保",
        "户主姓名": "户主", "户主证件号码": "户主身份证号码", "家庭人口数": "家庭人口数(人)",
        "贫困户属性": "户属性", "脱贫标志": "脱贫状态", "脱贫年度": "脱贫年份", "识别年度": "识别年份",
        "主要致贫原因": "致贫原因", "其他致贫原因": "次要致贫原因", "收入年度": "收入年份",
        "工资性收入": "工资性收入(元)", "生产经营性收入": "生产经营性收入(元)", "财产性收入": "财产性收入(元)",
        "转移性收入": "转移性收入(元)", "生产经营性支出": "生产经营费用支出(元)", "家庭纯收入": "家庭年纯收入(元)",
        "人均纯收入": "家庭年人均纯收入(元)", "危房级别": "危房等级", "饮水是否安全": "是否饮水安全",
        "帮扶责任人": "帮扶责任人姓名", "帮扶责任人证件号码": "帮扶责任人身份证号", "帮扶单位": "帮扶责任人单位",
        "帮扶措施": "享受帮扶措施", "监测对象类别": "监测对象类型", "风险是否消除": "风险是否已消除",
        "识别监测时间": "纳入监测时间", "风险消除时间": "消除监测时间",
    },
    "村级台账.csv": {
        "序号": "序  号", "乡镇": "乡(镇)", "村委会": "村名", "组": "村民小组", "户编号": "户码", "户主": "户主姓名",
        "身份证号": "户主身份证号码", "家庭人口": "家庭人口数(人)", "贫困户属性": "贫困属性", "脱贫状态": "贫困户状态",
        "脱贫时间": "脱贫年度", "监测对象类别": "监测户类型", "风险是否消除": "风险是否已消除",
        "风险消除时间": "风险消除年月", "致贫原因": "主要致贫原因", "收入年度": "收入所属年度",
        "工资性收入": "工资性收入(元)", "经营性收入": "家庭经营性收入(元)", "财产性收入": "财产性收入(元)",
        "转移性收入": "转移性收入(元)", "经营性支出": "生产经营性支出(元)", "家庭纯收入": "纯收入(元)",
        "人均纯收入": "人均纯收入(元)", "帮扶人": "结对帮扶人", "帮扶措施": "帮扶措施类型",
        "申请时间": "农户申请日期", "民主评议时间": "民主评议日期", "村公示时间": "村级公示日期",
        "乡镇公示时间": "乡公示日期", "县公告时间": "县级公告日期", "退出评议时间": "退出民主评议日期",
        "退出村公示时间": "退出村级公示日期", "退出乡镇公示时间": "退出乡公示日期",
        "退出县公告时间": "退出县级公告日期", "备注": "备  注", "更新日期": "更新时间",
    },
    "扶贫手册.xlsx": {
        "乡镇": "乡镇(街道)", "村": "行政村", "户编号": "贫困户编号", "户主姓名": "户主",
        "户主身份证号": "户主公民身份号码", "家庭人口": "家庭人数", "贫困户属性": "贫困户类型", "户状态": "脱贫标志",
        "脱贫年度": "脱贫时间", "主要致贫原因": "主要致贫\n原因", "其他致贫原因": "其他致贫\n原因",
        "收入年度": "收入年份", "工资性收入": "工资性收入(元)", "生产经营性收入": "家庭经营性收入",
        "财产性收入": "财产性收入(元)", "转移性收入": "转移性收入(元)", "生产经营性支出": "生产经营费用总支出",
        "家庭纯收入": "家庭纯收入(元)", "人均纯收入": "家庭人均纯收入(元)", "帮扶责任人": "帮扶干部",
        "帮扶单位": "帮扶人单位", "帮扶措施": "享受帮扶措施", "成员姓名": "家庭成员姓名", "性别": "性  别",
        "身份证号": "身份证号码", "与户主关系": "家庭关系", "出生日期": "出生年月", "民族": "民  族",
        "文化程度": "学历", "在校生状况": "在校学生", "健康状况": "健康情况", "劳动能力": "劳动技能",
        "填写日期": "填表日期",
    },
    "入户核查.csv": {
        "序号": "序  号", "乡镇": "乡镇(街道)", "村": "村(社区)", "户主姓名": "户主", "户主身份证号": "户主身份证号码",
        "户状态": "脱贫状态", "家庭实际人口": "家庭实际人口数(人)", "户籍人口": "户籍人口数", "明白卡人口": "明白卡人口数",
        "扶贫手册人口": "手册人口", "安全住房": "住房是否安全", "饮水安全": "是否饮水安全", "有辍学": "是否有辍学",
        "全员参保": "是否全员参保", "能说出帮扶干部": "能否说出帮扶干部姓名",
        "帮扶干部今年上门次数": "帮扶干部今年上门次数(次)", "人均纯收入": "人均纯收入(元)", "收入年度": "收入年份",
        "核查日期": "调查日期", "核查人": "核查人员",
    },
    "走访记录.csv": {
        "乡镇": "乡镇名称", "村": "村名称", "户编号": "户码", "户主姓名": "户主", "户主身份证号": "户主证件号码",
        "帮扶责任人": "帮扶人", "走访日期": "走访时间", "走访内容": "走访情况",
    },
    "部门数据/民政低保.csv": {
        "序号": "序  号", "姓名": "成员姓名", "身份证号": "身份证号码", "乡镇": "乡镇(街道)", "村": "村(社区)",
        "保障类别": "低保类别", "月保障金额": "月保障金额(元)", "审批日期": "批准日期",
    },
    "部门数据/民政特困.csv": {
        "姓名": "人员姓名", "公民身份号码": "身份证号", "乡镇（街道）": "乡(镇、街道)", "村（社区）": "村(居)委会",
        "供养方式": "特困供养方式", "审批时间": "审批日期",
    },
    "部门数据/残联残疾人.csv": {
        "姓名": "残疾人姓名", "性别": "性  别", "身份证号": "身份证号码", "残疾人证号": "残疾证号",
        "残疾类别": "残疾类型", "残疾等级": "残疾级别", "发证日期": "办证日期", "乡镇": "所在乡镇", "村": "所在村",
    },
    "部门数据/卫健大病慢病.csv": {
        "姓名": "患者姓名", "身份证号": "身份证号码", "病种": "疾病名称", "认定日期": "认定时间", "乡镇": "所在乡镇",
        "村": "所在村",
    },
    "部门数据/公安死亡注销.csv": {
        "姓名": "人员姓名", "公民身份号码": "身份证号码", "性别": "性  别", "死亡日期": "死亡时间",
        "注销原因": "户口注销原因", "注销日期": "注销时间", "乡镇": "乡镇(街道)", "村": "村(居)委会",
    },
    "部门数据/公安户籍.csv": {
        "户号": "户籍户号", "姓名": "姓  名", "公民身份号码": "身份证号", "与户主关系": "与户主的关系",
        "性别": "性  别", "出生日期": "出生年月日", "民族": "民  族", "乡镇": "乡(镇)", "村（居）委会": "村(居)委会",
    },
    "部门数据/财政供养人员.csv": {
        "姓名": "人员姓名", "身份证号": "公民身份号码", "工作单位": "单位名称", "人员类别": "人员身份",
    },
    "部门数据/车辆登记.csv": {
        "所有人": "机动车所有人", "身份证明号码": "证件号码", "号牌号码": "车牌号码", "车辆类型": "车辆种类",
        "初次登记日期": "初次登记时间",
    },
    "部门数据/商品房登记.csv": {
        "权利人": "权利人姓名", "证件号码": "权利人证件号码", "房屋坐落": "坐落", "房屋性质": "房屋用途",
        "建筑面积": "建筑面积(平方米)",
    },
    "部门数据/工商登记.csv": {
        "经营者": "经营者姓名", "身份证号": "经营者身份证号", "名称": "字号名称", "类型": "主体类型",
        "注册资本（万元）": "资金数额(万元)",
    },
    "部门数据/教育学籍.csv": {
        "学生姓名": "姓名", "身份证件号": "身份证号", "学校名称": "就读学校", "年级": "所在年级",
        "在校状态": "学籍状态", "户籍乡镇": "户籍所在乡镇", "户籍村": "户籍所在村",
    },
    "部门数据/医保参保.csv": {
        "姓名": "参保人姓名", "身份证号": "公民身份号码", "参保年度": "参保年份", "险种类型": "险种",
        "参保状态": "人员参保状态", "乡镇": "乡镇(街道)", "村": "村(社区)",
    },
    "部门数据/住建危房鉴定.csv": {
        "户主姓名": "户主", "户主身份证号": "户主身份证号码", "乡镇": "乡镇名称", "村": "村名", "鉴定等级": "危房等级",
        "鉴定日期": "鉴定时间",
    },
}

_FULL_WIDTH = str.maketrans({"(": "（", ")": "）"})


def full_width(header: str) -> str:
    """A header as written with full-width brackets, the way a config typed on a Chinese keyboard has it."""
    return header.translate(_FULL_WIDTH)


def renamed(county: County, columns: str = "remove", renames: dict[str, dict[str, str]] | None = None) -> County:
    """Every header respelled (RENAMES). `columns="remove"` (a1): no `columns:` anywhere, profile auto;
    `columns="full_width"` (a2): `columns:` keys rewritten to the new spellings with full-width brackets."""
    if columns not in ("remove", "full_width"):
        raise ValueError(columns)
    renames = RENAMES if renames is None else renames
    config = copy.deepcopy(county.config)
    for _, spec in file_entries(config):
        table = renames.get(spec["path"], {})
        if table:
            _rename_file(county, spec["path"], table)
        if columns == "remove":
            spec.pop("columns", None)
            spec["profile"] = "auto"
        else:
            spec["columns"] = {full_width(table.get(raw, raw)): target
                               for raw, target in (spec.get("columns") or {}).items()}
    return county.with_config(config)


# ---- b. the system export as a wrapped GB18030 CSV ------------------------------------------------------------


def _wrapped(value: str | None) -> str:
    return f'="{value or ""}"'


def wrapped_system_csv(county: County, key: str = "system", name: str = "国家系统导出.csv") -> County:
    """The system export saved the way county checkers save it for Excel: GB18030 CSV, the title row kept
    above the header, and every cell of the header and data rows written `="…"` (so Excel keeps IDs and
    codes as text). A value with a comma, quote or line break is CSV-quoted around the wrapper (its
    quotes doubled), the rest is written bare — both forms occur. Values are the text the reader takes from the
    workbook; the three ID cells the sample stores as Excel numbers become text like any other."""
    from reconcile.load.readers import read_table

    config = copy.deepcopy(county.config)
    spec = config["sources"][key]
    src = county.path(spec["path"])
    book = XlsxFile.read(src)
    header_row = book.header_row(spec)
    title = next((t for t in book.row_texts(1).values() if t), None) if header_row > 1 else None
    table = read_table(src, sheet=spec.get("sheet", 0), header_rows=spec.get("header_rows"),
                       skip_rows=spec.get("skip_rows", 0))
    frame = table.frame.select(table.headers)

    def line(cells: list[str]) -> str:
        out = []
        for cell in cells:
            if any(ch in cell for ch in ',\r\n') or cell.count('"') > 2:
                cell = '"' + cell.replace('"', '""') + '"'
            out.append(cell)
        return ",".join(out)

    lines = []
    if title:
        lines.append(line([_wrapped(title)] + [""] * (frame.width - 1)))
    lines.append(line([_wrapped(h) for h in table.headers]))
    lines += [line([_wrapped(v) for v in row]) for row in frame.iter_rows()]
    target = county.path(name)
    target.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    src.unlink()
    spec["path"] = name
    spec.pop("sheet", None)
    spec["encoding"] = "auto"
    return county.with_config(config)


# ---- c. columns taken out of one file ---------------------------------------------------------------------


def without_columns(county: County, rel: str, headers: Iterable[str]) -> County:
    """`headers` removed from file `rel`; the config is left as it was, so a `columns:` line may now name a
    column the file no longer has — what happens when next month's export drops or renames one."""
    _drop_from_file(county, rel, headers)
    return county.with_config(copy.deepcopy(county.config))


def field_of(config: dict, rel: str, header: str) -> tuple[str, str | None]:
    """(owner, canonical field) a header of file `rel` is mapped to in the config; field None when unmapped."""
    where, spec = entry_for(config, rel)
    return owner_of(where), (spec.get("columns") or {}).get(header)


def field_label(config: dict, rel: str, fld: str) -> str:
    """The Chinese label a person reads for canonical field `fld` of file `rel` (reconcile/schema.py)."""
    from reconcile.schema import VISIT_FIELDS, register_fields, source_fields

    where, spec = entry_for(config, rel)
    if where[0] == "sources":
        fields = source_fields(spec.get("role", where[1]), spec.get("level", "household"))
    elif where[0] == "registers":
        fields = register_fields(spec.get("kind", where[1]))
    else:
        fields = dict(VISIT_FIELDS)
    return fields[fld].label


# ---- d. a register at household level ----------------------------------------------------------------------


def register_by_household(county: County, key: str = "housing") -> County:
    """Register `key` as another county would configure it: no `columns:` (automatic recognition), so its
    head-ID column (户主身份证号) is read as what it is — the household head's ID — and there is no member
    ID column. This is the register that stopped a real county's run with exit 2 (issue 11)."""
    config = copy.deepcopy(county.config)
    spec = config["registers"][key]
    spec.pop("columns", None)
    spec["profile"] = "auto"
    return county.with_config(config)


def dibao_by_household(county: County, key: str = "dibao", hukou: str = "hukou") -> County:
    """The 低保 list as many 民政 offices keep it: one row per household, the head's name and ID, the number
    of people covered and the household's monthly amount — no member names or IDs. Households are the
    公安户籍 户号 of each listed person (its 户主, relation 02, is the head); a person not in the 户籍 register
    stands for a household of their own. No `columns:`: the headers say what they are."""
    config = copy.deepcopy(county.config)
    spec = config["registers"][key]
    people = _csv_frame(county.path(spec["path"]))
    persons = _csv_frame(county.path(config["registers"][hukou]["path"]))
    cols = spec["columns"]
    id_col = next(r for r, t in cols.items() if t == "id_number")
    name_col = next(r for r, t in cols.items() if t == "name")
    hk_cols = config["registers"][hukou]["columns"]
    hk_id = next(r for r, t in hk_cols.items() if t == "id_number")
    hk_no = next(r for r, t in hk_cols.items() if t == "hukou_no")
    hk_rel = next(r for r, t in hk_cols.items() if t == "relation")
    hk_name = next(r for r, t in hk_cols.items() if t == "name")
    heads = persons.filter(pl.col(hk_rel) == "02").select(
        pl.col(hk_no), pl.col(hk_name).alias("户主姓名"), pl.col(hk_id).alias("户主身份证号"))
    listed = people.join(persons.select(pl.col(hk_id).alias(id_col), hk_no), on=id_col, how="left")
    listed = listed.join(heads, on=hk_no, how="left").with_columns(
        pl.coalesce("户主姓名", name_col).alias("户主姓名"),
        pl.coalesce("户主身份证号", id_col).alias("户主身份证号"),
    )
    town = next(r for r, t in cols.items() if t == "township")
    village = next(r for r, t in cols.items() if t == "village")
    klass = next(r for r, t in cols.items() if t == "dibao_class")
    amount = next(r for r, t in cols.items() if t == "monthly_amount")
    approved = next(r for r, t in cols.items() if t == "approved_date")
    households = (
        listed.group_by("户主身份证号", maintain_order=True)
        .agg(
            pl.col("户主姓名").first(),
            pl.col(town).first().alias("乡镇"),
            pl.col(village).first().alias("村"),
            pl.col(klass).first().alias("保障类别"),
            pl.len().cast(pl.String).alias("保障人数"),
            pl.col(amount).cast(pl.Float64).sum().round(2).cast(pl.String).alias("月保障金额"),
            pl.col(approved).min().alias("审批日期"),
        )
        .select("户主姓名", "户主身份证号", "乡镇", "村", "保障类别", "保障人数", "月保障金额", "审批日期")
    )
    original = CsvFile.read(county.path(spec["path"]))
    original.rows = [households.columns, *[list(r) for r in households.iter_rows()]]
    original.write(county.path(spec["path"]))
    spec.pop("columns", None)
    spec["profile"] = "auto"
    return county.with_config(config)


def _csv_frame(path: Path) -> pl.DataFrame:
    table = CsvFile.read(path)
    header, *rows = table.rows
    return pl.DataFrame([r + [""] * (len(header) - len(r)) for r in rows], schema=header, orient="row")


# ---- e. a source left out -----------------------------------------------------------------------------------


def without_source(county: County, key: str) -> County:
    """Source `key` (or "visits") not configured and its file gone, as when a county has no such file."""
    config = copy.deepcopy(county.config)
    if key == "visits":
        spec = config.pop("visits")
    elif key in (config.get("sources") or {}):
        spec = config["sources"].pop(key)
    else:
        spec = config["registers"].pop(key)
    county.path(spec["path"]).unlink()
    return county.with_config(config)


# ---- running and comparing -----------------------------------------------------------------------------------

FINDING_COLUMNS = ["rule_id", "finding_id", "kind", "cluster_id", "hh_code", "head_id", "person_id", "person_name",
                   "message"]


@dataclass
class Outcome:
    """What a run up to the check stage produced, or the error that stopped it."""

    findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={c: pl.String for c in FINDING_COLUMNS}))
    plan_rule: pl.DataFrame | None = None
    plan_field: pl.DataFrame | None = None
    rule_run: pl.DataFrame | None = None
    error: ReconcileError | None = None
    plan_file: pl.DataFrame | None = None

    def left_out(self) -> set[str]:
        """Owners (source keys, register keys, visits) of the files the run plan did not use."""
        if self.plan_file is None:
            return set()
        return set(self.plan_file.filter(pl.col("usage") == "excluded")["owner"])

    def ids(self) -> set[tuple[str, str]]:
        return set(self.findings.select("rule_id", "finding_id").iter_rows())


def run_checks(county: County) -> Outcome:
    """load → … → check on an in-memory database (no ledger, reports or saved database: a lean run)."""
    from reconcile.db import connect, query_frame
    from reconcile.pipeline import run_county_stages, stage_runner

    try:
        config = county.load()
    except ReconcileError as exc:
        return Outcome(error=exc)
    con = connect()
    try:
        with tempfile.TemporaryDirectory(dir=county.folder) as work:
            run_county_stages(con, config, Path(work), stage_runner({}, None))
    except ReconcileError as exc:
        return Outcome(error=exc)
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}

    def table(name: str) -> pl.DataFrame | None:
        return query_frame(con, f"select * from {name}") if name in tables else None

    findings = query_frame(con, f"select {', '.join(FINDING_COLUMNS)} from finding")
    outcome = Outcome(findings, table("plan_rule"), table("plan_field"), table("rule_run"),
                      plan_file=table("plan_file"))
    con.close()
    return outcome


@dataclass
class Diff:
    same_id: int  # findings with the same (rule_id, finding_id)
    same_entity: int  # matched only by rule and entity (the fingerprint's displayed code changed)
    added: pl.DataFrame
    lost: pl.DataFrame

    def summary(self) -> str:
        return (f"same id {self.same_id}, same rule+entity {self.same_entity}, "
                f"added {self.added.height}, lost {self.lost.height}")


def _same_entity(a: dict, b: dict) -> bool:
    household = any(a[k] is not None and a[k] == b[k] for k in ("hh_code", "head_id"))
    if not household:
        return False
    if a["person_id"] is None and a["person_name"] is None and b["person_id"] is None and b["person_name"] is None:
        return True
    return any(a[k] is not None and a[k] == b[k] for k in ("person_id", "person_name"))


def compare(baseline: pl.DataFrame, variant: pl.DataFrame) -> Diff:
    """Match findings by (rule_id, finding_id) first; the rest one to one by rule and entity.

    finding_id fingerprints rule + household code (else head ID) + person + key, where the household code is
    the one shown for the household — the most trusted source's that has one. Taking a column out of one file
    can change which source's code is shown (the system's 户编号 gone, the archive's is used) without
    changing what is found, so an unmatched pair that names the same household (same code or same head ID)
    and the same person (ID, else name) under the same rule is the same finding. Evidence is not compared:
    it legitimately loses the value of the source that lost its column. The person is the same by ID or by
    name: the ID shown for a person is also the most trusted source's, and a source gone can leave only a
    damaged one (an ID Excel stored as a number) to show."""
    keys = ["rule_id", "finding_id"]
    same = variant.join(baseline, on=keys, how="semi")
    rest_v = variant.join(baseline, on=keys, how="anti").to_dicts()
    rest_b = baseline.join(variant, on=keys, how="anti").to_dicts()
    matched_b: set[int] = set()
    added = []
    for v in rest_v:  # only findings whose fingerprint moved, a handful: pairing them one by one is cheap
        hit = next((i for i, b in enumerate(rest_b)
                    if i not in matched_b and b["rule_id"] == v["rule_id"] and _same_entity(v, b)), None)
        if hit is None:
            added.append(v)
        else:
            matched_b.add(hit)
    lost = [b for i, b in enumerate(rest_b) if i not in matched_b]
    schema = {c: pl.String for c in FINDING_COLUMNS}
    return Diff(same.height, len(matched_b), pl.DataFrame(added, schema=schema), pl.DataFrame(lost, schema=schema))


def in_truth(findings: pl.DataFrame, truth_dir: Path | None = None) -> pl.DataFrame:
    """`findings` with a column `true`: the ground truth of the sample lists the problem (same kind, same
    household by code or head ID, same person by ID or name where the truth names one)."""
    truth = pl.read_csv((truth_dir or sample_dir() / "truth") / "findings.csv", infer_schema=False).select(
        "kind", pl.col("hh_code").alias("t_hh"), pl.col("head_id").alias("t_head"),
        pl.col("person_id").alias("t_pid"), pl.col("person_name").alias("t_pname")).unique()
    indexed = findings.with_row_index("_i")
    pairs = indexed.join(truth, on="kind").filter(
        ((pl.col("hh_code") == pl.col("t_hh")) | (pl.col("head_id") == pl.col("t_head"))).fill_null(False)
        & (pl.col("t_pid").is_null() | (pl.col("person_id") == pl.col("t_pid")).fill_null(False)
           | (pl.col("person_name") == pl.col("t_pname")).fill_null(False)))
    hit = set(pairs["_i"].to_list())
    return indexed.with_columns(pl.col("_i").is_in(list(hit)).alias("true")).drop("_i")


STEM = re.compile(r"(日期|时间)$")


def mentions(text: str, label: str) -> bool:
    """Does a plan reason name this field? Its label, or the label without 日期/时间 when what is left still
    says which date it is ("村级公示" for 村级公示日期: how a list of procedure dates is written)."""
    stem = STEM.sub("", label)
    return label in text or (len(stem) >= 3 and stem in text)


PROVIDED_STATUSES = ("explicit", "synonym", "similar", "derived")


def plan_explains(plan_rule: pl.DataFrame, rule_ids: Iterable[str], words: Iterable[str]) -> list[str]:
    """Rules among `rule_ids` the plan does not explain: not partial/skipped, or no reason naming one of `words`.

    The reason is whatever the plan says in Chinese about the rule: `reason` and, where the table has it,
    `unchecked` (what a partial rule could not check)."""
    words = [w for w in words if w]
    text_cols = [c for c in ("reason", "unchecked") if c in plan_rule.columns]
    by_rule = {r["rule_id"]: r for r in plan_rule.to_dicts()}
    bad = []
    for rule_id in sorted(set(rule_ids)):
        row = by_rule.get(rule_id)
        if row is None:
            bad.append(f"{rule_id}: 计划中没有这条规则")
            continue
        text = " ".join(str(row[c] or "") for c in text_cols)
        if row["status"] not in ("partial", "skipped") or not any(mentions(text, w) for w in words):
            bad.append(f"{rule_id}: status={row['status']} reason={text.strip()!r} (应提到 {'/'.join(words)})")
    return bad


def describe(findings: pl.DataFrame, limit: int = 8) -> str:
    """A few findings as lines for an assertion message, each marked whether the ground truth lists it."""
    if findings.height == 0:
        return " (none)"
    marked = in_truth(findings)
    rows = marked.head(limit).select("true", "rule_id", "hh_code", "head_id", "person_name", "message").iter_rows()
    more = f"\n  … and {findings.height - limit} more" if findings.height > limit else ""
    return "".join(f"\n  {r}" for r in rows) + more


VariantFn = Callable[[County], County]
