"""Answers to findings on the web page (issue 17): one typed into a row of the findings page, or the township
workbooks sent back filled in, uploaded on the results page.

Both are checked and applied as `reconcile ledger import` does (`ledger_import.web_answer`, `read_answers`,
`apply_answers`: every answer checked, the valid ones in one transaction, each refusal with its reason), into
the workspace's ledger — out/reconcile.duckdb, which the next run carries over. Never while a run is starting
or running (it would replace that file with its own copy, without the answers: `runner.hold_ledger`), nor while
anything else holds the output folder (`outputs.output_lock`, as the CLI's import takes it). Returned
workbooks are read in a child process (`worker.import_answers`): a hostile .xlsx ends that process, not the
server.

What happened is said in Chinese, kept in the workspace's state as a message for the page the person comes
back to (`flash`, `take`), with the answer as typed when it was refused so the form can show it again.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from pathlib import Path

from ..clock import now
from ..errors import InputError, ReconcileError
from ..ledger import VERDICT_LABELS, VERDICTS
from ..outputs import output_lock
from . import access, runner, worker
from .upload import Received
from .workspace import Workspace, display_name

log = logging.getLogger("reconcile.web")

WEB_BY = "网页"  # the answerer recorded when the form names no 责任人
IMPORT_BY = "网页导入"  # the importer recorded for a returned workbook's rows without a 责任人
MAX_NOTE = 1000
MAX_RESPONSIBLE = 50
MAX_FINDING_ID = 100
RETURN_SUFFIXES = (".xlsx", ".xlsm", ".xls")  # what fastexcel reads; WPS may save a returned report as .xls
RETURNS = "returns"  # the workspace's folder of returned workbooks, under generated names r<N>.<ext>
MAX_RETURNS = 200  # returned workbooks kept per workspace: past it the oldest go (their import stays recorded)
MAX_LINES = 300  # applied / unchanged / refused lines kept per message
FLASH = "answer_flash"  # the state key of messages waiting for the results or findings page
_ANCHOR = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

BUSY = "本工作区正在核查(或正在写入其他答复),答复没有记录:请等核查结束后再提交,之前填写的内容仍在下面。"
LOCKED = ("本工作区的核查结果正被另一个程序使用(例如在运行 reconcile serve 的电脑上用命令行对同一文件夹运行核查或导入),"
          "答复没有记录:请等它结束后再提交。")
BUSY_IMPORT = "本工作区正在核查(或正在写入其他答复):请等核查结束后再导入。"
LOCKED_IMPORT = ("本工作区的核查结果正被另一个程序使用(例如在运行 reconcile serve 的电脑上用命令行对同一文件夹运行核查或导入):"
                 "请等它结束后再导入。")
UNREADABLE = "整改台账暂时无法写入(可能正被其他程序打开),答复没有记录:请稍后再提交。"
NO_LEDGER = "还没有整改台账:请先运行一次核查。"


def anchor(finding_id: str | None) -> str:
    """The findings row of `finding_id` (`#a-<id>`), when the id is one a row can carry."""
    return f"#a-{finding_id}" if finding_id and _ANCHOR.match(finding_id) else ""


def back_to(ws: Workspace, target: str | None) -> str:
    """Where to go after an answer: this workspace's findings or results page, nothing else."""
    path = access.safe_next(target, f"/w/{ws.id}/findings")
    if not path.startswith((f"/w/{ws.id}/findings", f"/w/{ws.id}/results")):
        path = f"/w/{ws.id}/findings"
    return path.split("#", 1)[0]


def flash(ws: Workspace, message: dict) -> None:
    with ws.edit() as state:
        state.setdefault(FLASH, []).append(message)


def take(ws: Workspace) -> list[dict]:
    """The messages waiting for this page, removed (state.json is written only when there are some)."""
    with ws.lock:
        state = ws.state()
        messages = state.get(FLASH) or []
        if messages:
            state[FLASH] = []
            ws.save(state)
    return [m for m in messages if isinstance(m, dict)]


