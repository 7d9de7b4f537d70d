"""Rule type `required`: fields a record of some role must carry are filled (扶贫手册/台账填写不全).

Which fields are required is a parameter, one list per role (`record_required.manual`,
`record_required.archive`), bound at run time: the query lists every household field the source
carries and keeps those the parameter names, so changing the list needs no change to the rule.

Parameters (YAML, beside the common rule keys):

- `param`: the parameter holding one field list per role (`record_required`).
- `roles`: the roles judged (`[manual, archive]`); each needs a list `<param>.<role>`.
- `not_applicable` (optional): `{field: condition}`; the field is not missing where the SQL condition
  holds. Bare household field names in the condition read the household's value: this source's
  first, then the other sources' in order of trust (`status is distinct from '已脱贫'`).
- `level` (optional): `household` (default: the record's household fields) or `person` (each member row's
  person fields: 与户主关系, 出生日期, 性别, 证件号码 …); a person rule gives one finding per household and
  source, naming each member and the fields left empty.

A field counts as empty when the cell was blank: a value the normaliser could not read (an unknown
code, a mangled ID) is an input issue or another finding, not an empty field. A field the source
carries nowhere (no such column) is not judged household by household.

Columns a message may use: `source_label`, `fields` (labels of the empty fields, 、-separated; for a
person rule each member with theirs: 李芳(与户主关系、出生日期);第5行(姓名)), `missing` (how many).
"""

from __future__ import annotations

import re

from ..schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    ROLE_LABELS,
    SURVEY_FIELDS,
    UNJUDGED_KINDS,
    field_kind,
    household_fields,
)
from .long_views import LongView, build_view
from .model import PARAM_NAME, Rule, RuleContext, param_ref
from .model import quote_literal as _quote

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")



def _empty(fld: str) -> str:
    """SQL true when the record's cell was blank (the raw text where the normaliser keeps one)."""
    if field_kind(fld) in UNJUDGED_KINDS:  # kept as trimmed text: empty is null
        return f'"{fld}" is null'
    return f'("{fld}" is null and nullif(trim("{fld}_raw"), \'\') is null)'


def _labels_of(required: str, fields: dict) -> str:
    """SQL: the list `required` (field names, a parameter) as a person reads it (与户主关系, not relation)."""
    cases = " ".join(f"when {_quote(fld)} then {_quote(spec.label)}" for fld, spec in fields.items())
    return f"list_transform({required}, lambda f: case f {cases} else f end)"


