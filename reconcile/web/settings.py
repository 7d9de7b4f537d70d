"""The page's choices → a reconcile.yaml, loaded through the same `load_config` as the CLI.

Two texts come from one dict: the run's own `run/reconcile.yaml` (paths are the role-named links in
`run/`) and the one the person downloads (paths are their own file names, `output: out/`), so the
CLI, given that file beside the data, runs exactly what the page ran. Every mapped column is written
out in `columns:` with `profile: none`: the page's confirmed mapping is the whole mapping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from ..config import Config, load_config
from . import files as F
from .workspace import Workspace

CONFIG_NAME = "reconcile.yaml"

HEADER = """\
# reconcile 配置文件 —— 由 reconcile 网页(reconcile serve)按页面上确认的设置生成。
# 把本文件和下面列出的数据文件放在同一个文件夹,然后运行:
#     reconcile run reconcile.yaml
# 即可得到与网页相同的核查结果;也可以在网页上传本文件,沿用这里的用途和列名对应。
# columns: 原始列名: 标准字段(见 README 的字段表);profile: none 表示只按这里写明的列对应。
"""


def blocking_problems(state: dict) -> list[str]:
    """What must be fixed on the page before a run can start (everything else is the run's to report)."""
    problems = []
    if not str(state.get("region") or "").strip():
        problems.append("请填写地区名称(印在报告上,例如 东塘镇 或 湘阴县)。")
    year = state.get("year")
    if year is None:
        problems.append("请填写考核年度:上传的文件中没有可用的收入年度,无法判断是哪一年的核查"
                        "(考核年度决定采用哪一年的脱贫标准和监测标准)。")
    elif not isinstance(year, int) or not 2013 <= year <= 2035:
        problems.append("考核年度应为 2013–2035 之间的年份。")
    used = [f for f in state["files"] if f.get("role") != F.IGNORE]
    for entry in used:
        if not entry.get("role"):
            problems.append(f"请为文件「{entry['name']}」选择用途(无法从文件名判断)。")
        elif entry.get("error"):
            problems.append(f"文件「{entry['name']}」无法读取(见该文件下的说明):请重新上传,或把用途设为「不使用此文件」。")
    if not any(f.get("role") in F.ROLES for f in used):
        problems.append("至少需要一个数据来源:国家系统导出、村级档案、扶贫手册或入户核查结果。")
    visits = [f["name"] for f in used if f.get("role") == F.VISITS]
    if len(visits) > 1:
        problems.append(f"走访记录只能有一个文件,现有 {len(visits)} 个:{'、'.join(visits)}。请合并后上传,或把多余的设为「不使用此文件」。")
    return problems


def _file_spec(entry: dict, path: str) -> dict:
    mapping, _ = F.effective_mapping(entry["headers"], entry["role"], entry["level"], entry["overrides"])
    spec: dict = {"path": path}
    if entry["role"] in F.ROLES:
        spec.update(role=entry["role"], level=entry["level"])
    elif entry["role"].startswith(F.REGISTER):
        spec["kind"] = entry["role"][len(F.REGISTER):]
    if entry.get("sheet") not in (None, 0):
        spec["sheet"] = entry["sheet"]
    if entry.get("header_rows"):
        spec["header_rows"] = entry["header_rows"]
    spec["encoding"] = "auto"
    spec["profile"] = "none"
    spec["columns"] = {h: mapping[h] for h in entry["headers"] if h in mapping}
    return spec


def config_dict(state: dict, paths: dict[int, str], output: str) -> dict:
    """The reconcile.yaml content for `state`; `paths` gives each used file's path in the yaml."""
    template = (state.get("template") or {}).get("keep", {})
    data: dict = {"region": str(state.get("region") or "").strip(), "year": state.get("year"),
                  "province": template.get("province", "default"), "output": output}
    sources: dict[str, dict] = {}
    registers: dict[str, dict] = {}
    visits = None
    for entry in state["files"]:
        role = entry.get("role") or ""
        if entry["fid"] not in paths or role == F.IGNORE or not role or entry.get("error"):
            continue
        spec = _file_spec(entry, paths[entry["fid"]])
        if role in F.ROLES:
            key = _free_key(role, sources)
            sources[key] = spec
        elif role.startswith(F.REGISTER):
            registers[_free_key(spec["kind"], registers)] = spec
        elif role == F.VISITS and visits is None:
            visits = spec
    data["sources"] = sources
    if registers:
        data["registers"] = registers
    if visits:
        data["visits"] = visits
    data["packs"] = template.get("packs", ["all"])
    for key in ("rules", "params", "linkage", "sampling"):
        if template.get(key):
            data[key] = template[key]
    return data


def _free_key(base: str, taken: dict) -> str:
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{n}"
    return key


def yaml_text(data: dict) -> str:
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=200)


def download_yaml(state: dict) -> str:
    """The reconcile.yaml to download: paths are the person's own file names."""
    paths = {f["fid"]: f["name"] for f in state["files"]}
    return yaml_text(config_dict(state, paths, "out/"))


def prepare_run(ws: Workspace, state: dict) -> tuple[Config, dict[str, str]]:
    """Lay out `run/` (links named by role, and reconcile.yaml) and load it as the CLI would.

    Returns the Config and, for showing results, each run file name → the person's file name.
    Raises ConfigError like `reconcile run` does."""
    run_dir = ws.run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    paths: dict[int, str] = {}
    names: dict[str, str] = {}
    for entry in state["files"]:
        if entry.get("role") in (None, "", F.IGNORE) or entry.get("error"):
            continue
        base = F.short_label(entry["role"])
        suffix = Path(entry["stored"]).suffix
        link, n = f"{base}{suffix}", 1
        while link in names:
            n += 1
            link = f"{base}_{n}{suffix}"
        try:
            os.link(ws.stored(entry), run_dir / link)
        except OSError:
            shutil.copyfile(ws.stored(entry), run_dir / link)
        paths[entry["fid"]] = link
        names[link] = entry["name"]
    config_path = run_dir / CONFIG_NAME
    config_path.write_text(yaml_text(config_dict(state, paths, "../out/")), encoding="utf-8")
    return load_config(config_path), names
