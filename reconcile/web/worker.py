"""Reading uploaded files and running checks in a separate process, one per request or run.

Why a process: a file can take down whatever reads it in ways no `except` catches — an .xlsx of a few KB whose
sheet claims cell XFD1048576 makes the Excel reader ask for 512 GB and abort the process, a decompression bomb
exhausts memory. In a child process that ends one file's reading or one workspace's run, with a Chinese
message; the server and every other workspace carry on.

The child's temporary folder (TMPDIR, TEMP, TMP — what Python's `tempfile`, xlsxwriter, polars and DuckDB
consult) is a fresh folder inside the workspace's tmp/, removed when the child ends: nothing of a workspace is
written to the system's temporary folder. The server's own `tempfile.tempdir` is never changed.

    python -m reconcile.web.worker probe      JSON job on stdin → one line per file read
    python -m reconcile.web.worker run DIR    runs DIR/reconcile.yaml → one line per stage, then done/failed
    python -m reconcile.web.worker answers    JSON job on stdin → returned township workbooks read and their
                                              answers applied to the ledger → done/failed

Every line the parent reads starts with MARK; anything else a library prints is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("reconcile.web")

MARK = "@@reconcile-web@@ "
PROBE_TIMEOUT = 300.0  # seconds without an answer from a child reading headers


def command(kind: str, *args: str) -> list[str]:
    """The child's command line. `-P`: the child's working folder (the workspace) is never on its import path."""
    return [sys.executable, "-P", "-m", "reconcile.web.worker", kind, *args]


def _child_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("TMPDIR", "TEMP", "TMP"):
        env[name] = str(scratch)
    # the package as this server imports it, whatever the child's working folder
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@contextmanager
def scratch_dir(tmp: Path, prefix: str) -> Iterator[Path]:
    """A fresh folder inside the workspace's tmp/, removed afterwards (a child killed mid-write leaves nothing)."""
    tmp.mkdir(parents=True, exist_ok=True)
    folder = tmp / f"{prefix}-{secrets.token_hex(6)}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def spawn(kind: str, args: list[str], scratch: Path, cwd: Path, stdin: int | None = None) -> subprocess.Popen:
    return subprocess.Popen(command(kind, *args), stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=None, cwd=str(cwd), env=_child_env(scratch))


def read_messages(stream: IO[bytes]) -> Iterator[dict]:
    """The child's messages, as they come."""
    for raw in stream:
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(MARK):
            try:
                message = json.loads(line[len(MARK):])
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message


def ended(returncode: int | None) -> str:
    """How a child ended, for the message and the server's log."""
    if returncode is None:
        return "没有响应,已被终止"
    if returncode == -9:
        return "被系统强行终止(常见原因是内存不足)"
    if returncode < 0:
        return f"被系统终止(信号 {-returncode})"
    return f"异常退出(退出代码 {returncode})"


# ---- reading headers (the parent side) ------------------------------------------------------------------

def crashed_info(path: str, how: str) -> dict:
    return {"encoding": None, "header_row": None, "headers": [], "samples": {}, "rows": 0, "sheets": [],
            "error": f"无法读取文件 {path}:读取程序{how}。文件可能已损坏,或其中声明的表格范围、内容大得不合常理。"
                     "请在 Excel/WPS 中打开该文件,核对后另存为新的 .xlsx 或 .csv 再上传。其他文件和工作区不受影响。"}


