"""Rule packs: YAML files in rules/, validated completely before any data is touched."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import ConfigError
from ..errors import did_you_mean as _nearest
from ..resources import kinds_csv, rules_dir

if TYPE_CHECKING:
    from ..config import Config

RULE_KEYS = {"id", "type", "kind", "title", "severity", "needs", "message", "advice", "description"}
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Kind:
    code: str
    title: str
    category: str
    severity: str
    meaning: str


@dataclass
class Rule:
    id: str
    pack: str
    type: str
    kind: str
    title: str
    severity: str
    needs: list[str]
    message: str
    advice: str
    spec: dict[str, Any] = field(default_factory=dict)  # the type's own parameters
    source_file: str = ""


@cache
def kinds() -> dict[str, Kind]:
    with open(kinds_csv(), encoding="utf-8") as f:
        return {
            row["kind"]: Kind(row["kind"], row["title_zh"], row["table3_category"], row["default_severity"],
                              row["meaning"])
            for row in csv.DictReader(f)
        }


def pack_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or rules_dir()).glob("*.yaml"))


def available_packs() -> list[str]:
    return [p.stem for p in pack_files()]


def load_rules(directory: Path | None = None) -> list[Rule]:
    """Every rule of every pack; all problems in all packs are reported at once."""
    from .types import RULE_TYPES

    problems: list[str] = []
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    known_kinds = kinds()
    for path in pack_files(directory):
        with open(path, encoding="utf-8") as f:
            try:
                doc = yaml.safe_load(f) or {}
            except yaml.YAMLError as exc:
                problems.append(f"{path.name}: YAML 格式错误: {exc}")
                continue
        pack = doc.get("pack", path.stem)
        for index, raw in enumerate(doc.get("rules") or []):
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
            rule = Rule(
                id=rule_id, pack=pack, type=rule_type, kind=kind, title=str(raw.get("title", "")),
                severity=severity, needs=list(raw.get("needs") or []), message=str(raw.get("message", "")),
                advice=str(raw.get("advice", "")),
                spec={k: v for k, v in raw.items() if k in type_keys}, source_file=path.name,
            )
            problems += [f"{where}: {p}" for p in RULE_TYPES[rule_type].validate(rule)]
            rules.append(rule)
    if problems:
        raise ConfigError(problems, "rules/")
    return rules


def select_rules(config: Config) -> list[Rule]:
    rules = load_rules()
    if "all" not in config.packs:
        rules = [r for r in rules if r.pack in config.packs]
    return [r for r in rules if r.id not in config.rules_disable]


def validate_rule_references(config: Config) -> list[str]:
    ids = {r.id for r in load_rules()}
    return [f"rules.disable: 未知的规则编号 `{r}`{_nearest(r, ids)}" for r in config.rules_disable if r not in ids]
