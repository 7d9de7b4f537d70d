"""Rule type `procedure_order`: the dates of a procedure's steps, in order, with minimum gaps.

One type for identification (申请 → 评议 → 村公示 → 乡镇公示 → 县公告) and exit (评议 → 村公示 →
乡镇公示 → 县公告) and any other ordered procedure a source records as dates (domain §4).
Judged per source, on that source's own dates; one finding per household and source.

Parameters (YAML, beside the common rule keys):

- `steps`: the date fields in the order the steps must happen; each a field name or
  `{field: ..., label: ...}` (the label defaults to the field's 中文 name without 日期).
- `min_days` (optional): `{step field: param}` — the notice that starts at that step must last at least
  `param` days, i.e. until the next recorded step (`notice_days.exit_village`).
- `required_when` (optional): a field of the same record; when it has a value, every step must be
  recorded (`exit_year`: an exited household must show its exit steps). Without it a step is missing
  only when another step of the same procedure is recorded.
- `within_year_of` (optional): a year field of the same record; no step may fall in a later year
  (`exit_year`: the county 公告 of a 2019 exit must not be dated 2020).

Columns a message may use: `source_label`, `problems` (the sentences, joined by ;), `steps_shown`.
"""

from __future__ import annotations

from ..schema import HOUSEHOLD_FIELDS
from .long_views import LongView, build_view, scoped_sources
from .model import PARAM_NAME, Rule, RuleContext, param_ref
from .model import quote_literal as _quote


def _steps(rule: Rule) -> list[tuple[str, str]]:
    out = []
    for step in rule.spec.get("steps") or []:
        fld, label = (step.get("field"), step.get("label")) if isinstance(step, dict) else (step, None)
        default = HOUSEHOLD_FIELDS[fld].label.removesuffix("日期") if fld in HOUSEHOLD_FIELDS else str(fld)
        out.append((str(fld), str(label or default)))
    return out


