"""Rule types: the code behind rules. One explicit registry (DESIGN §12.2).

A type turns a rule's YAML parameters into one SQL query over the stage tables. The query
returns one row per finding with at least `cluster_id`, `sources` and `evidence` (JSON); it may
also return `person_cluster_id`, entity columns (township, village, hh_code, head_name, head_id,
person_name, person_id), `key` (what distinguishes two findings of one rule on one entity) and any
value the message template names. Values always go in as bound parameters ($name), never pasted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jinja2

from ..schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTR_LABELS,
    REGISTER_KIND_LABELS,
    REGISTER_KINDS,
    REGISTERED_ROLES,
    ROLE_LABELS,
    ROLES,
    SURVEY_FIELDS,
    field_kind,
    register_fields,
)
from .long_views import in_scope, narrowed, reads_long_views, reads_problems, scope_problems
from .packs import Rule
from .types_procedure import ProcedureOrderType
from .types_records import RequiredType
from .types_register import RegisterHitType


@dataclass
class RuleContext:
    sources: list[str]  # configured source keys, most trusted first
    roles: dict[str, str]  # source key -> role
    levels: dict[str, str]  # source key -> person / household
    coverage: dict[str, set[str]]  # source key -> fields with at least one value
    registers: set[str]  # register kinds present
    has_visits: bool
    year: int
    labels: dict[str, str] = field(default_factory=dict)
    register_fields: dict[str, set[str]] = field(default_factory=dict)  # register kind -> columns its file(s) have
    derived: dict[str, set[str]] = field(default_factory=dict)  # source key -> fields taken from member rows
    # need (a role, "register:<kind>", "visits") -> why its file was given but left out, for the reasons
    left_out: dict[str, str] = field(default_factory=dict)

    def has_attr(self, kind: str, attr: str) -> bool:
        """Does the register of `kind` carry `attr`? (True without a run plan: nothing says it is absent)"""
        return kind in self.registers and attr in self.register_fields.get(kind, {attr})

    def register_gaps(self, wanted: list[str]) -> list[str]:
        """`kind.attr` entries whose register is given but has no such column, as a person reads them."""
        gaps = []
        for entry in wanted:
            kind, attr = entry.split(".", 1)
            if kind in self.registers and not self.has_attr(kind, attr):
                label = register_fields(kind)[attr].label if attr in register_fields(kind) else attr
                gaps.append(f"部门数据「{REGISTER_KIND_LABELS.get(kind, kind)}」没有「{label}」列")
        return gaps

    def with_role(self, *roles: str) -> list[str]:
        return [s for s in self.sources if self.roles[s] in roles]

    def person_sources(self) -> list[str]:
        return [s for s in self.sources if self.levels[s] == "person"]

    def carrying(self, fld: str, candidates: list[str]) -> list[str]:
        return [s for s in candidates if fld in self.coverage.get(s, set())]

    def label(self, source: str) -> str:
        return self.labels.get(source) or ROLE_LABELS.get(self.roles[source], source)

    def missing_needs(self, needs: list[str]) -> list[str]:
        missing = []
        for need in needs:
            if need.startswith("all:"):  # all:id_number — every registered record source has that column
                fld = need.split(":", 1)[1]
                lacking = [s for s in self.with_role(*REGISTERED_ROLES)
                           if fld not in self.coverage.get(s, set())
                           and (fld not in PERSON_FIELDS or fld in HOUSEHOLD_FIELDS or self.levels[s] == "person")]
                if lacking:
                    missing.append(f"all:{fld}:" + ",".join(lacking))
            elif need.startswith("register:"):  # register:a|b — any one of these register kinds
                if not set(need.split(":", 1)[1].split("|")) & self.registers:
                    missing.append(need)
            elif need == "visits":
                if not self.has_visits:
                    missing.append(need)
            elif not self.with_role(need):
                missing.append(need)
        return missing


def field_label(name: str) -> str:
    """The Chinese label of a canonical field (its code when it has none)."""
    for table in (PERSON_FIELDS, HOUSEHOLD_FIELDS, SURVEY_FIELDS):
        if name in table:
            return table[name].label
    return REGISTER_ATTR_LABELS.get(name, name)


def _display(column: str, kind: str) -> str:
    """SQL that renders a value the way a township officer writes it."""
    if kind == "money":
        return f"printf('%.2f', {column})"
    if kind in ("date", "yearmonth"):
        return f"strftime({column}, '%Y-%m-%d')"
    if kind == "bool":
        return f"case when {column} then '是' else '否' end"
    if kind.startswith("codes:"):
        return f"array_to_string(list_sort({column}), '、')"
    return f"{column}::varchar"


class CompareType:
    """Compare one field across the sources that carry it; a difference is a finding."""

    keys = {"field", "sources", "level", "tolerance", "valid_only"}

    def validate(self, rule: Rule) -> list[str]:
        problems = []
        if not rule.spec.get("field"):
            problems.append("compare 规则需要 `field`")
        if rule.spec.get("level", "household") not in ("household", "person"):
            problems.append("level 应为 household 或 person")
        if not rule.spec.get("sources"):
            problems.append("compare 规则需要 `sources`(参与比较的来源角色)")
        return problems

    def _sources(self, rule: Rule, ctx: RuleContext) -> list[str]:
        candidates = ctx.with_role(*rule.spec["sources"])
        if rule.spec.get("level") == "person":
            candidates = [s for s in candidates if ctx.levels[s] == "person"]
        return ctx.carrying(rule.spec["field"], candidates)

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        carrying = self._sources(rule, ctx)
        if len(carrying) < 2:
            label = field_label(rule.spec["field"])
            have = "、".join(ctx.label(s) for s in carrying) or "无"
            return [f"需要至少两个来源有「{label}」列才能比较(现有:{have})"]
        return []

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        fld = rule.spec["field"]
        person = rule.spec.get("level") == "person"
        table, key = ("person_wide", "person_cluster_id") if person else ("hh_wide", "cluster_id")
        kind = field_kind(fld) if (person or fld not in PERSON_FIELDS) else PERSON_FIELDS[fld].kind
        parts = []
        for order, s in enumerate(self._sources(rule, ctx)):
            col = f'"{fld}_{s}"'
            cond = f"{col} is not null"
            if rule.spec.get("valid_only") and kind == "id":
                cond += f' and "{fld}_valid_{s}"' if not person else f' and "id_number_valid_{s}"'
            value = f"array_to_string(list_sort({col}), '、')" if kind.startswith("codes:") else col
            parts.append(
                f"select {key}, '{s}' as source, '{ctx.label(s)}' as label, {order} as ord, "
                f"{value} as v, {_display(col, kind)} as shown from {table} where {cond}"
            )
        numeric = kind in ("money", "int", "year")
        differs = "count(distinct v) > 1"
        tolerance = rule.spec.get("tolerance")
        if numeric and tolerance:
            differs = (f"max(v) - min(v) > ${tolerance}_absolute "
                       f"and max(v) - min(v) > ${tolerance}_relative * greatest(abs(max(v)), abs(min(v)))")
        cluster = "any_value(w.cluster_id)" if person else "vals.cluster_id"
        join = f"join {table} w on w.{key} = vals.{key}" if person else ""
        select_key = f"vals.{key}, {cluster} as cluster_id" if person else "vals.cluster_id"
        return f"""