class RequiredType:
    """A field listed as required for the record's role is empty."""

    keys = {"param", "roles", "not_applicable", "level"}

    def validate(self, rule: Rule) -> list[str]:
        problems = []
        param = rule.spec.get("param")
        if not param or not PARAM_NAME.match(str(param)):
            problems.append("required 规则需要 `param`(每个角色一个字段清单的参数名,如 record_required)")
        roles = rule.spec.get("roles")
        if not roles or not isinstance(roles, list):
            problems.append("required 规则需要 `roles`(如 [manual, archive])")
        level = rule.spec.get("level", "household")
        if level not in ("household", "person"):
            problems.append("required 规则的 `level` 应为 household 或 person")
        na = rule.spec.get("not_applicable") or {}
        if level == "person" and na:
            problems.append("person 级的 required 规则不支持 not_applicable")
        if not isinstance(na, dict):
            problems.append("not_applicable 应为 字段: 条件 的映射")
        else:
            for fld in na:
                if fld not in HOUSEHOLD_FIELDS and fld not in SURVEY_FIELDS:
                    problems.append(f"not_applicable 中的 `{fld}` 不是户字段")
        return problems

    def _sources(self, rule: Rule, ctx: RuleContext) -> list[str]:
        return ctx.with_role(*rule.spec["roles"])

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        if not self._sources(rule, ctx):
            return ["需要" + "或".join(f"「{ROLE_LABELS.get(r, r)}」" for r in rule.spec["roles"]) + "文件"]
        return []

    def _condition(self, text: str) -> tuple[str, list[str]]:
        """Bare field names → the record's own value, else the value of the most trusted source that has one
        (`first_values`); with the fields it reads. A field no file has cannot say whether a field applies,
        so the rule does not judge it (absent is not empty: no missing column may create a finding)."""
        words: list[str] = []

        def value(match: re.Match) -> str:
            word = match.group(0)
            if word not in HOUSEHOLD_FIELDS and word not in SURVEY_FIELDS:
                return word
            words.append(word)
            return f'coalesce("{word}", "first_{word}")'

        # only outside quoted literals
        parts = re.split(r"('(?:[^']|'')*')", text)
        return "".join(p if p.startswith("'") else WORD.sub(value, p) for p in parts), words

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        if rule.spec.get("level") == "person":
            return build_view(self._person_view(rule, self._carried(rule, ctx)), ctx)
        return build_view(self.long_view(rule), ctx)

    def long_view(self, rule: Rule) -> LongView:
        if rule.spec.get("level") == "person":
            return self._person_view(rule)
        return self._household_view(rule)

    def _carried(self, rule: Rule, ctx: RuleContext) -> set[str] | None:
        """The member fields some judged file has a column for: the only ones whose empty cells the query works
        out. A field no file carries is an all-null column of every row; listed as empty in each of them, then
        dropped, it made every member row's list (issue 18: the three person rules, 85 s of a million
        households' check). None when no judged file carries one: the query over every field then."""
        carried = {f for s in self._sources(rule, ctx)
                   for f in ctx.coverage.get(s, set()) - ctx.derived.get(s, set()) if f in PERSON_FIELDS}
        return carried or None

    def _person_view(self, rule: Rule, carried: set[str] | None = None) -> LongView:
        """Each member row of a judged role's records, each person field its file has a column for and its
        role's list requires, left empty; one finding per household and source naming each member. `carried`
        narrows the fields worked out to those some judged file has (the query's result is the same)."""
        param = rule.spec["param"]
        roles = list(rule.spec["roles"])
        named = {f: spec for f, spec in PERSON_FIELDS.items() if f not in ("hh_code", "rec_id")}
        fields = {f: spec for f, spec in named.items() if carried is None or f in carried}
        # each row's empty cells first, in one pass (most rows have none); only those are matched with the lists
        empties = ", ".join(f"case when {_empty(fld)} then {_quote(fld)} end" for fld in fields)
        labels = ", ".join(f"({_quote(fld)}, {_quote(spec.label)}, {order})"
                           for order, (fld, spec) in enumerate(fields.items()))
        required = "case r.judged_role " + " ".join(f"when {_quote(r)} then {param_ref(param + '.' + r)}"
                                                    for r in roles) + " end"
        query = f"""
with carried as (  -- the columns each file has
    select source, list(field) as fields from source_field where not derived group by source
),
field_label(field, label, ord) as (values {labels}),
rows as (  -- each member row of a judged role with the fields it left empty
    select source, row, name, hh_cluster as cluster_id, source_label, judged_role,
           list_filter([{empties}], lambda c: c is not null) as empties
    from (select p.*, w.cluster_id as hh_cluster, i.label as source_label, i.role as judged_role
          from person_link l join src_person p on p.source = l.source and p.rec_key = l.rec_key
          join person_wide w on w.person_cluster_id = l.person_cluster_id
          join source_info i on i.source = p.source
          where l.is_primary and w.cluster_id is not null and i.role in ({", ".join(_quote(r) for r in roles)}))
),
empty as (  -- of those, the ones its role's list requires and its file has a column for
    select r.cluster_id, r.source, r.source_label, r.judged_role as role, {required} as required, r.row,
           coalesce(r.name, '第' || r.row || '行') as who,
           unnest(list_filter(r.empties, lambda e: list_contains({required}, e)
                                                  and list_contains(f.fields, e))) as field
    from rows r join carried f on f.source = r.source
    where len(r.empties) > 0
),
people as (
    select cluster_id, source, any_value(source_label) as source_label, any_value(role) as role,
           any_value(required) as required, who, row, list(l.label order by l.ord) as labels
    from empty join field_label l using (field) group by cluster_id, source, who, row
)
select cluster_id, source as sources, source as key, any_value(source_label) as source_label,
       string_agg(who || '(' || array_to_string(labels, '、') || ')', ';' order by row) as fields,
       sum(len(labels)) as missing,
       json_object(source, json_group_object_ordered(who, labels, row),
                   '必填项', {_labels_of("any_value(required)", named)}) as evidence
from people
group by cluster_id, source
"""
        # the plan lists the member lists it judges (every one has names); which required columns a file lacks is
        # the plan's own notice (_required_absent), for the lists this config's parameters give
        return LongView(query, {"roles": roles, "level": "person", "reads": {"all": ["name"]}})

    def _household_view(self, rule: Rule) -> LongView:
        """One query for every config: each record of a judged role, each field its file has a
        column for (not one taken from the member rows: the head's own ID when there is no 户主证件号码
        column is not a cell a clerk left blank) and its role's list requires, left empty."""
        param = rule.spec["param"]
        roles = list(rule.spec["roles"])
        na = rule.spec.get("not_applicable") or {}
        conditions: dict[str, str] = {}
        read: list[str] = []
        for fld, text in na.items():
            sql, words = self._condition(text)
            read += [w for w in words if w not in read]
            known = " and ".join(f"{_quote(w)} in (select field from source_field)" for w in dict.fromkeys(words))
            conditions[fld] = f" and {known or 'true'} and not coalesce({sql}, false)"
        # the fields a judged role's records have; their emptiness is worked out only for the few a list requires
        fields = {f: spec for r in roles for f, spec in household_fields(r).items()}
        listed = ", ".join(f"{{'field': {_quote(fld)}, 'label': {_quote(spec.label)}, 'ord': {order}}}"
                           for order, (fld, spec) in enumerate(fields.items()))
        empty = " ".join(f"when {_quote(fld)} then {_empty(fld)}{conditions.get(fld, '')}" for fld in fields)
        required = "case i.role " + " ".join(f"when {_quote(r)} then {param_ref(param + '.' + r)}" for r in roles) + " end"
        firsts = ", ".join(f'arg_min("{w}", ord) filter (where "{w}" is not null) as "first_{w}"' for w in read)
        first_values = (f"select cluster_id, {firsts} from hh_source group by cluster_id" if read
                        else "select distinct cluster_id from hh_source")
        query = f"""
with carried as (  -- the columns each file has, not taken from member rows
    select source, list(field) as fields from source_field where not derived group by source
),
first_values as (  -- what the most trusted source that records it says, for the not-applicable conditions
    {first_values}
),
asked as (  -- each record of a judged role × each field its list requires and its file has (src_household
            -- keeps each cell's raw text: an empty cell is not a bad one)
    select h.*, l.cluster_id, i.label as source_label, i.role as judged_role, {required} as required,
           v.* exclude (cluster_id),
           unnest(list_filter([{listed}],
                              lambda c: list_contains({required}, c.field) and list_contains(f.fields, c.field))) as c
    from hh_link l join src_household h on h.source = l.source and h.rec_key = l.rec_key
    join source_info i on i.source = h.source join carried f on f.source = h.source
    join first_values v on v.cluster_id = l.cluster_id
    where l.is_primary and i.role in ({", ".join(_quote(r) for r in roles)})
),
empty as (
    select cluster_id, source, source_label, judged_role as role, required, c from asked
    where case c.field {empty} end
)
select cluster_id, source as sources, source as key, any_value(source_label) as source_label,
       string_agg(c.label, '、' order by c.ord) as fields, count(*) as missing,
       json_object(source, json_object('未填写', list(c.label order by c.ord)),
                   '必填项', {_labels_of("any_value(required)", fields)}) as evidence
from empty
group by cluster_id, source
"""
        # not narrowed to the judged roles: a not-applicable condition reads every source
        return LongView(query, {"reads": {"first": read}})
