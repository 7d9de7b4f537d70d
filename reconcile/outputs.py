"""Writing into the output folder (issue 16): nothing outside it, nothing through a link, nothing half-written.

- `file_part(text)` makes a file name out of data (a 乡镇 cell, a 户主 name): no separators, no `..`, no control
  characters, no Windows reserved names, bounded length — a cell like `../../x` names a file, never a place.
- `inside(out, *parts)` is a path under the output folder, checked after resolving: it stays inside and no part
  of it below the folder is a link.
- `written(path)` yields a temporary name in the same folder and renames it into place once the writer is done;
  a failed or killed write leaves the previous file (or nothing) under the real name. A link where the file
  would go is refused, never followed.
- `run_scratch(out)` is a run's private scratch folder inside the output folder (spill files, xlsxwriter's
  temporary files, decoded copies): created new, removed by the run that made it; a killed run's is removed by
  the next run once its process is gone. A user's own `.work/` is never touched.
- `output_lock(out)` lets one run at a time write into a folder; a second is refused with the first's process.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

# Windows refuses these as file names, with any extension (CON.xlsx too)
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
NAME_LIMIT = 60  # characters of a name made from data; a path of several stays under Windows' 260
SCRATCH_PREFIX = ".reconcile-scratch-"
LOCK_NAME = ".reconcile.lock"


def file_part(text: object, fallback: str = "未命名") -> str:
    """A file-name part made from a data value: unsafe characters become `_`, no leading dots or spaces, no
    trailing dots or spaces (Windows drops them), not a reserved device name, at most NAME_LIMIT characters."""
    name = unicodedata.normalize("NFC", "" if text is None else str(text))
    name = _UNSAFE.sub("_", name).strip(" .")
    name = name[:NAME_LIMIT].rstrip(" .")
    if not name.strip("_"):
        return fallback
    if name.split(".", 1)[0].upper() in _RESERVED:
        name = f"_{name}"
    return name


def inside(out: Path, *parts: str) -> Path:
    """`out/parts…`, refused unless it resolves inside `out` with no link on the way below `out`."""
    base = out.resolve()
    path = out.joinpath(*parts)
    step = out
    for part in parts:
        step = step / part
        if step.is_symlink():
            raise InputError(f"输出目录中的 {step} 是一个链接:为防止写到别处,请删除该链接或换一个输出目录")
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise InputError(f"输出文件 {path} 不在输出目录 {out} 之内,已拒绝写入")
    return path


def refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise InputError(f"输出文件 {path} 是一个链接(指向 {os.readlink(path)}):为防止覆盖别处的文件,"
                         "已拒绝写入;请删除该链接后重试")


@contextlib.contextmanager
def written(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` (same folder, same suffix — some writers read it); renamed to `path`
    when the block ends without error, removed otherwise."""
    refuse_link(path)
    if path.parent.is_symlink():
        raise InputError(f"输出目录中的 {path.parent} 是一个链接:为防止写到别处,已拒绝写入")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        refuse_link(path)  # a link put there while we wrote is not followed either
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


_scratch: contextvars.ContextVar[Path | None] = contextvars.ContextVar("reconcile_scratch", default=None)


def current_scratch() -> Path | None:
    """The running run's scratch folder (see `run_scratch`), for writers that need temporary files."""
    return _scratch.get()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_scratch(out: Path) -> None:
    """Scratch folders and partial files of runs that were killed (their process is gone); live ones stay."""
    for path in out.glob(f"{SCRATCH_PREFIX}*"):
        pid = path.name.removeprefix(SCRATCH_PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)) and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    for path in out.glob(".*.partial-*"):
        pid = path.name.rsplit("-", 1)[-1].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)) and path.is_file():
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def run_scratch(out: Path) -> Iterator[Path]:
    """This run's own scratch folder inside `out`, removed when the run ends (whatever happens)."""
    remove_stale_scratch(out)
    scratch = out / f"{SCRATCH_PREFIX}{os.getpid()}"
    if scratch.is_symlink():
        scratch.unlink()
    shutil.rmtree(scratch, ignore_errors=True)  # our own pid's: a leftover of this very process
    scratch.mkdir(parents=True)
    token = _scratch.set(scratch)
    try:
        yield scratch
    finally:
        _scratch.reset(token)
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """One run at a time in an output folder: a second is refused at once, naming the first's process.

    The lock is an OS file lock on `.reconcile.lock` (released by the OS when a run is killed), so a killed
    run never leaves the folder locked."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    refuse_link(path)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole run)
    try:
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InputError(f"输出目录 {out} 正被另一次核查使用(进程 {holder}):请等它结束后再运行,"
                             "或用 --output 换一个输出目录")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def _try_lock(handle) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
