"""`reconcile rules list` / `reconcile rules explain`: the catalogue printed from the YAML packs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from ..config import Config, load_config, load_params
from ..errors import ReconcileError, did_you_mean
from ..report.labels import SEVERITY_LABELS, field_label, params_in_text, people_key
from ..schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, SURVEY_FIELDS
from .long_views import scope_text
from .model import RuleContext, example_context
from .packs import kinds, load_rules, pack_titles
from .params import PARAM_REF, TABLE_PARAMS, flatten, is_year_map
from .types import RULE_TYPES, long_view_of


def _need_label(need: str) -> str:
    kind, _, register = need.partition(":")
    if kind == "register" and register:  # "public_employee|vehicle": any one of them
        return "部门数据「" + "」或「".join(people_key(r) for r in register.split("|")) + "」"
    if kind == "all" and register:  # all:id_number — every registered source has the column
        return f"每个在册来源都有「{field_label(register)}」列"
    return people_key(need)


def _needs(rule) -> str:
    """What a rule needs, in people's words: 走访记录, 部门数据「教育学籍」, ≥2 个有「家庭人口数」的来源 …"""
    needs = [_need_label(n) for n in rule.needs]
    if rule.type == "compare":
        needs.append(f"≥2 个有「{field_label(rule.spec['field'])}」的来源("
                     + "/".join(people_key(s) for s in rule.spec["sources"]) + ")")
    return "、".join(needs) or "-"


def print_catalogue(console: Console, extra: Sequence[Path] = ()) -> None:
    """The catalogue of the built-in packs (and of the `extra` pack files a config adds)."""
    table = Table(title="规则目录")
    for col in ("编号", "问题类型", "名称", "规则包", "所需来源", "严重程度"):
        table.add_column(col)
    titles = {k: v.title for k, v in kinds().items()}
    packs = pack_titles(extra)
    for rule in load_rules(extra=extra):
        table.add_row(rule.id, titles[rule.kind], rule.title, packs.get(rule.pack, rule.pack), _needs(rule),
                      SEVERITY_LABELS.get(rule.severity, rule.severity))
    console.print(table)


def _config(config: Path | Config | None) -> Config | None:
    if config is None or isinstance(config, Config):
        return config
    return load_config(config)


def _example_context(config: Config | None) -> tuple[RuleContext, dict]:
    """The config's sources with every field; without a config, one source per role (model.example_context)."""
    if config is None:
        return example_context(), load_params("default", None)
    everything = set(HOUSEHOLD_FIELDS) | set(PERSON_FIELDS) | set(SURVEY_FIELDS)
    roles = {k: s.role for k, s in config.sources.items()}
    ctx = RuleContext(sources=list(roles), roles=roles, levels={k: s.level for k, s in config.sources.items()},
                      coverage={s: everything for s in roles}, registers={r.kind for r in config.registers.values()},
                      has_visits=config.visits is not None, year=config.year)
    return ctx, config.params


def explain_rule(rule_id: str, config_path: Path | Config | None, console: Console) -> None:
    """Print a rule's definition, the sources it compares, parameters and SQL (the same for every config: a run
    only narrows the long views to the rule's sources); with a config, the packs its `rules: {extra: …}` names
    are searched too and its parameter values shown."""
    config = _config(config_path)
    rules = {r.id: r for r in load_rules(extra=config.rule_files if config else ())}
    if rule_id not in rules:
        raise ReconcileError(f"没有规则 {rule_id}{did_you_mean(rule_id, rules)}")
    rule = rules[rule_id]
    kind = kinds()[rule.kind]
    pack = pack_titles(config.rule_files if config else ()).get(rule.pack, rule.pack)
    console.print(f"[bold]{rule.id}[/] {rule.title}  (规则包 {pack},规则类型 {rule.type})")
    console.print(f"问题类型: {kind.title}({rule.kind})— {kind.category};严重程度 "
                  f"{SEVERITY_LABELS.get(rule.severity, rule.severity)}")
    console.print(f"说明: {params_in_text(rule.description) if rule.description else kind.meaning}")
    console.print(f"所需来源: {_needs(rule)}")
    console.print(f"消息模板: {rule.message}")
    console.print(f"整改建议: {rule.advice}")
    ctx, params = _example_context(config)
    # a query over the long per-source views is the same for every config: print the rule's own text, and
    # which sources it compares; a typed rule's query is built for the (example) sources
    view = long_view_of(rule)  # a query over the long views is the same for every config: print it as written
    sql = view.query if view else RULE_TYPES[rule.type].build(rule, ctx)
    if view:
        console.print(f"比对的来源: {scope_text(view.scope)}")
    flat = {**flatten(params), "year": ctx.year}
    every_sql = "\n".join([*(f.sql for f in rule.facts), sql])  # what it binds, through the facts it reads too
    used = dict.fromkeys(PARAM_REF.findall(every_sql))
    tables = sorted({f"param_{k}" for k, v in params.items()
                     if (is_year_map(v) or k in TABLE_PARAMS) and re.search(rf"\bparam_{k}\b", every_sql)})
    if used or tables:
        console.print("参数:")
        for name in used:
            console.print(f"  ${name} = {flat.get(name)!r}")
        for table in tables:
            key = table.removeprefix("param_")
            console.print(f"  表 {table}: {yaml.safe_dump(params.get(key), allow_unicode=True).strip()}")
    for fact in rule.facts:
        console.print(f"共用查询 {fact.id}({fact.source_file}): {fact.description}")
        console.print(Syntax(fact.sql.strip(), "sql", word_wrap=True))
    console.print(Syntax(sql.strip(), "sql", word_wrap=True))
