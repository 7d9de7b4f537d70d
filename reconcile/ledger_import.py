"""`reconcile ledger import CONFIG 文件.xlsx …`: the townships' answers read back into the ledger (issue 17).

A township fills four columns of its workbook's 问题台账 — 核实结果 (已整改 / 核实无误 / 整改中 / 无法整改), 说明,
责任人, 整改期限 — keyed by the 问题编号 (finding_id) in the same row. Every row of every file is checked first; the
rows that pass are applied in one transaction and recorded (who, when, from which file/sheet/row, and the
finding's evidence at that moment); the others are refused, each with a Chinese reason naming file, sheet and
row. Importing the same answers again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from .errors import InputError
from .ledger import VERDICTS, ensure_ledger_schema, evidence_as_seen

ID_HEADER = "问题编号"
# the answer columns as the workbook titles them (report/sheets.py writes them from here)
ANSWER_HEADERS = {"verdict": "核实结果(乡镇填写)", "note": "说明(乡镇填写)", "responsible": "责任人(乡镇填写)",
                  "deadline": "整改期限(乡镇填写)"}
HEADER_SCAN_ROWS = 15  # the header row sits under a title and notes
MAX_ANSWER_FILE_BYTES = 100 * 2**20
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S")


@dataclass
class Answer:
    file: str
    sheet: str
    row: int  # as Excel numbers it
    finding_id: str
    verdict: str  # code (VERDICTS)
    note: str | None
    responsible: str | None
    deadline: date | None

    @property
    def place(self) -> str:
        if not self.row:  # typed on the web page
            return f"{self.file}(工作区 {self.sheet})"
        return f"{self.file} 工作表“{self.sheet}”第 {self.row} 行"

    def same_as(self, other: Answer) -> bool:
        return (self.verdict, self.note, self.responsible, self.deadline) == \
            (other.verdict, other.note, other.responsible, other.deadline)


@dataclass
class ImportReport:
    applied: list[Answer] = field(default_factory=list)
    unchanged: list[Answer] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one Chinese line each: file, sheet, row, reason
    files: list[str] = field(default_factory=list)
    import_id: int | None = None


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def parse_deadline(text: str | None) -> date | None:
    """A date as a township types it (2026-12-31, 2026/12/31, 2026年12月31日, 20261231) or an Excel serial number;
    ValueError when it is none of these."""
    if text is None:
        return None
    value = text.strip()
    if re.fullmatch(r"\d{5}(\.0+)?", value):  # an Excel date serial (1900 system) read as a number
        return date(1899, 12, 30) + timedelta(days=int(float(value)))
    value = re.sub(r" 00:00:00$", "", value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


def read_answers(path: Path, refused: list[str]) -> list[Answer]:
    """Every answered row of every sheet of `path` that has a 问题编号 column and the answer columns."""
    import fastexcel

    if not path.exists():
        raise InputError(f"找不到文件 {path}")
    if path.stat().st_size > MAX_ANSWER_FILE_BYTES:
        raise InputError(f"{path.name} 超过 {MAX_ANSWER_FILE_BYTES // 2**20} MB,不是本工具写出的乡镇报告")
    from .load.xlsx_guard import check_sheet, is_zip_workbook, workbook_sheets

    if not is_zip_workbook(path):
        raise InputError(f"{path.name} 不是 Excel 工作簿(.xlsx):请交回本工具写出并由乡镇填写后的报告")
    for ref in workbook_sheets(path):  # a hostile workbook is refused before the reader allocates for it
        check_sheet(path, ref)
    try:
        book = fastexcel.read_excel(path)
    except Exception as exc:  # noqa: BLE001 (the reader's own error text is not for people)
        raise InputError(f"{path.name} 不是可以读取的 Excel 工作簿(.xlsx):请上传本工具写出并由乡镇填写后的报告") from exc
    answers: list[Answer] = []
    found_sheet = False
    for sheet in book.sheet_names:
        grid = book.load_sheet_by_name(sheet, header_row=None, dtypes="string").to_polars()
        header_at = next((i for i, row in enumerate(grid.head(HEADER_SCAN_ROWS).iter_rows())
                          if ID_HEADER in row and ANSWER_HEADERS["verdict"] in row), None)
        if header_at is None:
            continue
        found_sheet = True
        header = list(grid.row(header_at))
        index = {key: header.index(title) for key, title in ANSWER_HEADERS.items() if title in header}
        missing = [ANSWER_HEADERS[k] for k in ANSWER_HEADERS if k not in index]
        if missing:
            refused.append(f"{path.name} 工作表“{sheet}”: 缺少列 {'、'.join(missing)}(请勿删除或改名乡镇填写的列)")
            continue
        id_col = header.index(ID_HEADER)
        for offset, row in enumerate(grid.slice(header_at + 1).iter_rows()):
            excel_row = header_at + offset + 2  # 1-based, under the header
            cells = {k: _text(row[i]) for k, i in index.items()}
            finding_id = _text(row[id_col])
            if not any(cells.values()):
                continue  # not answered
            where = f"{path.name} 工作表“{sheet}”第 {excel_row} 行"
            if finding_id is None:
                refused.append(f"{where}: 填写了核实结果,但问题编号为空(请勿删改问题编号列)")
                continue
            label = cells["verdict"]
            if label is None:
                refused.append(f"{where}: 填写了说明/责任人/期限,但核实结果为空:请从下拉列表中选择")
                continue
            if label not in VERDICTS:
                refused.append(f"{where}: 核实结果“{label}”不是可选值({' / '.join(VERDICTS)})")
                continue
            try:
                deadline = parse_deadline(cells["deadline"])
            except ValueError:
                refused.append(f"{where}: 整改期限“{cells['deadline']}”不是日期(例如 2026-12-31)")
                continue
            verdict = VERDICTS[label]
            if verdict == "in_progress" and deadline is None:
                refused.append(f"{where}: 核实结果为“整改中”时须填写整改期限")
                continue
            if verdict == "verified" and not cells["note"]:
                refused.append(f"{where}: 核实结果为“核实无误”时须在说明中写明核实依据")
                continue
            answers.append(Answer(path.name, sheet, excel_row, finding_id, verdict, cells["note"],
                                  cells["responsible"], deadline))
    if not found_sheet:
        refused.append(f"{path.name}: 没有含“{ID_HEADER}”和“{ANSWER_HEADERS['verdict']}”列的工作表"
                       "(应为本工具按乡镇写出的报告 --split-by township,由乡镇填写后交回)")
    return answers


def import_answers(ledger: Path, files: list[Path], answered_by: str | None, now: datetime,
                   fail_after: int | None = None) -> ImportReport:
    """Check every answer in `files` against the ledger file `ledger` and apply the valid ones in one
    transaction. `fail_after` (tests) raises after that many rows were written, inside the transaction."""
    refused: list[str] = []
    answers: list[Answer] = []
    for path in files:
        answers += read_answers(path, refused)
    return apply_answers(ledger, answers, answered_by, now, files=files, refused=refused, fail_after=fail_after)


def web_answer(finding_id: str, label: str, note: str | None, responsible: str | None,
               deadline: str | None, workspace: str) -> tuple[Answer | None, str | None]:
    """One answer typed on the web page, checked as an imported row is: (answer, None) or (None, why not)."""
    where = "网页"
    if label not in VERDICTS:
        return None, f"核实结果“{label}”不是可选值({' / '.join(VERDICTS)})"
    try:
        when = parse_deadline(_text(deadline))
    except ValueError:
        return None, f"整改期限“{deadline}”不是日期(例如 2026-12-31)"
    verdict = VERDICTS[label]
    if verdict == "in_progress" and when is None:
        return None, "核实结果为“整改中”时须填写整改期限"
    if verdict == "verified" and not _text(note):
        return None, "核实结果为“核实无误”时须在说明中写明核实依据"
    return Answer(where, workspace, 0, finding_id, verdict, _text(note), _text(responsible), when), None


def apply_answers(ledger: Path, answers: list[Answer], answered_by: str | None, now: datetime,
                  files: Sequence[Path] = (), refused: Sequence[str] = (),
                  fail_after: int | None = None) -> ImportReport:
    """Check `answers` (from files or the web page) against the ledger and apply the valid ones in one
    transaction; the report says what was applied, unchanged and refused."""
    report = ImportReport(files=[p.name for p in files], refused=list(refused))
    if not ledger.exists():
        raise InputError(f"找不到台账文件 {ledger}:请先运行 reconcile run")
    try:
        con = duckdb.connect(str(ledger), config={"autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False})
    except duckdb.Error as exc:
        raise InputError(f"无法打开台账文件 {ledger}(可能正被其他程序使用):{exc}") from exc
    try:
        ensure_ledger_schema(con)
        current = {r[0]: r[1:] for r in con.execute(
            "select finding_id, status, verdict, verdict_note, responsible, deadline from finding_ledger").fetchall()}
        valid = _check(answers, current, report)
        if valid:
            _apply(con, valid, list(files), answered_by, now, report, fail_after)
    finally:
        con.close()
    return report


def _check(answers: list[Answer], current: dict[str, tuple], report: ImportReport) -> list[Answer]:
    by_finding: dict[str, list[Answer]] = {}
    for answer in answers:
        by_finding.setdefault(answer.finding_id, []).append(answer)
    valid = []
    for finding_id, group in by_finding.items():
        first = group[0]
        if any(not a.same_as(first) for a in group[1:]):
            places = ";".join(a.place for a in group)
            report.refused.append(f"问题编号 {finding_id} 有 {len(group)} 个不同的答复({places}):请只保留一个后重新导入")
            continue
        if finding_id not in current:
            report.refused.append(f"{first.place}: 问题编号 {finding_id} 不在本县的问题台账中(是否来自其他县或被改动?)")
            continue
        status, verdict, note, responsible, deadline = current[finding_id]
        if status == "resolved":
            report.refused.append(f"{first.place}: 问题编号 {finding_id} 已销号(数据已整改),无需再答复")
            continue
        if (verdict, note, responsible, deadline) == (first.verdict, first.note, first.responsible, first.deadline):
            report.unchanged.append(first)
            continue
        valid.append(first)
    return valid


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _apply(con: duckdb.DuckDBPyConnection, valid: list[Answer], files: list[Path], answered_by: str | None,
           now: datetime, report: ImportReport, fail_after: int | None) -> None:
    frame = pl.DataFrame([{"finding_id": a.finding_id, "verdict": a.verdict, "note": a.note,
                           "responsible": a.responsible, "deadline": a.deadline,
                           "source": a.place} for a in valid],
                         schema={"finding_id": pl.String, "verdict": pl.String, "note": pl.String,
                                 "responsible": pl.String, "deadline": pl.Date, "source": pl.String})
    con.execute("begin transaction")
    try:
        import_id = con.execute("select coalesce(max(import_id), 0) + 1 from ledger_import").fetchall()[0][0]
        con.register("_answers", frame.to_arrow())
        con.execute("""
            insert into finding_answer
            select (select coalesce(max(answer_id), 0) from finding_answer) + row_number() over (order by a.finding_id),
                   a.finding_id, a.verdict, a.note, a.responsible, a.deadline, $now, coalesce(a.responsible, $by),
                   a.source, l.evidence, $import
            from _answers a join finding_ledger l using (finding_id)""",
                    {"now": now, "by": answered_by or "", "import": import_id})
        if fail_after is not None:
            raise RuntimeError(f"stopped after {fail_after} rows (test)")
        con.execute("""
            update finding_ledger l set
                verdict = a.verdict, verdict_note = a.note, responsible = a.responsible, deadline = a.deadline,
                verdict_at = $now, verdict_by = coalesce(a.responsible, $by), verdict_evidence = l.evidence,
                status = case when a.verdict = 'verified' then 'verified' else 'in_progress' end
            from _answers a where a.finding_id = l.finding_id""", {"now": now, "by": answered_by or ""})
        con.execute("insert into ledger_import values ($id, $now, $files, $digests, $applied, $unchanged, $refused)",
                    {"id": import_id, "now": now, "files": "、".join(p.name for p in files) or "网页",
                     "digests": [_digest(p) for p in files], "applied": len(valid),
                     "unchanged": len(report.unchanged), "refused": len(report.refused)})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_answers")
    report.applied = valid
    report.import_id = import_id


def answer_history(con: duckdb.DuckDBPyConnection, finding_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A finding's runs (status and evidence each time) and its answers, oldest first."""
    from .db import query_frame

    runs = query_frame(con, f"""
        select h.run_id, r.started_at, h.status, h.evidence
        from (select run_id, status, {evidence_as_seen()} as evidence from finding_history where finding_id = $id) h
        join run r using (run_id) order by h.run_id""", {"id": finding_id})
    answers = query_frame(con, """
        select answered_at, answered_by, verdict, note, responsible, deadline, source, evidence
        from finding_answer where finding_id = $id order by answer_id""", {"id": finding_id})
    return runs, answers
