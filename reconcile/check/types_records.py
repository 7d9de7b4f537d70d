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

A field counts as empty when the cell was blank: a value the normaliser could not read (an unknown
code, a mangled ID) is an input issue or another finding, not an empty field. A field the source
carries nowhere (no such column) is not judged household by household.

Columns a message may use: `source_label`, `fields` (labels of the empty fields, 、-separated),
`missing` (how many).
"""

from __future__ import annotations

import re

from ..schema import (
    HOUSEHOLD_FIELDS,
    ROLE_LABELS,
    SURVEY_FIELDS,
    UNJUDGED_KINDS,
    field_kind,
    household_fields,
)
from .model import Rule, RuleContext

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UNION = "\n    union all\n    "



def _empty(fld: str) -> str:
    """SQL true when the cell was blank (the raw text where the normaliser keeps one)."""
    if field_kind(fld) in UNJUDGED_KINDS:  # kept as trimmed text: empty is null
        return f'h."{fld}" is null'
    return f'(h."{fld}" is null and nullif(trim(h."{fld}_raw"), \'\') is null)'


class RequiredType:
    """A field listed as required for the record's role is empty."""

    keys = {"param", "roles", "not_applicable"}

    def validate(self, rule: Rule) -> list[str]:
        problems = []
        param = rule.spec.get("param")
        if not param or not PARAM_NAME.match(str(param)):
            problems.append("required 规则需要 `param`(每个角色一个字段清单的参数名,如 record_required)")
        roles = rule.spec.get("roles")
        if not roles or not isinstance(roles, list):
            problems.append("required 规则需要 `roles`(如 [manual, archive])")
        na = rule.spec.get("not_applicable") or {}
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

    def _condition(self, text: str, source: str, ctx: RuleContext) -> str | None:
        """Bare household field names → this source's value, then the others' in order of trust.

        None when the condition reads a field no file has: whether the field applies cannot be told, so it
        is not judged (absent is not empty: no file's missing column may create a finding)."""
        order = [source] + [s for s in ctx.sources if s != source]
        unknown: list[str] = []

        def value(match: re.Match) -> str:
            word = match.group(0)
            if word not in HOUSEHOLD_FIELDS and word not in SURVEY_FIELDS:
                return word
            carrying = [s for s in order if word in ctx.coverage.get(s, set())]
            if not carrying:
                unknown.append(word)
                return "null"
            return "coalesce(" + ", ".join(f'w."{word}_{s}"' for s in carrying) + ", null)"

        # only outside quoted literals
        parts = re.split(r"('(?:[^']|'')*')", text)
        sql = "".join(p if p.startswith("'") else WORD.sub(value, p) for p in parts)
        return None if unknown else sql

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        param = rule.spec["param"]
        na = rule.spec.get("not_applicable") or {}
        parts = []
        for s in self._sources(rule, ctx):
            role = ctx.roles[s]
            checks = []
            for order, (fld, spec) in enumerate(household_fields(role).items()):
                # a field the file has no column for, or one taken from the member rows (the head's own ID
                # when there is no 户主证件号码 column), is not a cell a clerk left blank
                if fld not in ctx.coverage.get(s, set()) or fld in ctx.derived.get(s, set()):
                    continue
                empty = _empty(fld)
                if fld in na:
                    condition = self._condition(na[fld], s, ctx)
                    if condition is None:
                        continue
                    empty += f" and not coalesce({condition}, false)"
                checks.append(f"{{'field': '{fld}', 'label': '{spec.label}', 'ord': {order}, 'empty': {empty}}}")
            if not checks:
                continue
            # one pass over the source's records; only the empty fields the parameter lists survive
            parts.append(
                f"select l.cluster_id, '{s}' as source, '{ctx.label(s)}' as source_label, '{role}' as role,\n"
                f"           ${param}_{role} as required,\n"
                f"           unnest(list_filter([\n             " + ",\n             ".join(checks) + "\n"
                f"           ], lambda c: c.empty and list_contains(${param}_{role}, c.field))) as c\n"
                f"    from hh_link l join src_household h on h.source = l.source and h.rec_key = l.rec_key\n"
                f"    join hh_wide w on w.cluster_id = l.cluster_id\n"
                f"    where l.source = '{s}' and l.is_primary"
            )
        if not parts:
            return "select null::varchar as cluster_id, '' as sources, '{}' as evidence where false"
        return f"""
with empty as (
    {UNION.join(parts)}
)
select cluster_id, source as sources, source as key, any_value(source_label) as source_label,
       string_agg(c.label, '、' order by c.ord) as fields, count(*) as missing,
       json_object(source, json_object('未填写', list(c.label order by c.ord)),
                   '参数', json_object('{param}.' || any_value(role), any_value(required))) as evidence
from empty
group by cluster_id, source
"""
