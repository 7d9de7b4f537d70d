"""Province runs: many counties, each checked on its own (a partition), then the steps that span counties.

A province file (`province.yaml`) names the counties' own configs:

    region: 某省
    year: 2020
    output: out/
    counties:            # a list of county configs, or one glob such as "*/reconcile.yaml"
      - 430001_甲县/reconcile.yaml
      - 430002_乙县/reconcile.yaml
    input_root: hdfs://namenode:8020/扶贫/某省   # optional, Spark engine only: where the county folders' data are

Each county runs load → validate → normalise → link → check in its own DuckDB (partition.py), on this
machine's cores (local.py) or as Spark tasks (spark.py); their tables are merged and the province-scope
rules (ID numbers across counties) run once over all of them (merge.py). DESIGN §10.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import Config, config_path, load_config, with_output
from ..errors import ConfigError, ReconcileError
from ..preflight import province_problems
from ..yamlfile import load_yaml

PROVINCE_KEYS = {"region", "year", "province", "output", "ledger", "counties", "workers", "input_root"}
PARTITION_KEY = re.compile(r"[^0-9A-Za-z_\u4e00-\u9fff]+")


@dataclass
class ProvinceConfig:
    path: Path
    region: str
    year: int
    output: Path
    ledger: Path
    counties: list[Config]  # each with `partition` set to its unique key
    workers: int | None = None
    input_root: str | None = None  # hdfs://… or s3a://…: where Spark reads the county folders

    @property
    def keys(self) -> list[str]:
        return [c.partition for c in self.counties]

    def merged_config(self) -> Config:
        """The config the merged province is reported with: the counties' sources, the province's name and output."""
        merged = copy.copy(self.counties[0])
        merged.path = self.path
        merged.base_dir = self.path.parent
        merged.region = self.region
        merged.output = self.output
        merged.ledger = self.ledger
        merged.partition = ""
        return merged

    def with_output(self, output: Path) -> ProvinceConfig:
        return with_output(self, output)


def is_province_file(path: Path) -> bool:
    """A config with `counties:` is a province; anything unreadable is left to the county loader to report."""
    try:
        data = load_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "counties" in data


def _county_paths(raw: Any, base: Path, problems: list[str]) -> list[Path]:
    if isinstance(raw, str):
        found = sorted(base.glob(raw))
        if not found:
            problems.append(f"counties: “{raw}”在 {base} 下没有匹配到任何县的配置文件")
        return [p.resolve() for p in found]
    if not isinstance(raw, list) or not raw:
        problems.append("counties: 应为各县配置文件的列表,或一个通配符(例如 \"*/reconcile.yaml\")")
        return []
    paths = []
    for index, item in enumerate(raw):
        path = config_path(base, item)
        if not path.is_file():
            problems.append(f"counties 第 {index + 1} 项: 找不到县配置文件 {path}")
        else:
            paths.append(path)
    return paths


def partition_key(path: Path, taken: set[str]) -> str:
    """A county's key: its folder's name (e.g. 430001_甲县), made unique and safe as a file name."""
    key = PARTITION_KEY.sub("_", path.parent.name).strip("_") or "county"
    unique, n = key, 2
    while unique in taken:
        unique, n = f"{key}_{n}", n + 1
    taken.add(unique)
    return unique


def load_province(path: str | Path) -> ProvinceConfig:
    path = Path(path).resolve()
    try:
        data = load_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError([f"无法读取省级配置: {exc}"], str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(["省级配置应为“配置项: 值”的映射(region, year, counties …)"], str(path))
    problems: list[str] = []
    for key in data:
        if key not in PROVINCE_KEYS:
            problems.append(f"{key}: 省级配置中未知的配置项(可用: {', '.join(sorted(PROVINCE_KEYS))})")
    region = str(data.get("region") or "")
    if not region:
        problems.append("region: 缺少地区名称(打印在报告上,例如 某某省)")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2013 <= year <= 2035:
        problems.append(f"year: 应为 2013–2035 之间的考核年度,实际为 {year!r}")
        year = 2020
    if "province" in data:  # the parameter set every county must name: one shipped, never a path
        problems += province_problems(data["province"])
    workers = data.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        problems.append(f"workers: 应为正整数(同时运行的县数),实际为 {workers!r}")
        workers = None
    output = config_path(path.parent, data.get("output", "out/"))
    ledger = config_path(path.parent, data["ledger"]) if data.get("ledger") else output / "reconcile.duckdb"
    counties: list[Config] = []
    taken: set[str] = set()
    # with `input_root` (hdfs://…, s3a://…) the data files are read by Spark there; only the YAML files are local
    remote = bool(data.get("input_root"))
    for county_path in _county_paths(data.get("counties"), path.parent, problems):
        try:
            county = load_config(county_path, check_paths=not remote)
        except ReconcileError as exc:
            problems.append(f"县配置 {county_path}: {exc}")
            continue
        if county.year != year:
            problems.append(f"县配置 {county_path}: 考核年度 {county.year} 与省级配置的 {year} 不同")
        if "province" in data and county.province != str(data["province"]):
            # each county runs with its own parameter set: a different one here would be silently unused
            problems.append(f"县配置 {county_path}: 参数集 province: {county.province} 与省级配置的 "
                            f"{data['province']} 不同")
        county.partition = partition_key(county_path, taken)
        counties.append(county)
    if counties:
        shape = {k: (s.role, s.level) for k, s in counties[0].sources.items()}
        for county in counties[1:]:
            other = {k: (s.role, s.level) for k, s in county.sources.items()}
            if other != shape:
                problems.append(f"县配置 {county.path}: 数据来源 {sorted(other)} 与 {counties[0].path} 的 "
                                f"{sorted(shape)} 不同;一个省内各县应使用相同的来源名称和角色,才能合并比对")
    if problems:
        raise ConfigError(problems, str(path))
    return ProvinceConfig(path=path, region=region, year=year, output=output, ledger=ledger, counties=counties,
                          workers=workers, input_root=str(data["input_root"]) if data.get("input_root") else None)


__all__ = ["ProvinceConfig", "is_province_file", "load_province", "partition_key"]
