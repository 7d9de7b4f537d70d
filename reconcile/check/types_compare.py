"""Rule type `compare`: one field across the sources that carry it; a difference is a finding."""

from __future__ import annotations

from ..schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, ROLES, SURVEY_FIELDS, field_kind
from .long_views import LongView, build_view, scoped_sources
from .model import PARAM_NAME, Rule, RuleContext, field_label, param_ref, quote_literal


def _display(column: str, kind: str) -> str:
    """SQL that renders a value the way a township officer writes it."""
    if kind == "money":
        return f"printf('%.2f', {column})"
    if kind == "date":
        return f"strftime({column}, '%Y-%m-%d')"
    if kind == "yearmonth":  # a month: the normaliser's first day is not something the source said
        return f"strftime({column}, '%Y-%m')"
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
        fld = rule.spec.get("field")
        if not fld:
            problems.append("compare 规则需要 `field`")
        elif fld not in {*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS}:
            problems.append(f"field `{fld}` 不是标准字段")
        if rule.spec.get("level", "household") not in ("household", "person"):
            problems.append("level 应为 household 或 person")
        roles = rule.spec.get("sources")
        if not roles:
            problems.append("compare 规则需要 `sources`(参与比较的来源角色)")
        else:
            problems += [f"sources 中的 `{r}` 不是来源角色" for r in roles if r not in ROLES]
        tolerance = rule.spec.get("tolerance")
        if tolerance is not None and not PARAM_NAME.match(str(tolerance)):
            problems.append(f"tolerance `{tolerance}` 应为参数名(如 income_tolerance)")
        return problems

    def long_view(self, rule: Rule) -> LongView:
        """One query over the long view of the rule's level, whatever the run's files; the sources it compares
        (roles in `sources`, member lists for `level: person`, those with the field's column) are its scope."""
        fld = rule.spec["field"]
        person = rule.spec.get("level") == "person"
        table, key = ("person_source", "person_cluster_id") if person else ("hh_source", "cluster_id")
        kind = field_kind(fld) if (person or fld not in PERSON_FIELDS) else PERSON_FIELDS[fld].value_kind
        col = f'"{fld}"'  # a schema field (validated), quoted
        cond = f"{col} is not null"
        if rule.spec.get("valid_only") and kind == "id":
            cond += " and id_number_valid" if person else f' and "{fld}_valid"'
        value = f"array_to_string(list_sort({col}), '、')" if kind.startswith("codes:") else col
        numeric = kind in ("money", "int", "year")
        differs = "min(v) <> max(v)"  # two values or more (v is never null): cheaper than a distinct count
        tolerance = rule.spec.get("tolerance")
        if numeric and tolerance:
            differs = (f"max(v) - min(v) > {param_ref(tolerance)}_absolute "
                       f"and max(v) - min(v) > {param_ref(tolerance)}_relative * greatest(abs(max(v)), abs(min(v)))")
        keys = f"{key}, any_value(cluster_id) as cluster_id" if person else key
        # the households (persons) whose sources differ first, then the evidence of those alone: built for every
        # group and then dropped, the evidence was most of a compare rule's time (issue 18)
        query = f"""with vals as (
    select {'person_cluster_id, ' if person else ''}cluster_id, source, label, ord, {value} as v,
           {_display(col, kind)} as shown
    from {table} where {cond}
),
differing as (
    select {key} from vals group by {key} having {differs}
)
select {keys},
       string_agg(source, ',' order by ord) as sources,
       json_group_object_ordered(source, shown, ord) as evidence,
       string_agg(label || ' ' || shown, ';' order by ord) as "values",
       {quote_literal(fld)} as key
from vals semi join differing using ({key})
group by {key}
"""
        scope = {"roles": list(rule.spec["sources"]), "fields": [fld], "reads": [fld]}
        return LongView(query, {**scope, "level": "person"} if person else scope)

    def _sources(self, rule: Rule, ctx: RuleContext) -> list[str]:
        return scoped_sources(self.long_view(rule).scope, ctx)

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        carrying = self._sources(rule, ctx)
        if len(carrying) < 2:
            label = field_label(rule.spec["field"])
            have = "、".join(ctx.label(s) for s in carrying) or "无"
            return [f"需要至少两个来源有「{label}」列才能比较(现有:{have})"]
        return []

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        return build_view(self.long_view(rule), ctx)
