"""Rule type `sql`: a query written in the rule itself, for what no other type says."""

from __future__ import annotations

import functools

import jinja2

from ..schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, REGISTER_KINDS, ROLES, SURVEY_FIELDS, register_fields
from .long_views import LongView, build_view, is_template, reads_long_views, reads_problems, scope_problems
from .model import Rule, RuleContext


@functools.lru_cache(maxsize=512)
def _template(text: str) -> jinja2.Template:
    """A rule's query template, compiled once per process (the run plan renders every rule twice, each run once more)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(text)


class SqlType:
    """A query written in the rule itself, for what no other type says.

    The built-in rules are plain SQL over the long views `hh_source` / `person_source`, their scope in YAML
    (check/long_views.py). A pack may still write a Jinja template over the wide views for structure only
    (which sources exist): `sources`, `person_sources`, `src(role)`, `label(source)`, `has(field, source)`,
    `year`. Values are bound parameters either way.
    """

    keys = {"sql", "fields", "any_fields", "register_fields", "level", "roles", "reads"}

    def validate(self, rule: Rule) -> list[str]:
        if not rule.spec.get("sql"):
            return ["sql 规则需要 `sql`"]
        scoped = scope_problems(rule.spec, ROLES) + reads_problems(
            rule.spec, ROLES, [*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS])
        if scoped:
            return scoped
        known = {*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS}
        for key, meaning in (("fields", "每个参与的来源都必须有这些列"), ("any_fields", "参与的来源至少有其中一列")):
            fields = rule.spec.get(key) or []
            if not isinstance(fields, list):
                return [f"{key} 应为字段名列表({meaning})"]
            bad = [f for f in fields if f not in known]
            if bad:
                return [f"{key} 中的 `{f}` 不是标准字段" for f in bad]
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

    def long_view(self, rule: Rule) -> LongView | None:
        """A plain query (no template): the same whatever the run's files. One over the long views reads the
        fields it names (or its `reads:`); one over other tables (links, registers) reads no source's columns."""
        sql = rule.spec["sql"]
        if is_template(sql):
            return None
        return LongView(sql, rule.spec if reads_long_views(sql) else {"reads": [], **rule.spec})

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        view = self.long_view(rule)
        if view:
            return build_view(view, ctx)
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
