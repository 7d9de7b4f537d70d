"""Runs: the pipeline's `run(config, on_stage=…)` in a background thread, one at a time per workspace.

The page polls `status()` (JSON) while the stages tick by; when the run ends, `status.json` in the
workspace records it — the summary of a finished run (`report.summary.summary_dict`), or the Chinese
message of a `ReconcileError` exactly as the CLI prints it, with the workspace's internal file names
replaced by the person's own file names.
"""

from __future__ import annotations

import logging
import shutil
import threading
import traceback
from datetime import datetime

from ..config import Config
from ..errors import ReconcileError
from .workspace import Workspace

log = logging.getLogger("reconcile.web")


def friendly(message: str, ws: Workspace, names: dict[str, str] | None = None) -> str:
    """A message with the workspace's paths replaced by what the person knows (their file names)."""
    return ws.friendly(message, names)


def start(ws: Workspace, config: Config, names: dict[str, str]) -> bool:
    """Start a run unless one is running in this workspace; False if one is."""
    from ..pipeline import STAGES

    with ws.lock:
        if ws.running:
            return False
        ws.progress = {
            "status": "running", "started": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "error": None,
            "stages": [{"name": n, "label": label, "state": "waiting", "seconds": None} for n, label in STAGES],
        }
        ws.thread = threading.Thread(target=_job, args=(ws, config, names, ws.progress), daemon=True,
                                     name=f"reconcile-run-{ws.id[:8]}")
        ws.thread.start()
    return True


def _job(ws: Workspace, config: Config, names: dict[str, str], progress: dict) -> None:
    from ..pipeline import run
    from ..report.summary import summary_dict
    from ..report.workbook import SPLIT_DIR

    def on_stage(name: str, label: str, seconds: float | None) -> None:
        for stage in progress["stages"]:
            if stage["name"] == name:
                stage["state"] = "running" if seconds is None else "done"
                stage["seconds"] = None if seconds is None else round(seconds, 2)

    previous = ws.status() or {}
    try:
        shutil.rmtree(config.output / SPLIT_DIR, ignore_errors=True)  # townships of an earlier run
        result = run(config, on_stage=on_stage, split_by="township")
        summary = summary_dict(result)
        summary.pop("files", None)
        summary.pop("output", None)
        f = result.findings
        done = {
            "finished": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "started": progress["started"],
            "sources": {k: config.sources[k].role for k in config.sources_by_trust()},
            "names": names, "summary": summary,
            "households_with_findings": f.select("cluster_id", "hh_code", "head_id").unique().height if f.height else 0,
        }
        ws.save_status({"done": done, "failed": None})
        progress["status"] = "done"
    except ReconcileError as exc:
        message = friendly(str(exc), ws, names)
        if "columns 下" in message:  # the CLI's advice to edit columns: — on the page that is a drop-down
            message += ("\n\n在网页上不需要改配置文件:回到第 2 步,展开该文件的“列名对应”,"
                        "在下拉框中为这一列选择提示中的标准字段,再开始核查。")
        ws.save_status({"done": previous.get("done"), "failed": {"error": message,
                        "finished": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}})
        progress.update(status="failed", error=message)
    except Exception as exc:  # noqa: BLE001 — shown on the page instead of a dead thread
        log.error("run failed in workspace %s\n%s", ws.id, traceback.format_exc())
        message = friendly(f"程序内部错误({type(exc).__name__}: {exc})。请把这段文字和运行 reconcile serve 的窗口中"
                           "显示的内容一起反馈给技术人员。", ws, names)
        ws.save_status({"done": previous.get("done"), "failed": {"error": message,
                        "finished": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}})
        progress.update(status="failed", error=message)


def status(ws: Workspace) -> dict:
    """What the progress page polls: running / done / failed / idle, the stages and a percentage."""
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