with vals as (
    {' union all '.join(parts)}
)
select {select_key},
       string_agg(vals.source, ',' order by ord) as sources,
       json_group_object_ordered(vals.source, vals.shown, ord) as evidence,
       string_agg(label || ' ' || shown, ';' order by ord) as "values",
       '{fld}' as key
from vals {join}
group by vals.{key}
having {differs}
"""


@functools.lru_cache(maxsize=512)
def _template(text: str) -> jinja2.Template:
    """A rule's query template, compiled once per process (the run plan renders every rule twice, each run once more)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(text)


class SqlType:
    """A query written in the rule itself, for what no other type says.

    The query is a Jinja template for structure only (which sources exist); values are bound
    parameters. Available in the template: `sources`, `person_sources`, `src(role)` (keys of that role),
    `label(source)`, `has(field, source)`, `year`.
    """

    keys = {"sql", "fields", "register_fields", "level", "roles", "reads"}
    bound = ("rule_sources",)  # bound by `params`, not from the config

    def validate(self, rule: Rule) -> list[str]:
        if not rule.spec.get("sql"):
            return ["sql 规则需要 `sql`"]
        scoped = scope_problems(rule.spec, ROLES) + reads_problems(
            rule.spec, ROLES, [*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS])
        if scoped:
            return scoped
        known = {*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS}
        fields = rule.spec.get("fields") or []
        if not isinstance(fields, list):
            return ["fields 应为字段名列表(每个参与的来源都必须有这些列)"]
        bad = [f for f in fields if f not in known]
        if bad:
            return [f"fields 中的 `{f}` 不是标准字段" for f in bad]
        wanted = rule.spec.get("register_fields") or []
        if not isinstance(wanted, list):
            return ["register_fields 应为 部门数据种类.字段 的列表(如 housing.housing_grade)"]
        return [f"register_fields 中的 `{w}` 不是 部门数据种类.标准字段(如 housing.housing_grade)" for w in wanted
                if "." not in str(w) or str(w).split(".", 1)[0] not in REGISTER_KINDS
                or str(w).split(".", 1)[1] not in register_fields(str(w).split(".", 1)[0])]
        try:
            jinja2.Environment().parse(rule.spec["sql"])
        except jinja2.TemplateSyntaxError as exc:
            return [f"sql 模板语法错误(第 {exc.lineno} 行): {exc.message}"]
        return []

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        return []

    def scope(self, rule: Rule, ctx: RuleContext) -> list[str]:
        """The sources a query over the long views compares (see check/long_views.py)."""
        fields = rule.spec.get("fields") or []
        return [s for s in ctx.sources if in_scope(rule.spec, ctx.roles[s], ctx.levels[s])
                and all(f in ctx.coverage.get(s, set()) for f in fields)]

    def params(self, rule: Rule, ctx: RuleContext) -> dict[str, object]:
        """Values the built query binds besides the config's parameters."""
        return {self.bound[0]: self.scope(rule, ctx)} if reads_long_views(rule.spec["sql"]) else {}

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        if reads_long_views(rule.spec["sql"]):
            narrow = self.scope(rule, ctx) != ctx.sources
            return narrowed(rule.spec["sql"]) if narrow else rule.spec["sql"]
        template = _template(rule.spec["sql"])
        # a source without every column the rule declares in `fields` is left out of the lists the template
        # loops over: its absent column must not read as an empty cell on every row
        fields = rule.spec.get("fields") or []

        def carrying(sources: list[str]) -> list[str]:
            return [s for s in sources if all(f in ctx.coverage.get(s, set()) for f in fields)]

        return template.render(
            sources=carrying(ctx.sources), person_sources=carrying(ctx.person_sources()),
            src=lambda *r: carrying(ctx.with_role(*r)),
            label=ctx.label, has=lambda f, s: f in ctx.coverage.get(s, set()), year=ctx.year,
            roles=ctx.roles, has_attr=ctx.has_attr,
        )

    def unchecked(self, rule: Rule, ctx: RuleContext) -> list[str]:
        """Register columns the rule reads (`register_fields`) that a given register does not have."""
        return ctx.register_gaps(rule.spec.get("register_fields") or [])


RULE_TYPES: dict[str, CompareType | SqlType | RequiredType | RegisterHitType | ProcedureOrderType] = {
    "compare": CompareType(),
    "sql": SqlType(),
    "required": RequiredType(),
    "register_hit": RegisterHitType(),
    "procedure_order": ProcedureOrderType(),
}