def _message(kind: str, text: str, finding_id: str | None = None, values: dict | None = None,
             lines: list[str] | None = None) -> dict:
    return {"kind": kind, "text": text, "finding_id": finding_id, "values": values, "lines": (lines or [])[:MAX_LINES]}


def _lines(prefix: str, items: list, total: int) -> list[str]:
    shown = [f"{prefix}{item}" for item in items[:MAX_LINES]]
    if total > MAX_LINES:
        shown.append(f"(另有 {total - MAX_LINES} 条未列出)")
    return shown


# ---- one answer typed on the findings page -------------------------------------------------------------

def answer_one(ws: Workspace, form: dict[str, str]) -> dict:
    """Check and apply the answer of one findings row; the message says what happened."""
    from ..ledger_import import apply_answers, web_answer

    finding_id = (form.get("finding_id") or "").strip()
    label = (form.get("verdict") or "").strip()
    note, responsible, deadline = (form.get(k) or "" for k in ("note", "responsible", "deadline"))
    values = {"verdict": label, "note": note, "responsible": responsible, "deadline": deadline}

    def refused(reason: str) -> dict:
        return _message("error", f"没有记入整改台账:{reason}", finding_id, values)

    if not finding_id or len(finding_id) > MAX_FINDING_ID:
        return refused("缺少问题编号:请在问题清单中对应问题的行里填写。")
    if not label:
        return refused(f"请选择核实结果({' / '.join(VERDICTS)})。")
    if len(note) > MAX_NOTE:
        return refused(f"说明太长(最多 {MAX_NOTE} 字)。")
    if len(responsible.strip()) > MAX_RESPONSIBLE:
        return refused(f"责任人太长(最多 {MAX_RESPONSIBLE} 字)。")
    answer, why = web_answer(finding_id, label, note, responsible, deadline, ws.id[:8])
    if answer is None:
        return refused(f"{why}。")
    ledger = ws.out / "reconcile.duckdb"
    if not ledger.exists():
        return refused(NO_LEDGER)
    if not runner.hold_ledger(ws):
        return refused(BUSY)
    try:
        with output_lock(ws.out), ws.db_lock:
            try:
                report = apply_answers(ledger, [answer], answer.responsible or WEB_BY, now())
            except ReconcileError as exc:  # the ledger could not be opened: said plainly, the detail logged
                log.warning("workspace %s: answer not applied: %s", ws.id[:8], exc)
                return refused(UNREADABLE)
    except InputError:  # output_lock: a CLI run or import holds the folder
        return refused(LOCKED)
    finally:
        runner.release_ledger(ws)
    if report.refused:
        reason = report.refused[0].removeprefix(f"{answer.place}: ")
        return refused(reason if reason.endswith(("。", ")", ")")) else f"{reason}。")
    shown = f"核实结果“{label}”" + (f",整改期限 {answer.deadline.isoformat()}" if answer.deadline else "")
    if report.unchanged:
        return _message("ok", f"与整改台账中已有的答复相同({shown}),没有改动。", finding_id)
    then = ("状态改为“核实无误”,计入整改率;下次核查时各来源的记录不变就保持核实无误,记录变了则核实失效,需要重新核实。"
            if answer.verdict == "verified" else
            "状态改为“整改中”;数据改正后,下次核查时问题消失即销号。")
    return _message("ok", f"已记入整改台账:{shown}。{then}", finding_id)


# ---- returned township workbooks -----------------------------------------------------------------------

