"""Workspaces: one folder per upload set, named by a random id, holding everything of that set.

    <workdir>/workspaces/<id>/
        access.json       the SHA-256 of the workspace's access token (the token itself is only in the cookie
                          of the browser that created it: see `access`)
        state.json        what the page shows and the person chose (files, roles, mappings, region, year)
        uploads/f<N>.<ext> the uploaded files, under generated names (the client's name is display text only)
        run/              the last run's input: reconcile.yaml and hard links named by role (村级档案.csv …)
        out/              the run's output folder; its reconcile.duckdb keeps the ledger across runs (and the
                          answers given on the page: `answers`)
        returns/r<N>.<ext> township workbooks sent back filled in, as uploaded (`answers`)
        status.json       the last run: finished, failed (with the message) and its summary
        audit.log         when full ID numbers were shown or downloaded (one JSON line each)
        tmp/              scratch space: uploads in progress, GB18030 → UTF-8 copies, and the temporary
                          folder (TMPDIR) of the processes that read files and run checks

Nothing outside `<workdir>` is written, and no name or path sent by a browser is used on disk:
file names are `f<N>` plus a suffix from a fixed list, workspace ids are `secrets.token_urlsafe`
and every id from a URL is checked against `ID_PATTERN` before it becomes a path.

One bad workspace cannot take the server down: what the server keeps per workspace is bounded
(`MAX_STATE_BYTES`; an uploaded reconcile.yaml is bounded in size and in what its aliases expand to), a
state file that cannot be read is that workspace's error (`WorkspaceError`), not the server's, and files
are read in a separate process (`worker`), so a file that crashes its reader crashes only that process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from . import access, worker
from . import files as F

log = logging.getLogger("reconcile.web")

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATE = "state.json"
STATUS = "status.json"
ACCESS = "access.json"
AUDIT = "audit.log"
MAX_FILES = 60
# what the server keeps per workspace: a county's 60 files with their headers and samples are well under 1 MB
MAX_STATE_BYTES = 8 * 2**20
MAX_AUDIT_BYTES = 2**20
# an uploaded reconcile.yaml: the page writes a few KB; anything far beyond is not one of its files
MAX_CONFIG_BYTES = 2**20
MAX_YAML_ITEMS = 50_000  # values once every alias (*name) is expanded
MAX_YAML_CHARS = 2_000_000  # characters of text once every alias is expanded
MAX_YAML_DEPTH = 50


class WorkspaceError(Exception):
    """One workspace cannot do what was asked; the message is Chinese and names no server path."""

    def __init__(self, message: str, status_code: int = 500):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


BROKEN = ("本工作区保存的设置无法读取({reason}),网页上无法打开这个工作区;其他工作区不受影响。"
          "上传的文件仍在运行 reconcile serve 的电脑上,工作文件夹中 workspaces/{wid}/uploads 里"
          "(文件按上传顺序命名为 f1、f2……),请找技术人员取用,或在首页开始新的核查重新上传。")


def _read_bounded(path: Path, limit: int, wid: str) -> Any:
    """A JSON file of the workspace, refused (WorkspaceError) when it is larger than `limit` or unreadable."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise WorkspaceError(BROKEN.format(reason=f"{path.name} 有 {size / 2**20:.1f} MB,超过上限 "
                                               f"{limit / 2**20:.0f} MB", wid=wid))
        return json.loads(path.read_text(encoding="utf-8"))
    except WorkspaceError:
        raise
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        raise WorkspaceError(BROKEN.format(reason=f"{path.name}: {type(exc).__name__}", wid=wid)) from exc


