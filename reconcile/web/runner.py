"""Runs: the pipeline's `run(config, on_stage=…)` in a child process (`worker`), one at a time per workspace.

The page polls `status()` (JSON) while the stages tick by; when the run ends, `status.json` in the
workspace records it — the summary of a finished run (`report.summary.summary_dict`), or the Chinese
message of a `ReconcileError` exactly as the CLI prints it, with the workspace's internal file names
replaced by the person's own file names.

One run per workspace: `claim` marks the workspace busy before anything of the run is laid out (so a
second 开始核查 — a double click, a second tab — neither starts a second run nor removes the first one's
files in run/), `start` hands the claim to the run's thread, `release` gives it back when a run could not start.

The run itself is a child process with its temporary folder inside the workspace: a run that crashes,
is killed by the system or runs out of memory ends with a Chinese message on this workspace's page.
"""

from __future__ import annotations

import atexit
import logging
import subprocess
import threading
from datetime import datetime

from . import worker
from .workspace import Workspace

log = logging.getLogger("reconcile.web")

_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


@atexit.register
def _stop_children() -> None:  # the server stops (Ctrl+C): its runs stop with it
    with _children_lock:
        for proc in list(_children):
            if proc.poll() is None:
                proc.terminate()


def friendly(message: str, ws: Workspace, names: dict[str, str] | None = None) -> str:
    """A message with the workspace's paths replaced by what the person knows (their file names)."""
    return ws.friendly(message, names)


def claim(ws: Workspace) -> bool:
    """Mark the workspace as starting a run; False when a run is already starting or running, or answers are
    being written into its ledger (`hold_ledger`)."""
    return _mark(ws, "starting")


def _mark(ws: Workspace, flag: str) -> bool:
    """Set `flag` (starting / answering) unless a run or an answer already holds the workspace."""
    with ws.lock:
        if ws.running or ws.answering:
            return False
        setattr(ws, flag, True)
        return True


def release(ws: Workspace) -> None:
    with ws.lock:
        ws.starting = False


def hold_ledger(ws: Workspace) -> bool:
    """Mark the workspace as writing answers into its ledger; False while a run starts or runs (the run would
    replace reconcile.duckdb with its own copy, without the answers) or other answers are being written."""
    return _mark(ws, "answering")


def release_ledger(ws: Workspace) -> None:
    with ws.lock:
        ws.answering = False


def start(ws: Workspace, names: dict[str, str]) -> bool:
    """Start the run laid out in `ws.run_dir` in a child process; the caller holds the claim (`claim`)."""
    from ..pipeline import STAGES

    with ws.lock:
        if ws.thread is not None and ws.thread.is_alive():
            ws.starting = False
            return False
        progress = {
            "status": "running", "started": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "error": None,
            "stages": [{"name": n, "label": label, "state": "waiting", "seconds": None} for n, label in STAGES],
        }
        ws.progress = progress
        ws.thread = threading.Thread(target=_job, args=(ws, names, progress), daemon=True,
                                     name=f"reconcile-run-{ws.id[:8]}")
        ws.thread.start()
        ws.starting = False  # the live thread holds the workspace from here on
    return True


def _job(ws: Workspace, names: dict[str, str], progress: dict) -> None:
    try:
        previous = ws.status() or {}
    except Exception:  # noqa: BLE001 — an unreadable status.json is replaced by this run's
        previous = {}
    outcome: dict | None = None
    returncode: int | None = None
    try:
        with worker.scratch_dir(ws.tmp, "run") as scratch:
            proc = worker.spawn("run", [str(ws.run_dir), progress["started"]], scratch, cwd=ws.folder)
            with _children_lock:
                _children.add(proc)
            assert proc.stdout is not None
            try:
                for message in worker.read_messages(proc.stdout):
                    if message.get("event") == "stage":
                        _tick(progress, message)
                    elif message.get("event") in ("done", "failed"):
                        outcome = message
            finally:
                proc.stdout.close()
                returncode = proc.wait()
                with _children_lock:
                    _children.discard(proc)
    except Exception as exc:  # noqa: BLE001 — the child could not be started (no memory, no process slots)
        log.exception("run could not start in workspace %s", ws.id[:8])
        outcome = {"event": "failed", "kind": "internal", "error": f"{type(exc).__name__}: {exc}"}
    finished = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    try:
        if outcome is not None and outcome["event"] == "done" and isinstance(outcome.get("done"), dict):
            done = {**outcome["done"], "names": names}
            ws.save_status({"done": done, "failed": None})
            progress.update(status="done")
            return
        error = _failure(ws, names, outcome, returncode)
        ws.save_status({"done": previous.get("done"), "failed": {"error": error, "finished": finished}})
        progress.update(status="failed", error=error)
    except Exception as exc:  # noqa: BLE001 — status.json could not be written: the page still says why
        log.exception("run status not saved in workspace %s", ws.id[:8])
        progress.update(status="failed", error=f"核查结果没有保存({type(exc).__name__})。请重新开始核查。")


def _failure(ws: Workspace, names: dict[str, str], outcome: dict | None, returncode: int | None) -> str:
    if outcome is None:
        how = worker.ended(returncode)
        log.error("run in workspace %s: the run process %s", ws.id[:8], how)
        return (f"核查程序{how},本次核查没有完成。可能是某个文件太大或内容不合常理(例如 Excel 文件声明了极大的表格范围)、"
                "或这台电脑的内存不足。请检查最近上传的文件,必要时在 Excel/WPS 中另存为新文件后重新上传;"
                "其他工作区不受影响。如果反复出现,请把运行 reconcile serve 的窗口中显示的内容反馈给技术人员。")
    if outcome.get("kind") == "input":
        message = friendly(str(outcome.get("error") or ""), ws, names)
        if "columns 下" in message:  # the CLI's advice to edit columns: — on the page that is a drop-down
            message += ("\n\n在网页上不需要改配置文件:回到第 2 步,展开该文件的“列名对应”,"
                        "在下拉框中为这一列选择提示中的标准字段,再开始核查。")
        return message
    log.error("run failed in workspace %s: %s", ws.id[:8], outcome.get("error"))
    return friendly(f"程序内部错误({outcome.get('error')})。请把这段文字和运行 reconcile serve 的窗口中"
                    "显示的内容一起反馈给技术人员。", ws, names)


def _tick(progress: dict, message: dict) -> None:
    seconds = message.get("seconds")
    for stage in progress["stages"]:
        if stage["name"] == message.get("name"):
            stage["state"] = "running" if seconds is None else "done"
            stage["seconds"] = None if seconds is None else round(float(seconds), 2)


def status(ws: Workspace) -> dict:
    """What the progress page polls: running / done / failed / idle, the stages and a percentage."""
    if ws.starting:  # being laid out: the last run's progress is not this one's
        return {"status": "running", "error": None, "stages": [], "percent": 0}
    progress = ws.progress
    if progress is None:
        last = ws.status() or {}
        if last.get("failed"):
            return {"status": "failed", "error": last["failed"]["error"], "stages": [], "percent": 0}
        return {"status": "done" if last.get("done") else "idle", "stages": [], "percent": 100 if last else 0}
    stages = progress["stages"]
    done = sum(1 for s in stages if s["state"] == "done")
    running = sum(0.5 for s in stages if s["state"] == "running")
    percent = 100 if progress["status"] == "done" else int(100 * (done + running) / max(len(stages), 1))
    return {"status": progress["status"], "error": progress["error"], "stages": stages, "percent": percent}
