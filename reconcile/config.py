"""The run configuration `reconcile.yaml` (DESIGN §4).

The whole file is validated before any data is touched, and every problem is reported at once,
each with the key path, what was found, what was expected and the nearest valid key.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import yaml

from .errors import ConfigError
from .errors import did_you_mean as _did_you_mean
from .preflight import merged_params, param_layers, preflight_problems, yaml_key_lines
from .schema import (
    EXTRA_PREFIX,
    FIELD_LABELS,
    LEVELS,
    REGISTER_KINDS,
    ROLES,
    VISIT_FIELDS,
    register_fields,
    several_columns,
    source_fields,
)
from .yamlfile import load_yaml

FILE_KEYS = {"path", "encoding", "sheet", "header_rows", "skip_rows", "columns", "profile", "format"}
SOURCE_KEYS = FILE_KEYS | {"role", "level"}
REGISTER_KEYS = FILE_KEYS | {"kind"}
TOP_KEYS = {"region", "year", "province", "output", "ledger", "sources", "registers", "visits", "packs",
            "rules", "params", "linkage", "sampling"}
# `reconcile sample`: households drawn per village, by category (quota = households per village)
SAMPLING_KEYS = {"per_village", "quotas", "weight"}
SAMPLING_CATEGORIES = {
    "exited_earlier": "往年脱贫户", "exited_last_year": "上年脱贫户", "exit_this_year": "当年计划脱贫户",
    "not_exited": "未脱贫户", "monitored": "监测对象", "non_registered": "非建档立卡户",
}
# 监测对象 are a category of their own (东兴's sampling; issue 14): a monitored household, exited or not, is drawn
# as one, whatever its exit year
DEFAULT_SAMPLING = {"per_village": 10, "weight": "none",
                    "quotas": {"exited_earlier": 3, "exited_last_year": 2, "exit_this_year": 1, "not_exited": 1,
                               "monitored": 2, "non_registered": 1}}
FORMATS = {"csv", "xlsx", "parquet"}
PROFILES = ("auto", "none")  # auto: built-in header synonyms; none: only the explicit `columns:`
SOURCE_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass
class FileSpec:
    key: str
    path: Path
    encoding: str = "auto"
    sheet: int | str = 0
    header_rows: int | None = None
    skip_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    profile: str = "auto"
    format: str | None = None


@dataclass
class SourceSpec(FileSpec):
    role: str = "system"
    level: str = "household"


@dataclass
class RegisterSpec(FileSpec):
    kind: str = "dibao"


@dataclass
class Config:
    path: Path | None
    base_dir: Path
    region: str
    year: int
    province: str
    output: Path
    ledger: Path
    sources: dict[str, SourceSpec]
    registers: dict[str, RegisterSpec]
    visits: FileSpec | None
    packs: list[str]
    rules_disable: list[str]
    params: dict[str, Any]  # default.yaml, then the province's file, then `params:` and `linkage:` merged over it
    linkage: dict[str, Any]
    sampling: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SAMPLING))
    rule_files: list[Path] = field(default_factory=list)  # `rules: {extra: …}`: packs beside the built-in ones
    partition: str = ""  # set by a province run: the county's key, which prefixes its cluster ids
    params_overrides: dict[str, Any] = field(default_factory=dict)  # the config's own `params:`, as written

    def sources_by_trust(self) -> list[str]:
        """Source keys in the order their values are trusted for display: system, archive, manual, survey."""
        return sorted(self.sources, key=lambda k: (ROLES.index(self.sources[k].role), k))

    def sources_with_role(self, role: str) -> list[str]:
        return [k for k, s in self.sources.items() if s.role == role]

    def with_output(self, output: Path) -> Config:
        return with_output(self, output)



def config_path(base: Path, value: object) -> Path:
    """A path written in a config, relative to the config's folder. A config written on Windows
    (部门数据\\民政低保.csv) reads the same on Linux: a backslash is a separator, never part of a name."""
    text = str(value)
    if "\\" in text:
        text = PureWindowsPath(text).as_posix()
    return (base / text).resolve()

def with_output(config, output: Path):
    """A copy of a county or province config writing to `output`; a ledger kept in the run database moves with it."""
    clone = copy.copy(config)
    clone.output = output.resolve()
    if config.ledger == config.output / "reconcile.duckdb":
        clone.ledger = clone.output / "reconcile.duckdb"
    return clone


class _Problems:
    def __init__(self, check_paths: bool = True) -> None:
        self.items: list[str] = []
        self.check_paths = check_paths  # False when the files live elsewhere (a Spark cluster's HDFS/S3)

    def unknown_keys(self, where: str, mapping: dict, allowed: set[str]) -> None:
        for key in mapping:
            if key not in allowed:
                self.items.append(
                    f"{where}{key}: 未知的配置项{_did_you_mean(key, allowed)}(可用: {', '.join(sorted(allowed))})"
                )

    def add(self, text: str) -> None:
        self.items.append(text)


def load_params(province: str, overrides: dict | None, linkage: dict | None = None) -> dict:
    """default.yaml, then rules/params/<province>.yaml, then the config's `params:` and `linkage:`; what does not fit
    default.yaml is left for `preflight_problems` to report (a part that cannot be read at all is skipped)."""
    return merged_params(param_layers(province, overrides, linkage)[0])


def _int_or_none(value: Any, where: str, problems: _Problems, minimum: int = 0) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(f"{where}: 应为不小于 {minimum} 的整数,实际为 {value!r}")
        return None
    return value


def _file_spec(cls, key: str, raw: Any, where: str, allowed: set[str], base: Path, problems: _Problems,
               targets: set[str], **extra):
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict):
        problems.add(f"{where}: 应为一个映射(path, role, columns ...),实际为 {type(raw).__name__}")
        return None
    problems.unknown_keys(f"{where}.", raw, allowed)
    path_value = raw.get("path")
    if not path_value:
        problems.add(f"{where}.path: 缺少文件路径(相对于配置文件所在目录)")
        return None
    path = config_path(base, path_value)
    if problems.check_paths and not path.exists():
        problems.add(f"{where}.path: 文件或文件夹不存在: {path}")
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        problems.add(f"{where}.format: 应为 {'/'.join(sorted(FORMATS))} 之一,实际为 {fmt!r}")
    columns = raw.get("columns") or {}
    if not isinstance(columns, dict):
        problems.add(f"{where}.columns: 应为“原始列名: 标准字段”的映射")
        columns = {}
    clean_columns: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header, target in columns.items():
        target = str(target)
        if target not in targets and not target.startswith(EXTRA_PREFIX):
            problems.add(
                f"{where}.columns.{header}: 未知的标准字段 `{target}`{_did_you_mean(target, targets)}"
                f"(不需要标准化的列可用 `{EXTRA_PREFIX}` 开头的名称保留在 extra 中)"
            )
            continue
        if target in seen and not target.startswith(EXTRA_PREFIX) and not several_columns(target):
            problems.add(f"{where}.columns: 列 `{seen[target]}` 和 `{header}` 都映射到了「{FIELD_LABELS.get(target, target)}」"
                         f"(`{target}`),该字段只能来自一列")
        seen[target] = str(header)
        clean_columns[str(header)] = target
    profile = str(raw.get("profile", "auto"))
    if profile not in PROFILES:
        problems.add(f"{where}.profile: 应为 {' / '.join(PROFILES)},实际为 {profile!r}{_did_you_mean(profile, PROFILES)}")
    sheet = raw.get("sheet", 0)
    if not isinstance(sheet, int | str) or isinstance(sheet, bool):
        problems.add(f"{where}.sheet: 应为工作表序号(从 0 开始)或名称")
        sheet = 0
    return cls(
        key=key, path=path, encoding=str(raw.get("encoding", "auto")), sheet=sheet,
        header_rows=_int_or_none(raw.get("header_rows"), f"{where}.header_rows", problems, 1),
        skip_rows=_int_or_none(raw.get("skip_rows", 0), f"{where}.skip_rows", problems) or 0,
        columns=clean_columns, profile=profile, format=fmt, **extra,
    )


def _sampling(raw: Any, problems: _Problems) -> dict[str, Any]:
    sampling = copy.deepcopy(DEFAULT_SAMPLING)
    if raw is None:
        return sampling
    if not isinstance(raw, dict):
        problems.add("sampling: 应为 {per_village: 10, quotas: {类别: 户数}, weight: findings}")
        return sampling
    problems.unknown_keys("sampling.", raw, SAMPLING_KEYS)
    if "per_village" in raw:
        sampling["per_village"] = _int_or_none(raw["per_village"], "sampling.per_village", problems, 1) or 10
    if "weight" in raw:
        if raw["weight"] not in ("findings", "none"):
            problems.add(f"sampling.weight: 应为 findings(有问题的户更可能被抽中)或 none,实际为 {raw['weight']!r}")
        else:
            sampling["weight"] = raw["weight"]
    quotas = raw.get("quotas")
    if quotas is not None:
        if not isinstance(quotas, dict) or not quotas:
            problems.add("sampling.quotas: 应为“类别: 每村户数”的映射,类别为 " + ", ".join(SAMPLING_CATEGORIES))
        else:
            clean = {}
            for key, value in quotas.items():
                if key not in SAMPLING_CATEGORIES:
                    problems.add(f"sampling.quotas.{key}: 未知的抽样类别{_did_you_mean(key, SAMPLING_CATEGORIES)}"
                                 f"(可用: {', '.join(f'{k} {v}' for k, v in SAMPLING_CATEGORIES.items())})")
                    continue
                n = _int_or_none(value, f"sampling.quotas.{key}", problems, 0)
                if n is not None:
                    clean[key] = n
            if clean and not sum(clean.values()):
                problems.add("sampling.quotas: 配额全为 0,至少一个类别应大于 0")
            sampling["quotas"] = clean
            if "per_village" not in raw and clean:
                sampling["per_village"] = sum(clean.values())
    return sampling


def _extra_rule_files(raw: Any, base: Path, problems: _Problems) -> list[Path]:
    """`rules: {extra: [本县规则/, 补充规则.yaml]}`: pack files, or folders of them, relative to the config."""
    if raw is None:
        return []
    entries = [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list):
        problems.add("rules.extra: 应为规则包文件(.yaml)或文件夹的列表,路径相对于配置文件所在目录")
        return []
    files: list[Path] = []
    for entry in entries:
        path = config_path(base, entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if not found:
                problems.add(f"rules.extra: 文件夹 {path} 中没有规则包(.yaml 文件)")
            files += found
        elif path.is_file() and path.suffix in (".yaml", ".yml"):
            files.append(path)
        else:
            problems.add(f"rules.extra: 规则包文件或文件夹不存在(或不是 .yaml 文件): {path}")
    return list(dict.fromkeys(files))


def parse_config(data: Any, base_dir: Path, path: Path | None = None, check_paths: bool = True) -> Config:
    problems = _Problems(check_paths)
    if not isinstance(data, dict):
        raise ConfigError(["配置文件应为 YAML 映射(键: 值)"], str(path) if path else None)
    problems.unknown_keys("", data, TOP_KEYS)

    region = str(data.get("region", "") or "")
    if not region:
        problems.add("region: 缺少地区名称(打印在报告上,例如 示例县)")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2013 <= year <= 2035:
        problems.add(f"year: 应为 2013–2035 之间的考核年度,实际为 {year!r}")
        year = 2020
    province = str(data.get("province", "default") or "default")
    output = config_path(base_dir, data.get("output", "out/"))
    ledger = config_path(base_dir, data["ledger"]) if data.get("ledger") else output / "reconcile.duckdb"

    sources: dict[str, SourceSpec] = {}
    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict) or not raw_sources:
        problems.add("sources: 至少需要一个数据来源(system / archive / manual / survey)")
        raw_sources = {}
    for key, raw in raw_sources.items():
        where = f"sources.{key}"
        if not SOURCE_KEY_PATTERN.match(str(key)):
            problems.add(f"{where}: 来源名称应为小写英文字母、数字或下划线(例如 system、archive2)")
            continue
        role = (raw or {}).get("role", key if key in ROLES else None) if isinstance(raw, dict) else None
        if role not in ROLES:
            problems.add(f"{where}.role: 应为 {' / '.join(ROLES)} 之一,实际为 {role!r}{_did_you_mean(str(role), ROLES)}")
            role = "system"
        level = (raw or {}).get("level", "household") if isinstance(raw, dict) else "household"
        if level not in LEVELS:
            problems.add(f"{where}.level: 应为 person(每人一行)或 household(每户一行),实际为 {level!r}")
            level = "household"
        spec = _file_spec(SourceSpec, key, raw, where, SOURCE_KEYS, base_dir, problems,
                          set(source_fields(role, level)), role=role, level=level)
        if spec:
            sources[key] = spec

    registers: dict[str, RegisterSpec] = {}
    raw_registers = data.get("registers") or {}
    if not isinstance(raw_registers, dict):
        problems.add("registers: 应为“名称: {path, kind, columns}”的映射")
        raw_registers = {}
    for key, raw in raw_registers.items():
        where = f"registers.{key}"
        kind = raw.get("kind", key) if isinstance(raw, dict) else key
        if kind not in REGISTER_KINDS:
            problems.add(f"{where}.kind: 未知的部门数据类型 {kind!r}{_did_you_mean(str(kind), REGISTER_KINDS)}"
                         f"(可用: {', '.join(REGISTER_KINDS)})")
            continue
        spec = _file_spec(RegisterSpec, key, raw, where, REGISTER_KEYS, base_dir, problems,
                          set(register_fields(kind)), kind=kind)
        if spec:
            registers[key] = spec

    visits = None
    if data.get("visits"):
        visits = _file_spec(FileSpec, "visits", data["visits"], "visits", FILE_KEYS, base_dir, problems,
                            set(VISIT_FIELDS))

    rules_section = data.get("rules") or {}
    if not isinstance(rules_section, dict):
        problems.add("rules: 应为 {disable: [规则编号], extra: [规则包文件或文件夹]}")
        rules_section = {}
    problems.unknown_keys("rules.", rules_section, {"disable", "extra"})
    disable = [str(r) for r in rules_section.get("disable", []) or []]
    rule_files = _extra_rule_files(rules_section.get("extra"), base_dir, problems)

    packs = data.get("packs", ["all"]) or ["all"]
    if isinstance(packs, str):
        packs = [packs]
    overrides, linkage = data.get("params") or {}, data.get("linkage") or {}
    for key, value in (("params", overrides), ("linkage", linkage)):
        if not isinstance(value, dict):
            problems.add(f"{key}: 应为“参数名: 值”的映射(见 rules/params/default.yaml),实际为 {value!r}")
    overrides, linkage = (v if isinstance(v, dict) else {} for v in (overrides, linkage))
    params = load_params(province, overrides, linkage)
    sampling = _sampling(data.get("sampling"), problems)

    config = Config(path=path, base_dir=base_dir, region=region, year=year, province=province, output=output,
                    ledger=ledger, sources=sources, registers=registers, visits=visits, packs=list(packs),
                    rules_disable=disable, params=params, linkage=linkage, sampling=sampling, rule_files=rule_files,
                    params_overrides=overrides)
    # the packs and rules it names, parameters and linkage (preflight.py), reported with everything above (an
    # unusable part was skipped); the rules' `$params` are the run plan's, reported with the rule SQL that
    # does not bind
    problems.items += preflight_problems(config, rule_params=False)
    if problems.items:
        raise ConfigError(problems.items, str(path) if path else None)
    return config


def _with_lines(problems: list[str], lines: dict[str, int]) -> list[str]:
    located = []
    for problem in problems:
        where = problem.split(":", 1)[0].split(" ", 1)[0].rstrip(".")
        parts = where.split(".")
        line = next((lines[".".join(parts[:i])] for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in lines),
                    None)
        located.append(f"第 {line} 行 {problem}" if line else problem)
    return located


def load_config(path: str | Path, check_paths: bool = True) -> Config:
    path = Path(path).resolve()
    if not path.exists():
        raise ConfigError([f"找不到配置文件: {path}"], str(path))
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
        raise ConfigError([f"YAML 格式错误 {where}: {getattr(exc, 'problem', exc)}"], str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"配置文件应为 UTF-8 编码(第 {exc.start} 字节无法解码)"], str(path)) from exc
    try:
        return parse_config(data, path.parent, path, check_paths)
    except ConfigError as exc:
        raise ConfigError(_with_lines(exc.problems, yaml_key_lines(path.read_text(encoding="utf-8-sig"))),
                          str(path)) from None