def display_name(raw: str | None) -> str:
    """The client's file name as text to show: last path part, no control characters, at most 120 chars."""
    text = unicodedata.normalize("NFC", str(raw or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(ch for ch in text if ch.isprintable()).strip().strip(".")
    return text[:120] or "未命名文件"


def suffix_of(name: str) -> str:
    """The file's suffix if it is one we read (from a fixed list), else ""."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix in F.DATA_SUFFIXES or suffix in F.CONFIG_SUFFIXES else ""


def _write_json(path: Path, data: Any, limit: int | None = None) -> None:
    """Write `data` as JSON in place of `path` (whole or not at all), refusing past `limit` bytes (default
    MAX_STATE_BYTES): the encoder runs piece by piece, so a structure that would be gigabytes stops at the limit."""
    limit = MAX_STATE_BYTES if limit is None else limit
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    written = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            encoder = json.JSONEncoder(ensure_ascii=False, indent=1, default=str)
            for chunk in encoder.iterencode(data):
                written += len(chunk.encode("utf-8"))
                if written > limit:
                    raise WorkspaceError(f"本工作区要保存的设置超过了上限 {limit // 2**20} MB,没有保存。"
                                         "请减少文件数或删除不用的文件后再试;其他工作区不受影响。", 413)
                fh.write(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Workspace:
    def __init__(self, folder: Path):
        self.folder = folder
        self.id = folder.name
        self.lock = threading.RLock()
        self.progress: dict | None = None  # the run in progress (runner), in memory only
        self.thread: threading.Thread | None = None
        self.starting = False  # a run is being prepared (runner.claim): a second 开始核查 is refused
        self.id_grants: dict[str, float] = {}  # confirmed "show full ID numbers" → expiry (monotonic)
        # answers being written into the ledger (runner.hold_ledger): no run starts meanwhile, and a run in
        # progress refuses answers — a run replaces reconcile.duckdb and would drop them
        self.answering = False
        # this server's own connections to out/reconcile.duckdb, one at a time: DuckDB refuses a second
        # connection to a file already open in the same process with another mode (read-only / read-write)
        self.db_lock = threading.Lock()
        self._token_hash: str | None = None

    # ---- folders -------------------------------------------------------------------------------
    @property
    def uploads(self) -> Path:
        return self.folder / "uploads"

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def tmp(self) -> Path:
        return self.folder / "tmp"

    def exists(self) -> bool:
        return (self.folder / STATE).exists()

    @property
    def running(self) -> bool:
        return self.starting or (self.thread is not None and self.thread.is_alive())

    # ---- access ----------------------------------------------------------------------------------
    def allows(self, token: str | None) -> bool:
        """True when `token` is this workspace's access token. A workspace without an access file (made by an
        older version) lets no one in: the files stay on disk."""
        if not token:
            return False
        if self._token_hash is None:
            try:
                data = json.loads((self.folder / ACCESS).read_text(encoding="utf-8"))
                stored = data.get("token_sha256") if isinstance(data, dict) else None
            except (OSError, ValueError):
                return False
            if not isinstance(stored, str) or len(stored) != 64:
                return False
            self._token_hash = stored
        return access.same_secret(access.token_hash(token), self._token_hash)

    def audit(self, event: str, **details: Any) -> None:
        """Record that full ID numbers were shown or downloaded (bounded: past MAX_AUDIT_BYTES the oldest half goes)."""
        path = self.folder / AUDIT
        line = json.dumps({"time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "event": event, **details},
                          ensure_ascii=False, default=str)
        log.info("workspace %s: %s", self.id[:8], line)
        with self.lock:
            try:
                if path.exists() and path.stat().st_size > MAX_AUDIT_BYTES:
                    kept = path.read_text(encoding="utf-8", errors="replace").splitlines()
                    path.write_text("\n".join(kept[len(kept) // 2:]) + "\n", encoding="utf-8")
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError as exc:
                log.warning("workspace %s: could not write %s: %s", self.id[:8], AUDIT, exc)

    # ---- state ---------------------------------------------------------------------------------
    def state(self) -> dict:
        with self.lock:
            state = _read_bounded(self.folder / STATE, MAX_STATE_BYTES, self.id)
        if not isinstance(state, dict) or not isinstance(state.get("files"), list):
            raise WorkspaceError(BROKEN.format(reason="state.json 的内容不完整", wid=self.id))
        return state

    def save(self, state: dict) -> None:
        with self.lock:
            _write_json(self.folder / STATE, state)

    @contextmanager
    def edit(self) -> Iterator[dict]:
        with self.lock:
            state = self.state()
            yield state
            self.save(state)

    def status(self) -> dict | None:
        path = self.folder / STATUS
        if not path.exists():
            return None
        status = _read_bounded(path, MAX_STATE_BYTES, self.id)
        return status if isinstance(status, dict) else None

    def save_status(self, status: dict) -> None:
        _write_json(self.folder / STATUS, status)

    # ---- files ---------------------------------------------------------------------------------
    def file(self, state: dict, fid: int) -> dict | None:
        return next((f for f in state["files"] if f["fid"] == fid), None)

    def stored(self, entry: dict) -> Path:
        return self.uploads / entry["stored"]

    def probe(self, entry: dict) -> None:
        """(Re-)read the file's header with the entry's sheet and header rows; keeps the person's choices."""
        self.probe_many([entry])

    def probe_many(self, entries: list[dict]) -> None:
        """Read the headers of several files in one separate process (`worker.probe_files`): a file that
        crashes or exhausts its reader is that file's error; the server and other workspaces carry on."""
        if not entries:
            return
        self.tmp.mkdir(exist_ok=True)
        jobs = [{"path": str(self.stored(e)), "sheet": e.get("sheet", 0), "header_rows": e.get("header_rows")}
                for e in entries]
        for entry, info in zip(entries, worker.probe_files(jobs, self.tmp), strict=True):
            if info["error"]:
                info["error"] = self.friendly(info["error"], files=[entry])
            entry.update(info)

    def friendly(self, message: str, names: dict[str, str] | None = None, files: list[dict] | None = None) -> str:
        """`message` with the workspace's own paths replaced by what the person knows: their file names."""
        pairs: list[tuple[str, str]] = []
        for link, name in (names or {}).items():
            pairs.append((str(self.run_dir / link), f"「{name}」"))
        for entry in (files if files is not None else self.state()["files"]):
            if entry.get("stored"):
                pairs.append((str(self.stored(entry)), f"「{entry['name']}」"))
        pairs += [(str(self.run_dir / "reconcile.yaml"), "reconcile.yaml"), (str(self.folder) + "/", ""),
                  (str(self.folder), "工作区")]
        for old, new in sorted(pairs, key=lambda p: -len(p[0])):
            message = message.replace(old, new)
        return message

    def add_file(self, name: str, upload: Path, size: int) -> dict:
        """Take one finished upload (a file in tmp/) into the workspace (see `add_files`)."""
        added, problems = self.add_files([(name, upload, size)])
        if problems:
            raise ValueError(problems[0])
        return added[0]

    def add_files(self, uploads: list[tuple[str, Path, int]]) -> tuple[list[dict], list[str]]:
        """Take finished uploads (files in tmp/) into the workspace, their headers read in one process.

        A file with the same name as one already here replaces it (a corrected file uploaded again)
        and keeps what was chosen for it; a new file gets a role guessed from its name. Returns the
        entries taken and the problems of those refused (too many files)."""
        added: list[dict] = []
        problems: list[str] = []
        with self.lock:
            state = self.state()
            for name, upload, size in uploads:
                entry = next((f for f in state["files"] if f["name"] == name), None)
                if entry is None:
                    if len(state["files"]) >= MAX_FILES:
                        upload.unlink(missing_ok=True)
                        problems.append(f"「{name}」没有上传:一个工作区最多 {MAX_FILES} 个文件")
                        continue
                    fid = state["next_fid"]
                    state["next_fid"] = fid + 1
                    entry = {"fid": fid, "name": name, "role": F.guess_role(name), "level": None, "sheet": 0,
                             "header_rows": None, "overrides": {}}
                    state["files"].append(entry)
                elif entry.get("stored"):
                    self.stored(entry).unlink(missing_ok=True)
                entry["stored"] = f"f{entry['fid']}{suffix_of(name)}"
                entry["size"] = size
                entry["uploaded"] = datetime.now().strftime("%Y-%m-%d %H:%M")
                self.uploads.mkdir(exist_ok=True)
                os.replace(upload, self.stored(entry))
                if not any(e is entry for e in added):  # the same name twice in one upload: the last one
                    added.append(entry)
            self.probe_many(added)
            for entry in added:
                if entry["level"] is None:
                    entry["level"] = F.guess_level(entry["headers"], entry["role"])
                template = (state.get("template") or {}).get("files", {}).get(entry["name"])
                if template:
                    apply_file_template(self, entry, template)
            guess_region(state)
            guess_year(state)
            self.save(state)
        return added, problems

    def remove_file(self, fid: int) -> bool:
        with self.edit() as state:
            entry = self.file(state, fid)
            if entry is None:
                return False
            self.stored(entry).unlink(missing_ok=True)
            state["files"].remove(entry)
            return True

    def apply_template(self, text: str, name: str) -> list[str]:
        """A reconcile.yaml uploaded to re-use earlier choices: its region, year, rule settings, and each
        file's role and columns, matched to the uploaded files by file name. Returns problems, if any."""
        if len(text) > MAX_CONFIG_BYTES:
            return [too_big_config(name)]
        try:
            data = bounded_yaml(text, name)
        except ValueError as exc:
            return [str(exc)]
        if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
            return [f"{name} 不是 reconcile.yaml 配置文件(缺少 sources:)"]
        template = template_from_config(data)
        with self.edit() as state:
            state["template"] = template
            state["template_name"] = name
            for key in ("region", "year"):
                if template.get(key):
                    state[key] = template[key]
            if template.get("year"):
                state["year_from"], state["year_confirmed"] = None, True
            if template.get("region"):
                state["region_from"], state["region_confirmed"] = None, True
            for entry in state["files"]:
                file_template = template["files"].get(entry["name"])
                if file_template:
                    apply_file_template(self, entry, file_template)
        return []


def too_big_config(name: str) -> str:
    return (f"「{name}」有 1 MB 以上,不是本页面下载的 reconcile.yaml(它只有几 KB),没有采用。"
            "请上传本页面“下载本次设置 reconcile.yaml”得到的文件。")


def bounded_yaml(text: str, name: str) -> Any:
    """The YAML document in `text`, or ValueError with a Chinese message: a syntax error, nesting deeper
    than MAX_YAML_DEPTH, a value that contains itself, or more than MAX_YAML_ITEMS values / MAX_YAML_CHARS
    characters once every alias is expanded ("billion laughs": a few hundred bytes of nested aliases are a
    few gigabytes once anything walks or saves them). Bounded here, not only in `reconcile.config`, so the
    server's safety does not depend on another module."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark else ""
        raise ValueError(f"{name} 不是有效的 YAML 文件{where}:{getattr(exc, 'problem', None) or exc}") from exc
    except RecursionError as exc:
        raise ValueError(f"「{name}」的层次嵌套太深,不是本页面下载的 reconcile.yaml,没有采用。") from exc
    items, chars = 0, 0
    on_path: set[int] = set()

    def walk(value: Any, depth: int) -> None:
        nonlocal items, chars
        items += 1
        if items > MAX_YAML_ITEMS or chars > MAX_YAML_CHARS:
            raise ValueError(f"「{name}」中的锚点和别名(& 与 *)展开后内容过多(超过 {MAX_YAML_ITEMS} 项或 "
                             f"{MAX_YAML_CHARS // 10**6} 百万字),不是本页面下载的 reconcile.yaml,没有采用。")
        if depth > MAX_YAML_DEPTH:
            raise ValueError(f"「{name}」的层次嵌套太深(超过 {MAX_YAML_DEPTH} 层),不是本页面下载的 reconcile.yaml,没有采用。")
        if isinstance(value, str | bytes):
            chars += len(value)
            return
        if not isinstance(value, dict | list | tuple | set):
            chars += 8
            return
        if id(value) in on_path:
            raise ValueError(f"「{name}」中有引用自身的别名(循环引用),没有采用。")
        on_path.add(id(value))
        for child in ([*value.keys(), *value.values()] if isinstance(value, dict) else value):
            walk(child, depth + 1)
        on_path.discard(id(value))

    walk(data, 0)
    return data


def template_from_config(data: dict) -> dict:
    """The parts of a reconcile.yaml the page re-uses, with each file keyed by its file name."""
    files: dict[str, dict] = {}

    def take(spec: Any, role: str, level: str | None = None) -> None:
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or not spec.get("path"):
            return
        raw_columns = spec.get("columns")
        columns = raw_columns if isinstance(raw_columns, dict) else {}
        files[display_name(str(spec["path"]))] = {
            "role": role, "level": level or spec.get("level") or "household",
            "sheet": spec.get("sheet", 0), "header_rows": spec.get("header_rows"),
            "columns": {str(k): str(v) for k, v in columns.items()}, "profile": spec.get("profile", "auto"),
        }

    for key, spec in (data.get("sources") or {}).items():
        role = spec.get("role", key) if isinstance(spec, dict) else key
        if role in F.ROLES:
            take(spec, role)
    for key, spec in (data.get("registers") or {}).items() if isinstance(data.get("registers"), dict) else []:
        kind = spec.get("kind", key) if isinstance(spec, dict) else key
        take(spec, f"{F.REGISTER}{kind}")
    if data.get("visits"):
        take(data["visits"], F.VISITS)
    raw_rules = data.get("rules")
    rules = raw_rules if isinstance(raw_rules, dict) else {}
    year = data.get("year")
    return {
        "region": str(data.get("region") or ""), "year": year if isinstance(year, int) else None,
        "keep": {k: data[k] for k in ("province", "packs", "params", "linkage", "sampling") if data.get(k)}
        | ({"rules": {"disable": rules["disable"]}} if rules.get("disable") else {}),
        "files": files,
    }


def apply_file_template(ws: Workspace, entry: dict, template: dict) -> None:
    if not F.valid_role(template["role"]):
        return
    changed_read = (template.get("sheet", 0) != entry.get("sheet", 0)
                    or template.get("header_rows") != entry.get("header_rows"))
    entry["role"] = template["role"]
    entry["level"] = template["level"] if template["level"] in ("person", "household") else entry["level"]
    entry["sheet"] = template.get("sheet", 0) if isinstance(template.get("sheet", 0), int | str) else 0
    hr = template.get("header_rows")
    entry["header_rows"] = hr if isinstance(hr, int) and not isinstance(hr, bool) and hr > 0 else None
    if changed_read:
        ws.probe(entry)
    overrides = dict(template["columns"])
    if template.get("profile") == "none":  # every other column deliberately maps to nothing
        overrides.update({h: "" for h in entry.get("headers", []) if h not in overrides})
    entry["overrides"] = overrides


def _sample_values(state: dict, field: str) -> list[str]:
    """The sample values of the column each readable source file maps to `field`."""
    values: list[str] = []
    for entry in state["files"]:
        if entry.get("role") not in F.ROLES or entry.get("error"):
            continue
        mapping, _ = F.effective_mapping(entry["headers"], entry["role"], entry["level"], entry["overrides"])
        header = next((h for h, f in mapping.items() if f == field), None)
        values += [v.strip() for v in (entry["samples"].get(header) or []) if v.strip()] if header else []
    return values


def guess_region(state: dict) -> None:
    """Pre-fill 地区名称 with the one county (else the one township) the files name, until the person types one."""
    if state.get("region_confirmed"):
        return
    for field, label in (("county", "县"), ("township", "乡镇")):
        values = set(_sample_values(state, field))
        if len(values) == 1:
            state["region"], state["region_from"] = values.pop(), label
            return


def guess_year(state: dict) -> None:
    """Pre-fill 考核年度 with the income year the files record (收入年度), until the person confirms one."""
    if state.get("year_confirmed"):
        return
    years = [int(v[:4]) for v in _sample_values(state, "income_year") if v[:4].isdigit() and 2013 <= int(v[:4]) <= 2035]
    if years:
        state["year"] = max(set(years), key=years.count)
        state["year_from"] = "收入年度"


class Workspaces:
    """All workspaces under `<workdir>/workspaces`; one `Workspace` object per id, so a run's progress
    is seen by every request."""

    def __init__(self, workdir: Path):
        self.root = (Path(workdir) / "workspaces").resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, Workspace] = {}
        self._guard = threading.Lock()

    def scan(self) -> list[str]:
        """Check every workspace once at start: one whose state cannot be read or is over the limit, or that has
        no access file, is logged and left alone (it answers with its own error page), never a crash."""
        problems: list[str] = []
        try:
            folders = [p for p in self.root.iterdir() if p.is_dir() and ID_PATTERN.match(p.name)]
        except OSError as exc:
            log.warning("cannot list %s: %s", self.root, exc)
            return [str(exc)]
        for folder in folders:
            ws = Workspace(folder)
            try:
                if not (folder / STATE).exists():
                    continue
                if not (folder / ACCESS).exists():
                    problems.append(f"{folder.name}: no {ACCESS} (made by an older version; reachable on disk only)")
                    continue
                ws.state()
                ws.status()
            except WorkspaceError as exc:
                problems.append(f"{folder.name}: {exc.message}")
            except Exception as exc:  # noqa: BLE001 — one workspace must not stop the server from starting
                problems.append(f"{folder.name}: {type(exc).__name__}: {exc}")
        for problem in problems:
            log.warning("workspace skipped: %s", problem)
        return problems

    def create(self, year: int | None) -> tuple[Workspace, str]:
        """A new workspace and its access token (for the creating browser's cookie; only its hash is stored)."""
        wid = secrets.token_urlsafe(16)
        token = access.new_token()
        folder = self.root / wid
        for sub in ("uploads", "tmp", "out"):
            (folder / sub).mkdir(parents=True)
        _write_json(folder / ACCESS, {"token_sha256": access.token_hash(token),
                                      "created": datetime.now().strftime("%Y-%m-%d %H:%M:%S")})
        ws = Workspace(folder)
        ws.save({"id": wid, "created": datetime.now().strftime("%Y-%m-%d %H:%M"), "region": "", "year": year,
                 "files": [], "next_fid": 1, "template": None, "flash": []})
        with self._guard:
            self._cache[wid] = ws
        return ws, token

    def get(self, wid: str) -> Workspace | None:
        if not ID_PATTERN.match(wid or ""):
            return None
        with self._guard:
            ws = self._cache.get(wid)
            if ws is None:
                folder = self.root / wid
                if folder.parent != self.root:
                    return None
                ws = Workspace(folder)
                if not ws.exists():
                    return None
                self._cache[wid] = ws
        return ws if ws.exists() else None

    def owned(self, tokens: dict[str, str]) -> list[Workspace]:
        """The workspaces whose tokens these are (a browser's own); never the others in the folder."""
        return [ws for wid, token in tokens.items() if (ws := self.get(wid)) is not None and ws.allows(token)]

    def delete(self, ws: Workspace) -> None:
        with self._guard:
            self._cache.pop(ws.id, None)
        with ws.lock:
            if ws.folder.parent == self.root:
                shutil.rmtree(ws.folder, ignore_errors=True)