class ProcedureOrderType:
    """Steps recorded as dates must be complete, in order, and leave each notice its minimum days."""

    keys = {"steps", "min_days", "required_when", "within_year_of"}

    def validate(self, rule: Rule) -> list[str]:
        spec, problems = rule.spec, []
        steps = _steps(rule)
        if len(steps) < 2:
            problems.append("procedure_order 规则需要 `steps`(至少两个按顺序排列的日期字段)")
        fields = [f for f, _ in steps]
        for fld in fields:
            if fld not in HOUSEHOLD_FIELDS or HOUSEHOLD_FIELDS[fld].value_kind != "date":
                problems.append(f"steps 中的 `{fld}` 不是户记录的日期字段")
        min_days = spec.get("min_days") or {}
        if not isinstance(min_days, dict):
            problems.append("min_days 应为 {步骤字段: 参数名}")
            min_days = {}
        for fld, name in min_days.items():
            if fld not in fields:
                problems.append(f"min_days 中的 `{fld}` 不在 steps 中")
            elif fld == fields[-1]:
                problems.append(f"min_days 中的 `{fld}` 是最后一步,其后没有可计算天数的步骤")
            if not PARAM_NAME.match(str(name)):
                problems.append(f"min_days 的 `{fld}` 应为参数名(如 notice_days.exit_village),不是天数本身")
        for key in ("required_when", "within_year_of"):
            if key in spec and spec[key] not in HOUSEHOLD_FIELDS:
                problems.append(f"{key} 的 `{spec[key]}` 不是户记录的字段")
        if "within_year_of" in spec and HOUSEHOLD_FIELDS.get(spec["within_year_of"]) and \
                HOUSEHOLD_FIELDS[spec["within_year_of"]].value_kind != "year":
            problems.append("within_year_of 应为年度字段(如 exit_year)")
        return problems

    def _sources(self, rule: Rule, ctx: RuleContext) -> list[str]:
        return scoped_sources(self.long_view(rule).scope, ctx)

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        if not self._sources(rule, ctx):
            return ["需要有程序日期列(" + "、".join(label for _, label in _steps(rule)) + "中任一列)的来源"]
        return []

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        return build_view(self.long_view(rule), ctx)

    def long_view(self, rule: Rule) -> LongView:
        """One query over `hh_source` for every config: a step is judged in a source that has its column
        (source_field), never from a column a file lacks (absent is not empty)."""
        spec = rule.spec
        steps = _steps(rule)
        min_days = spec.get("min_days") or {}
        required, within = spec.get("required_when"), spec.get("within_year_of")
        any_step = " or ".join(f'"{f}" is not null' for f, _ in steps)  # fields validated against the schema
        req = f' or "{required}" is not null' if required else ""
        year = f'"{within}"' if within else "null::bigint"
        parts = []
        for i, (fld, label) in enumerate(steps, start=1):
            gap = param_ref(min_days[fld]) if fld in min_days else "null"
            parts.append(
                f"select cluster_id, source, label as source_label, {i} as ord, {_quote(label)} as label, "
                f'"{fld}" as d, {gap}::integer as min_gap, {year} as within_year '
                f"from hh_source where present and ({any_step}{req}) "
                f"and source in (select source from source_field where field = {_quote(fld)})"
            )
        reads = [f for f, _ in steps] + [f for f in (required, within) if f]
        within_label = HOUSEHOLD_FIELDS[within].label if within else ""
        return LongView(f"""with dates as (
    {' union all '.join(parts)}
),
recorded as (
    select *, lag(d) over w as prev_d, lag(label) over w as prev_label,
           lead(d) over w as next_d, lead(label) over w as next_label
    from dates where d is not null
    window w as (partition by cluster_id, source order by ord)
),
problems as (
    select cluster_id, source, ord, '缺少' || label || '日期' as problem from dates where d is null
    union all
    select cluster_id, source, ord,
           label || '(' || strftime(d, '%Y-%m-%d') || ')早于' || prev_label || '(' || strftime(prev_d, '%Y-%m-%d') || ')'
    from recorded where d < prev_d
    union all
    select cluster_id, source, ord,
           label || '期仅' || date_diff('day', d, next_d) || '天(至' || next_label || '),应不少于' || min_gap || '天'
    from recorded where min_gap is not null and next_d >= d and date_diff('day', d, next_d) < min_gap
    union all
    select cluster_id, source, ord,
           label || '(' || strftime(d, '%Y-%m-%d') || ')晚于{within_label}' || within_year || '年'
    from recorded where within_year is not null and year(d) > within_year
),
judged as (
    select cluster_id, source, string_agg(problem, ';' order by ord, problem) as problems
    from problems group by cluster_id, source
),
shown as (  -- of the records judged only: every household's dates put into words were most of the query
    select cluster_id, source, any_value(source_label) as source_label,
           json_group_object_ordered(label, strftime(d, '%Y-%m-%d'), ord) as dates,
           any_value(within_year) as within_year,
           string_agg(label || ' ' || coalesce(strftime(d, '%Y-%m-%d'), '空'), ',' order by ord) as steps_shown
    from dates semi join judged using (cluster_id, source) group by cluster_id, source
),
gaps as (
    select cluster_id, source, json_group_object_ordered(label || '最少天数', min_gap, ord) as params
    from dates semi join judged using (cluster_id, source) where min_gap is not null group by cluster_id, source
)
select j.cluster_id, j.source as sources, s.source_label, j.problems, s.steps_shown, j.source as key,
       json_object(j.source, s.dates, '判断标准',
                   json_merge_patch(coalesce(g.params, '{{}}'::json),
                                    case when s.within_year is not null
                                         then json_object('{within_label}', s.within_year) else '{{}}'::json end))
           as evidence
from judged j join shown s using (cluster_id, source) left join gaps g using (cluster_id, source)
""", {"reads": reads, "any_fields": [f for f, _ in steps]})