def probe_files(jobs: list[dict], tmp: Path) -> list[dict]:
    """`files.probe` of each job ({path, sheet, header_rows}), in child processes: one for all the files, and
    when a file ends its child, that file gets a Chinese error and the files after it a new child."""
    results: list[dict | None] = [None] * len(jobs)
    start = 0
    while start < len(jobs):
        pending = list(range(start, len(jobs)))
        with scratch_dir(tmp, "probe") as scratch:
            proc = spawn("probe", [], scratch, cwd=tmp, stdin=subprocess.PIPE)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps({"work_dir": str(tmp), "files": [jobs[i] for i in pending]},
                                            ensure_ascii=False).encode("utf-8"))
                proc.stdin.close()
            except OSError:
                pass  # the child is already gone: said below
            watchdog = Watchdog(proc, PROBE_TIMEOUT)
            try:
                for message in read_messages(proc.stdout):
                    index = message.get("i")
                    if isinstance(index, int) and 0 <= index < len(pending) and isinstance(message.get("info"), dict):
                        results[pending[index]] = message["info"]
                        watchdog.reset()
            finally:
                watchdog.cancel()
                proc.stdout.close()
                returncode = proc.wait()
        first_missing = next((i for i in pending if results[i] is None), None)
        if first_missing is None:
            break
        how = ended(None if watchdog.fired else returncode)
        log.warning("reading %s: the reading process %s", jobs[first_missing]["path"], how)
        results[first_missing] = crashed_info(jobs[first_missing]["path"], how)
        start = first_missing + 1
    return [r if r is not None else crashed_info(j["path"], ended(None)) for r, j in zip(results, jobs, strict=True)]


# ---- returned township workbooks (the parent side) -------------------------------------------------------

ANSWERS_TIMEOUT = 300.0  # seconds for reading the returned workbooks and applying their answers


def import_answers(ledger: Path, files: list[tuple[Path, str]], answered_by: str, now: str, tmp: Path,
                   cwd: Path) -> dict:
    """`ledger_import.read_answers` of each file (stored path, the person's file name) and `apply_answers` of
    what they hold, in a child process (fastexcel can abort on a hostile workbook). Returns the child's
    `done` message ({"report": …}) or a `failed` one ({"kind": "input" | "internal" | "crashed", "error": …}).
    The caller holds the workspace's ledger (`runner.hold_ledger`) and the output folder's lock."""
    outcome: dict | None = None
    with scratch_dir(tmp, "answers") as scratch:
        job = {"ledger": str(ledger), "files": [{"path": str(p), "name": n} for p, n in files],
               "by": answered_by, "now": now, "scratch": str(scratch)}
        proc = spawn("answers", [], scratch, cwd=cwd, stdin=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(job, ensure_ascii=False).encode("utf-8"))
            proc.stdin.close()
        except OSError:
            pass  # the child is already gone: said below
        watchdog = Watchdog(proc, ANSWERS_TIMEOUT)
        try:
            for message in read_messages(proc.stdout):
                if message.get("event") in ("done", "failed"):
                    outcome = message
        finally:
            watchdog.cancel()
            proc.stdout.close()
            returncode = proc.wait()
    if outcome is None:
        how = ended(None if watchdog.fired else returncode)
        log.warning("importing answers: the reading process %s", how)
        return {"event": "failed", "kind": "crashed", "error": how}
    return outcome


