"""What a run can get wrong before any data is read, as far as parameters are concerned (issue 11 part 1).

- `province:` names one of the shipped parameter sets (rules/params/<name>.yaml); it is looked up in that list and
  never used to build a path.
- That file, the config's `params:` and its `linkage:` section have the keys and value types of
  rules/params/default.yaml, at any depth. Year-keyed mappings (exit_line …) take new years, nothing else.
- Every `linkage.<entity>` builds a linker: known comparison kinds, level names, compared fields, numbers.
- Every `$name` the selected rules' SQL uses is a parameter (flattened as check/params.py binds them) or `$year`.

`preflight_problems(config)` returns them all; config loading raises them as one ConfigError, and a province run
gathers them for every county before the first county starts.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .check.params import PARAM_REF, TABLE_PARAMS, flatten, is_year, is_year_map
from .errors import ConfigError, did_you_mean
from .resources import default_params, params_dir
from .yamlfile import load_yaml_text

if TYPE_CHECKING:
    from .check.model import Rule
    from .config import Config

LINKERS = ("household", "person")  # `linkage.<entity>` mappings checked as linkers by link/scoring.py
# Mappings whose keys are data (致贫原因 labels), not parameter names: any text key, values shaped like the default's.
OPEN_MAPS = {("cause_measures",), ("elimination_risk_measures",), ("student_status_ages",)}
# Text parameters that rule SQL reads in a `case`: any other value would silently match nothing.
VALUE_CHOICES = {("visit_frequency",): ("monthly", "quarterly", "yearly")}
KIND_LABELS = {"number": "数字", "text": "文本", "list": "列表", "mapping": "映射(键: 值)", "bool": "是/否",
               "null": "空值"}


def yaml_key_lines(text: str) -> dict[str, int]:
    """Dotted key path → 1-based line in the YAML text, so a problem can say where it is."""
    lines: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{prefix}{key.value}"
                lines[name] = key.start_mark.line + 1
                walk(value, name + ".")

    try:
        walk(yaml.compose(text), "")
    except yaml.YAMLError:
        pass
    return lines


# --- province: a name from the shipped list --------------------------------------------------------------------

def available_provinces() -> dict[str, Path]:
    """Parameter set name → its file, for every rules/params/*.yaml shipped."""
    return {p.stem: p for p in sorted(params_dir().glob("*.yaml"))}


def province_problems(name: object, where: str = "province") -> list[str]:
    known = available_provinces()
    text = str(name)
    if text in known:
        return []
    listing = "、".join(known)
    if re.search(r"[/\\:]|\.\.", text):
        return [f"{where}: `{text}` 不是参数集名称:只能填 rules/params 中已有的参数集之一({listing}),不能是路径"]
    return [f"{where}: 找不到参数集 `{text}`{did_you_mean(text, known)}(可用: {listing})"]


# --- parameter layers: default, the province's file, the config's params: and linkage: ---------------------------

@dataclass
class Layer:
    """One place parameters come from, and how a problem found in it is named to a person."""

    prefix: str  # put before the dotted key path
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # dotted key → line, for a file of its own

    def locate(self, path: tuple, depth: int) -> str:
        dotted = ".".join(map(str, path))
        line = self.lines.get(".".join(map(str, path[:depth])))
        return f"{self.prefix}{f'第 {line} 行 ' if line else ''}{dotted}"


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _province_layer(name: str) -> tuple[Layer | None, list[str]]:
    path = available_provinces().get(name)
    if path is None or name == "default":
        return None, province_problems(name) if path is None else []
    label = f"参数文件 rules/params/{path.name} "
    text = path.read_text(encoding="utf-8")
    try:
        values = load_yaml_text(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [f"{label}{f'第 {mark.line + 1} 行' if mark else ''}: YAML 格式错误: {getattr(exc, 'problem', exc)}"]
    if values is not None and not isinstance(values, dict):
        return None, [f"{label}: 应为“参数名: 值”的映射"]
    return Layer(label, values or {}, yaml_key_lines(text)), []


def param_layers(province: str, overrides: dict | None, linkage: dict | None = None) -> tuple[list[Layer], list[str]]:
    """The layers over default.yaml in the order they apply (the province's file, the config's `params:`, its
    `linkage:` section), and the problems that keep the province's file from being read."""
    layer, problems = _province_layer(province)
    layers = [layer] if layer else []
    if overrides:
        layers.append(Layer("params.", overrides))
    if linkage:
        layers.append(Layer("", {"linkage": linkage}))
    return layers, problems


def merged_params(layers: list[Layer]) -> dict[str, Any]:
    params = copy.deepcopy(default_params())
    for layer in layers:
        params = _merge(params, layer.values)
    return params


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    names: dict[type, str] = {str: "text", list: "list", dict: "mapping"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{KIND_LABELS.get(_kind(value), _kind(value))} {text[:60]}{'…' if len(text) > 60 else ''}"


def _year_map(value: Any, path: tuple):
    if not isinstance(value, dict):
        yield path, f"应为“年份: 金额”的映射,实际为{_shown(value)}"
        return
    for key, amount in value.items():
        if not is_year(key):
            yield path + (key,), f"键应为年份(如 2021,不加引号),实际为{_shown(key)}"
        elif _kind(amount) != "number":
            yield path + (key,), f"应为数字(元/人·年),实际为{_shown(amount)}"


def _walk(value: Any, ref: Any, path: tuple):
    """(key path, message) for every way `value` differs in shape from the default `ref`."""
    if len(path) == 2 and path[0] == "linkage" and path[1] in LINKERS:
        return  # a linker: link/scoring.py knows its comparison kinds and levels
    if is_year_map(ref):
        yield from _year_map(value, path)
        return
    expected = _kind(ref)
    if _kind(value) != expected:
        yield path, f"应为{KIND_LABELS[expected]},实际为{_shown(value)}"
        return
    if expected == "mapping":
        sample = next(iter(ref.values()), None)
        for key, item in value.items():
            if path in OPEN_MAPS:
                yield from _walk(item, sample, path + (key,))
            elif key not in ref:
                yield path + (key,), f"未知参数{did_you_mean(key, ref)}(可用: {', '.join(map(str, ref))})"
            else:
                yield from _walk(item, ref[key], path + (key,))
    elif expected == "list" and ref:
        for index, item in enumerate(value):
            if _kind(item) != _kind(ref[0]):
                yield path, f"第 {index + 1} 项应为{KIND_LABELS[_kind(ref[0])]},实际为{_shown(item)}"
    elif path[:-1] in VALUE_CHOICES and value not in VALUE_CHOICES[path[:-1]]:
        choices = VALUE_CHOICES[path[:-1]]
        yield path, f"应为 {' / '.join(choices)} 之一,实际为 {value!r}{did_you_mean(value, choices)}"


def _depth(values: dict, path: tuple) -> int:
    node, depth = values, 0
    for key in path:
        if not isinstance(node, dict) or key not in node:
            break
        node, depth = node[key], depth + 1
    return depth


def _locate(path: tuple, layers: list[Layer]) -> str:
    """The layer that set this key (the deepest match; the later layer on a tie, as it wins the merge)."""
    best: tuple[int, Layer] | None = None
    for layer in layers:
        depth = _depth(layer.values, path)
        if depth and (best is None or depth >= best[0]):
            best = (depth, layer)
    if best is None:
        return "params." + ".".join(map(str, path))
    return best[1].locate(path, best[0])


def params_problems(params: dict[str, Any], layers: Sequence[Layer] = ()) -> list[str]:
    """Every key and value type of the merged `params` that default.yaml does not have, and every linker that
    could not be built, each named by the file (or config section) and key path it came from."""
    # late import: the link stage imports config, which imports this module
    from .link.scoring import linkage_problems

    found = list(_walk(params, default_params(), ()))
    linkage = params.get("linkage")
    if isinstance(linkage, dict):
        for entity in LINKERS:
            if entity in linkage:
                found += [(("linkage", entity, *path), text) for path, text in linkage_problems(entity, linkage[entity])]
    return [f"{_locate(path, list(layers))}: {text}" for path, text in found]


# --- `$name` in rule SQL --------------------------------------------------------------------------------------

def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@cache
def _full_context():
    """A context in which every rule builds its widest SQL: every role, field, register kind and visits."""
    from .check.model import example_context
    from .schema import REGISTER_KINDS

    return example_context(registers=set(REGISTER_KINDS))


_REFS: dict[tuple[str, str, str], frozenset[str]] = {}  # (id, type, spec) → names: built once per process


def rule_param_refs(rule: Rule) -> frozenset[str]:
    """The `$names` a rule's SQL binds ("prefix*" for a name completed by Jinja), from its text and its widest build."""
    key = (rule.id, rule.type, repr(rule.spec))
    if key not in _REFS:
        _REFS[key] = _param_refs(rule)
    return _REFS[key]


def _param_refs(rule: Rule) -> frozenset[str]:
    from .check.long_views import RULE_SOURCES
    from .check.types import RULE_TYPES

    names = set()
    # the template's own text, every Jinja branch included, and the shared facts it reads
    for text in [*_strings(rule.spec), *(f.sql for f in rule.facts)]:
        for match in re.finditer(PARAM_REF.pattern + r"(\{\{)?", text):
            names.add(match.group(1) + ("*" if match.group(2) else ""))  # `$x_{{s}}`: a family of names
    try:
        names |= set(PARAM_REF.findall(RULE_TYPES[rule.type].build(rule, _full_context())))
    except Exception:  # noqa: BLE001 — a rule that does not build is the SQL dry run's to report; the text is scanned
        pass
    return frozenset(names - {RULE_SOURCES})  # the list a narrowed query reads is bound by the check itself


def unknown_rule_params(rules: list[Rule], params: dict[str, Any]) -> list[str]:
    # a default name whose value has the wrong shape is reported as a parameter problem, not once more per rule
    flat = {**flatten(default_params()), **flatten(params), "year": None}
    tables = {k for k, v in params.items() if is_year_map(v) or k in TABLE_PARAMS}
    problems = []
    for rule in rules:
        for name in sorted(rule_param_refs(rule)):
            if name in flat or (name.endswith("*") and any(k.startswith(name[:-1]) for k in flat)):
                continue
            shown = name.rstrip("*")
            hint = (f"({shown} 不是单个值:在 SQL 中读表 param_{shown})" if shown in tables
                    else did_you_mean(f"${shown}", [f"${k}" for k in flat]))
            problems.append(f"规则 {rule.id}({rule.source_file}): SQL 引用了不存在的参数 ${shown}{hint}")
    return problems


def _stamp(paths: list[Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.exists())


@lru_cache(maxsize=8)
def _rules(stamp: tuple, extra: tuple[Path, ...]) -> tuple[Rule, ...]:
    from .check.packs import load_rules

    return tuple(load_rules(extra=extra))


def pack_files_of(rule_files: Sequence[Path]) -> list[Path]:
    from .check.packs import pack_files

    return pack_files(extra=rule_files)


def selected_rules(rule_files: list[Path], packs: list[str], disabled: list[str]) -> list[Rule]:
    """The rules a run with these settings checks (as check/packs.py `select_rules`), read once per pack version:
    a province loads the same packs for every county."""
    rules = _rules(_stamp(pack_files_of(rule_files)), tuple(rule_files))
    return [r for r in rules if ("all" in packs or r.pack in packs) and r.id not in disabled]


# --- all of it ------------------------------------------------------------------------------------------------

def preflight_problems(config: Config, rule_params: bool = True) -> list[str]:
    """Every problem of the parameters, `province:`, rule `$params` and linkage settings of a loaded config.

    `rule_params=False` leaves the rules' `$params` to the run plan, which reports them together with the rule
    SQL that does not bind (config loading then checks only what the config itself says)."""
    from .check.packs import available_packs

    known_packs = set(available_packs(config.rule_files)) | {"all"}
    problems = [f"packs: 未知的规则包 {p!r}{did_you_mean(str(p), known_packs)}" for p in config.packs
                if p not in known_packs]
    layers, param_problems = param_layers(config.province, config.params_overrides, config.linkage)
    problems += param_problems + params_problems(config.params, layers)
    try:
        every = _rules(_stamp(pack_files_of(config.rule_files)), tuple(config.rule_files))
    except ConfigError as exc:  # a pack that does not load: its own problems, then no rule to look into
        return problems + [f"规则包: {p}" for p in exc.problems]
    ids = {r.id for r in every}
    problems += [f"rules.disable: 未知的规则编号 `{r}`{did_you_mean(r, ids)}" for r in config.rules_disable
                 if r not in ids]
    rules = selected_rules(config.rule_files, config.packs, config.rules_disable)
    return problems + (unknown_rule_params(rules, config.params) if rule_params else [])
