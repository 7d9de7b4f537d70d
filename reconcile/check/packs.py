"""Rule packs: YAML files in rules/, validated completely before any data is touched."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ..errors import ConfigError
from ..errors import did_you_mean as _nearest
from ..resources import kinds_csv, rules_dir
from ..yamlfile import load_yaml
from .model import FACT_NAME, Fact, Kind, Rule
from .types import RULE_TYPES, type_facts

if TYPE_CHECKING:
    from ..config import Config

RULE_KEYS = {"id", "type", "kind", "title", "severity", "needs", "message", "advice", "description", "scope"}
# `county`: a rule that sees one county at a time (runs inside each partition); `province`: a rule whose
# evidence can span counties (ID numbers across counties), run once over all partitions (DESIGN §10)
SCOPES = ("county", "province")
SEVERITIES = ("high", "medium", "low")


@cache
def kinds() -> dict[str, Kind]:
    with open(kinds_csv(), encoding="utf-8") as f:
        return {
            row["kind"]: Kind(row["kind"], row["title_zh"], row["table3_category"], row["default_severity"],
                              row["meaning"])
            for row in csv.DictReader(f)
        }


def pack_files(directory: Path | None = None, extra: Sequence[Path] = ()) -> list[Path]:
    """The built-in pack files (or those of `directory`), then the extra ones a config names."""
    return sorted((directory or rules_dir()).glob("*.yaml")) + [Path(p) for p in extra]


def _pack_name(path: Path) -> str:
    """A pack's name: its `pack:` key, else the file name without .yaml."""
    try:
        doc = load_yaml(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # reported with its line by load_rules
        return path.stem
    return str(doc.get("pack") or path.stem) if isinstance(doc, dict) else path.stem


def available_packs(extra: Sequence[Path] = ()) -> list[str]:
    return [p.stem for p in pack_files()] + [_pack_name(p) for p in extra]


def pack_titles(extra: Sequence[Path] = ()) -> dict[str, str]:
    """pack → its people's name: the Chinese part of the pack's title ("防返贫监测 (risk …)" → 防返贫监测)."""
    titles = {}
    for path in pack_files(None, extra):
        try:
            doc = load_yaml(path, encoding="utf-8") or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # load_rules reports it
        if isinstance(doc, dict):
            pack = str(doc.get("pack", path.stem))
            titles[pack] = str(doc.get("title") or pack).split(" (")[0].strip()
    return titles


def load_rules(directory: Path | None = None, extra: Sequence[Path] = ()) -> list[Rule]:
    """Every rule of every pack (built-in, then `extra` pack files); all problems in all packs are reported at once."""
    problems: list[str] = []
    rules: list[Rule] = []
    facts: list[Fact] = []
    seen: dict[str, str] = {}
    known_kinds = kinds()
    for path in pack_files(directory, extra):
        try:
            doc = load_yaml(path, encoding="utf-8") or {}
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: YAML 格式错误: {exc}")
            continue
        if not isinstance(doc, dict):
            problems.append(f"{path.name}: 规则包应为 YAML 映射(pack, title, rules)")
            continue
        pack = doc.get("pack", path.stem)
        facts += _facts(doc.get("facts") or [], path.name, {f.id for f in facts}, problems)
        for index, raw in enumerate(doc.get("rules") or []):
            if not isinstance(raw, dict):
                problems.append(f"{path.name} 第 {index + 1} 条规则: 应为映射(id, type, kind, title, message, advice …)")
                continue
            where = f"{path.name} 第 {index + 1} 条规则 ({raw.get('id', '?')})"
            rule_type = raw.get("type")
            if rule_type not in RULE_TYPES:
                problems.append(f"{where}: 未知的规则类型 {rule_type!r}{_nearest(rule_type, RULE_TYPES)}")
                continue
            type_keys = RULE_TYPES[rule_type].keys
            for key in raw:
                if key not in RULE_KEYS and key not in type_keys:
                    problems.append(f"{where}: 未知的键 `{key}`{_nearest(key, RULE_KEYS | type_keys)}")
            for key in ("id", "kind", "title", "message", "advice"):
                if not raw.get(key):
                    problems.append(f"{where}: 缺少 `{key}`")
            rule_id = str(raw.get("id", ""))
            if rule_id in seen:
                problems.append(f"{where}: 规则编号 {rule_id} 与 {seen[rule_id]} 重复")
            seen[rule_id] = where
            kind = raw.get("kind")
            if kind not in known_kinds:
                problems.append(f"{where}: kind `{kind}` 不在 kinds.csv 中{_nearest(kind, known_kinds)}")
                continue
            severity = raw.get("severity", known_kinds[kind].severity)
            if severity not in SEVERITIES:
                problems.append(f"{where}: severity 应为 high / medium / low")
            scope = raw.get("scope", "county")
            if scope not in SCOPES:
                problems.append(f"{where}: scope 应为 county(按县分区运行)或 province(跨县运行一次)")
            rule = Rule(
                id=rule_id, pack=pack, type=rule_type, kind=kind, title=str(raw.get("title", "")),
                severity=severity, needs=list(raw.get("needs") or []), message=str(raw.get("message", "")),
                advice=str(raw.get("advice", "")),
                spec={k: v for k, v in raw.items() if k in type_keys}, source_file=path.name, scope=str(scope),
                description=" ".join(str(raw.get("description", "")).split()),
            )
            problems += [f"{where}: {p}" for p in RULE_TYPES[rule_type].validate(rule)]
            rules.append(rule)
    for rule in rules:
        rule.facts = [*type_facts(rule), *facts_read(str(rule.spec.get("sql") or ""), facts)]
    if problems:
        raise ConfigError(problems, "rules/")
    return rules


FACT_KEYS = {"id", "description", "sql"}


def _facts(raw_facts: object, file: str, known: set[str], problems: list[str]) -> list[Fact]:
    """A pack's `facts:` (shared queries), each checked: a `fact_…` name met once, SQL that is no template."""
    if not isinstance(raw_facts, list):
        problems.append(f"{file}: facts 应为列表(id, description, sql)")
        return []
    out: list[Fact] = []
    for index, raw in enumerate(raw_facts):
        where = f"{file} 第 {index + 1} 个共用查询 ({raw.get('id', '?') if isinstance(raw, dict) else '?'})"
        if not isinstance(raw, dict):
            problems.append(f"{where}: 应为映射(id, description, sql)")
            continue
        problems += [f"{where}: 未知的键 `{k}`{_nearest(k, FACT_KEYS)}" for k in raw if k not in FACT_KEYS]
        fact_id, sql = str(raw.get("id") or ""), str(raw.get("sql") or "")
        if not FACT_NAME.match(fact_id):
            problems.append(f"{where}: id 应以 fact_ 开头,只含小写英文字母、数字和下划线")
            continue
        if fact_id in known or any(f.id == fact_id for f in out):
            problems.append(f"{where}: 共用查询 {fact_id} 重复定义")
            continue
        if not sql.strip() or "{%" in sql or "{{" in sql:
            problems.append(f"{where}: 缺少 `sql`,或 sql 是模板(共用查询只能是普通 SQL)")
            continue
        out.append(Fact(fact_id, sql, " ".join(str(raw.get("description", "")).split()), file))
    return out


def facts_read(sql: str, facts: list[Fact]) -> list[Fact]:
    """The facts a query names, with the facts they read first, in the order they are defined."""
    wanted = {f.id for f in facts if re.search(rf"\b{f.id}\b", sql)}
    for fact in reversed(facts):  # a fact reads only facts defined before it
        if fact.id in wanted:
            wanted |= {f.id for f in facts if f is not fact and re.search(rf"\b{f.id}\b", fact.sql)}
    return [f for f in facts if f.id in wanted]


def select_rules(config: Config) -> list[Rule]:
    rules = load_rules(extra=config.rule_files)
    if "all" not in config.packs:
        rules = [r for r in rules if r.pack in config.packs]
    return [r for r in rules if r.id not in config.rules_disable]