class Watchdog:
    """Kills a child that has said nothing for `seconds` (a reader stuck in a file)."""

    def __init__(self, proc: subprocess.Popen, seconds: float):
        self.proc, self.seconds, self.fired = proc, seconds, False
        self._timer: threading.Timer | None = None
        self.reset()

    def _kill(self) -> None:
        self.fired = True
        self.proc.kill()

    def reset(self) -> None:
        self.cancel()
        self._timer = threading.Timer(self.seconds, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


# ---- the child side ----------------------------------------------------------------------------------------

_EMITTING = threading.Lock()  # the run's stages report from two threads (the save beside the reports)


def emit(message: dict) -> None:
    line = MARK + json.dumps(message, ensure_ascii=False, default=str) + "\n"
    with _EMITTING:
        sys.stdout.write(line)
        sys.stdout.flush()


def _probe_main() -> int:
    from .files import probe

    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    work_dir = Path(job["work_dir"])
    for i, spec in enumerate(job["files"]):
        try:
            info = probe(Path(spec["path"]), sheet=spec.get("sheet", 0), header_rows=spec.get("header_rows"),
                         work_dir=work_dir)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 — MemoryError, a reader's panic: this file's error
            info = crashed_info(spec["path"], f"出错({type(exc).__name__})")
        emit({"i": i, "info": info})
    return 0


def summary_of(result: Any, config: Any, started: str) -> dict:
    from datetime import datetime

    from ..report.summary import summary_dict

    summary = summary_dict(result)
    summary.pop("files", None)
    summary.pop("output", None)
    f = result.findings
    return {
        "finished": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "started": started,
        "sources": {k: config.sources[k].role for k in config.sources_by_trust()},
        "summary": summary,
        "households_with_findings": f.select("cluster_id", "hh_code", "head_id").unique().height if f.height else 0,
    }


def _run_main(run_dir: str, started: str) -> int:
    from ..config import load_config
    from ..pipeline import run
    from ..report.workbook import SPLIT_DIR

    def on_stage(name: str, label: str, seconds: float | None) -> None:
        emit({"event": "stage", "name": name, "seconds": seconds})

    try:
        config = load_config(Path(run_dir) / "reconcile.yaml")
        shutil.rmtree(config.output / SPLIT_DIR, ignore_errors=True)  # townships of an earlier run
        result = run(config, on_stage=on_stage, split_by="township")
        emit({"event": "done", "done": summary_of(result, config, started)})
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 — said on the page; the traceback goes to the server's window
        _failed(exc)
    return 0


def _failed(exc: BaseException) -> None:
    """A child's failure as the page says it: an input problem in its own words, anything else by its type (the
    traceback goes to the server's window)."""
    from ..errors import ReconcileError

    if isinstance(exc, ReconcileError):
        emit({"event": "failed", "kind": "input", "error": str(exc)})
        return
    import traceback

    traceback.print_exc()
    emit({"event": "failed", "kind": "internal", "error": f"{type(exc).__name__}: {exc}"})


def _link_named(path: Path, name: str, folder: Path, taken: set[str]) -> Path:
    """`path` under the person's file name (made safe: `outputs.file_part`) in this child's own scratch folder,
    so that every refusal, the ledger's answer records and its import record name the file as the township
    sent it; the stored copy keeps its generated name."""
    from ..outputs import file_part

    stem, suffix = file_part(Path(name).stem, "乡镇报告"), path.suffix.lower()
    candidate, n = f"{stem}{suffix}", 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}({n}){suffix}"
    taken.add(candidate.lower())
    link = folder / candidate
    try:
        os.link(path, link)
    except OSError:  # a file system without hard links
        shutil.copyfile(path, link)
    return link


def _answers_main() -> int:
    from datetime import datetime

    from ..errors import ReconcileError
    from ..ledger_import import apply_answers, read_answers

    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    try:
        folder = Path(job["scratch"]) / "returned"
        folder.mkdir()
        taken: set[str] = set()
        refused: list[str] = []
        answers = []
        readable: list[Path] = []
        for spec in job["files"]:
            link = _link_named(Path(spec["path"]), spec["name"], folder, taken)
            try:
                answers += read_answers(link, refused)
                readable.append(link)
            except ReconcileError as exc:  # this file's refusal (named as sent, no server path); the others are read
                refused.append(str(exc).replace(str(link), link.name))
        report = apply_answers(Path(job["ledger"]), answers, job["by"], datetime.fromisoformat(job["now"]),
                               files=readable, refused=refused)
        emit({"event": "done", "report": {
            "files": report.files, "import_id": report.import_id, "refused": report.refused,
            **{key: [{"place": a.place, "finding_id": a.finding_id, "verdict": a.verdict,
                      "deadline": a.deadline.isoformat() if a.deadline else None} for a in rows]
               for key, rows in (("applied", report.applied), ("unchanged", report.unchanged))}}})
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 — said on the page; the traceback goes to the server's window
        _failed(exc)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "probe":
        return _probe_main()
    if len(argv) >= 1 and argv[0] == "answers":
        return _answers_main()
    if len(argv) >= 3 and argv[0] == "run":
        return _run_main(argv[1], argv[2])
    sys.stderr.write("usage: python -m reconcile.web.worker probe | answers | run RUN_DIR STARTED\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
