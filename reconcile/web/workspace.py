"""Workspaces: one folder per upload set, named by a random id, holding everything of that set.

    <workdir>/workspaces/<id>/
        state.json        what the page shows and the person chose (files, roles, mappings, region, year)
        uploads/f<N>.<ext> the uploaded files, under generated names (the client's name is display text only)
        run/              the last run's input: reconcile.yaml and hard links named by role (村级档案.csv …)
        out/              the run's output folder; its reconcile.duckdb keeps the ledger across runs
        status.json       the last run: finished, failed (with the message) and its summary
        tmp/              scratch space for uploads in progress and GB18030 → UTF-8 copies

Nothing outside `<workdir>` is written, and no name or path sent by a browser is used on disk:
file names are `f<N>` plus a suffix from a fixed list, workspace ids are `secrets.token_urlsafe`
and every id from a URL is checked against `ID_PATTERN` before it becomes a path.
"""

from __future__ import annotations

import json
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

from . import files as F

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATE = "state.json"
STATUS = "status.json"
MAX_FILES = 60


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


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


class Workspace:
    def __init__(self, folder: Path):
        self.folder = folder
        self.id = folder.name
        self.lock = threading.RLock()
        self.progress: dict | None = None  # the run in progress (runner), in memory only
        self.thread: threading.Thread | None = None

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
        return self.thread is not None and self.thread.is_alive()

    # ---- state ---------------------------------------------------------------------------------
    def state(self) -> dict:
        with self.lock:
            return json.loads((self.folder / STATE).read_text(encoding="utf-8"))

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
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def save_status(self, status: dict) -> None:
        _write_json(self.folder / STATUS, status)

    # ---- files ---------------------------------------------------------------------------------
    def file(self, state: dict, fid: int) -> dict | None:
        return next((f for f in state["files"] if f["fid"] == fid), None)

    def stored(self, entry: dict) -> Path:
        return self.uploads / entry["stored"]

    def probe(self, entry: dict) -> None:
        """(Re-)read the file's header with the entry's sheet and header rows; keeps the person's choices."""
        self.tmp.mkdir(exist_ok=True)
        info = F.probe(self.stored(entry), sheet=entry.get("sheet", 0), header_rows=entry.get("header_rows"),
                       work_dir=self.tmp)
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
        """Take a finished upload (a file in tmp/) into the workspace.

        A file with the same name as one already here replaces it (a corrected file uploaded again)
        and keeps what was chosen for it; a new file gets a role guessed from its name."""
        suffix = suffix_of(name)
        with self.lock:
            state = self.state()
            entry = next((f for f in state["files"] if f["name"] == name), None)
            if entry is None:
                if len(state["files"]) >= MAX_FILES:
                    upload.unlink(missing_ok=True)
                    raise ValueError(f"一个工作区最多 {MAX_FILES} 个文件")
                fid = state["next_fid"]
                state["next_fid"] = fid + 1
                entry = {"fid": fid, "name": name, "role": F.guess_role(name), "level": None, "sheet": 0,
                         "header_rows": None, "overrides": {}}
                state["files"].append(entry)
            else:
                self.stored(entry).unlink(missing_ok=True)
            entry["stored"] = f"f{entry['fid']}{suffix}"
            entry["size"] = size
            entry["uploaded"] = datetime.now().strftime("%Y-%m-%d %H:%M")
            self.uploads.mkdir(exist_ok=True)
            os.replace(upload, self.stored(entry))
            self.probe(entry)
            if entry["level"] is None:
                entry["level"] = F.guess_level(entry["headers"], entry["role"])
            template = (state.get("template") or {}).get("files", {}).get(name)
            if template:
                apply_file_template(self, entry, template)
            guess_region(state)
            guess_year(state)
            self.save(state)
            return entry

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
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行" if mark else ""
            return [f"{name} 不是有效的 YAML 文件{where}:{getattr(exc, 'problem', exc)}"]
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

    def create(self, year: int | None) -> Workspace:
        wid = secrets.token_urlsafe(16)
        folder = self.root / wid
        for sub in ("uploads", "tmp", "out"):
            (folder / sub).mkdir(parents=True)
        ws = Workspace(folder)
        ws.save({"id": wid, "created": datetime.now().strftime("%Y-%m-%d %H:%M"), "region": "", "year": year,
                 "files": [], "next_fid": 1, "template": None, "flash": []})
        with self._guard:
            self._cache[wid] = ws
        return ws

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

    def all(self) -> list[Workspace]:
        found = [self.get(p.name) for p in self.root.iterdir() if p.is_dir() and ID_PATTERN.match(p.name)]
        return sorted((w for w in found if w), key=lambda w: w.state().get("created", ""), reverse=True)

    def delete(self, ws: Workspace) -> None:
        with self._guard:
            self._cache.pop(ws.id, None)
        with ws.lock:
            if ws.folder.parent == self.root:
                shutil.rmtree(ws.folder, ignore_errors=True)
