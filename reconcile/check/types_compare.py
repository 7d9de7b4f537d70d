"""Rule type `compare`: one field across the sources that carry it; a difference is a finding."""

from __future__ import annotations

from ..schema import PERSON_FIELDS, field_kind
from .model import Rule, RuleContext, field_label


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