def _store(ws: Workspace, parts: list[Received]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Move the uploaded workbooks into returns/ under generated names; (stored path, the person's name) of
    each taken, and the refusals of the others."""
    taken: list[tuple[Path, str]] = []
    refused: list[str] = []
    folder = ws.folder / RETURNS
    with ws.edit() as state:
        records = state.setdefault("returns", [])
        for part in parts:
            name = display_name(part.name)
            suffix = Path(name).suffix.lower()
            if suffix not in RETURN_SUFFIXES:
                part.path.unlink(missing_ok=True)
                refused.append(f"「{name}」不是 Excel 工作簿:请上传乡镇填写后交回的核查报告(.xlsx)。")
                continue
            n = int(state.get("next_return") or 1)
            state["next_return"] = n + 1
            folder.mkdir(exist_ok=True)
            stored = folder / f"r{n}{suffix}"
            os.replace(part.path, stored)
            records.append({"n": n, "name": name, "stored": stored.name, "size": part.size,
                            "uploaded": datetime.now().strftime("%Y-%m-%d %H:%M"), "result": None})
            taken.append((stored, name))
        while len(records) > MAX_RETURNS:
            (folder / str(records.pop(0).get("stored", ""))).unlink(missing_ok=True)
    return taken, refused


def _record(ws: Workspace, stored: list[Path], result: str) -> None:
    names = {p.name for p in stored}
    with ws.edit() as state:
        for record in state.get("returns") or []:
            if record.get("stored") in names:
                record["result"] = result


def import_returned(ws: Workspace, parts: list[Received]) -> dict:
    """Store the uploaded workbooks, read their answer columns in a child process and apply them to the ledger."""
    files, not_excel = _store(ws, parts)
    if not files:
        return _message("error", "没有导入:" + ("".join(not_excel) if not_excel else
                                                 "请先点“选择文件”,选好乡镇交回的核查报告后再点“导入”。"))
    ledger = ws.out / "reconcile.duckdb"
    stored = [p for p, _ in files]
    if not ledger.exists():
        _record(ws, stored, "没有导入")
        return _message("error", f"没有导入:{NO_LEDGER}", lines=not_excel)
    if not runner.hold_ledger(ws):
        _record(ws, stored, "没有导入")
        return _message("error", f"没有导入:{BUSY_IMPORT}", lines=not_excel)
    try:
        with output_lock(ws.out), ws.db_lock:
            outcome = worker.import_answers(ledger, files, IMPORT_BY, now().isoformat(), ws.tmp, ws.folder)
    except InputError:
        outcome = {"event": "failed", "kind": "locked"}
    finally:
        runner.release_ledger(ws)
    if outcome.get("event") != "done" or not isinstance(outcome.get("report"), dict):
        _record(ws, stored, "没有导入")
        return _message("error", "没有导入,整改台账没有改动:" + _failure(ws, outcome), lines=not_excel)
    report = outcome["report"]
    applied, unchanged = report["applied"], report["unchanged"]
    refused = [*not_excel, *(ws.friendly(str(line), files=[]) for line in report["refused"])]
    _record(ws, stored, f"导入 {len(applied)} 条,未变 {len(unchanged)} 条,拒绝 {len(refused)} 条")

    def said(a: dict) -> str:
        label = VERDICT_LABELS.get(a["verdict"], a["verdict"])
        return f"{a['place']}:问题编号 {a['finding_id']} 记为“{label}”" + \
            (f",整改期限 {a['deadline']}" if a.get("deadline") else "")

    lines = (_lines("拒绝:", refused, len(refused)) + _lines("导入:", [said(a) for a in applied], len(applied))
             + _lines("未变:", [said(a) for a in unchanged], len(unchanged)))
    text = (f"已导入 {len(applied)} 条答复;与台账相同未变 {len(unchanged)} 条;拒绝 {len(refused)} 条"
            f"({'、'.join(name for _, name in files)})。")
    if refused:
        text += "被拒绝的行没有写入台账,请按原因改正后再导入(已导入的不会重复计入)。"
    return _message("warn" if refused else "ok", text, lines=lines[:MAX_LINES * 3])


def _failure(ws: Workspace, outcome: dict) -> str:
    kind = outcome.get("kind")
    if kind == "locked":
        return LOCKED_IMPORT
    if kind == "crashed":
        return (f"读取交回的报告时,读取程序{outcome.get('error') or '异常退出'}。文件可能已损坏,或其中声明的表格范围、"
                "内容大得不合常理:请在 Excel/WPS 中打开核对后另存为新的 .xlsx 再上传。")
    if kind == "input":
        return ws.friendly(str(outcome.get("error") or ""))
    log.error("workspace %s: importing answers failed: %s", ws.id[:8], outcome.get("error"))
    return (f"程序内部错误({outcome.get('error')})。请把这段文字和运行 reconcile serve 的窗口中显示的内容"
            "一起反馈给技术人员。")
