"""Rules over the long per-source views (check/long_views.py): plain SQL the same for every config, the
sources each compares said in its YAML (level / roles / fields / reads) and read by both the check and the plan."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reconcile.check.long_views import (
    declared_reads,
    in_scope,
    long_view_fields,
    reads_long_views,
    scope_problems,
    scoped_sources,
)
from reconcile.check.model import Rule, RuleContext
from reconcile.check.packs import load_rules
from reconcile.check.types import RULE_TYPES, long_view_of
from reconcile.cli import app
from reconcile.schema import HOUSEHOLD_FIELDS, PERSON_FIELDS, ROLES, SURVEY_FIELDS

FIELDS = {*HOUSEHOLD_FIELDS, *PERSON_FIELDS, *SURVEY_FIELDS}


def test_no_built_in_rule_is_a_template():
    """Every shipped sql rule is plain SQL: what `rules explain` prints is what runs, whatever the files."""
    templated = [r.id for r in load_rules() if r.type == "sql" and ("{%" in r.spec["sql"] or "{{" in r.spec["sql"])]
    assert templated == []


def test_fields_named_in_a_query_are_what_it_reads():
    sql = """select a."group", x as "values", s.head_id_valid, label as name  -- hh_size in a comment
             from hh_source s where s.note = 'income_total' group by cluster_id order by ord"""
    assert reads_long_views(sql)
    # group quoted as a column is read; `group by`, comments, quoted text and `as` names are not
    assert long_view_fields(sql, FIELDS) == {"group", "head_id", "note"}
    # an age reckoned from the derived birth date reads the birth date and the ID it may come from
    assert long_view_fields("select $year - year(known_birth) from person_source", FIELDS | {"birth_date", "id_number"}) \
        == {"birth_date", "id_number"}
    assert not reads_long_views("select * from hh_wide where present_system")
    assert not reads_long_views("{% for s in sources %}select 1 from hh_source{% endfor %}")


def test_scope_and_declared_reads():
    spec = {"level": "person", "roles": ["system", "manual"]}
    assert in_scope(spec, "system", "person") and not in_scope(spec, "system", "household")
    assert not in_scope(spec, "archive", "person") and in_scope({}, "survey", "household")
    reads = {"reads": {"survey": ["card_size"], "registered": ["hh_size"], "person": ["name"]}}
    assert declared_reads(reads, "survey", "household", False) == {"card_size"}
    assert declared_reads(reads, "system", "person", True) == {"hh_size", "name"}
    assert declared_reads({}, "system", "person", True) is None
    assert declared_reads({"reads": []}, "system", "person", True) == set()


@pytest.mark.parametrize(("spec", "says"), [
    ({"level": "household", "sql": "select 1 from hh_source"}, "level 只能是 person"),
    ({"roles": ["systm"], "sql": "select 1 from hh_source"}, "`systm` 不是来源角色"),
    ({"roles": ["system"], "sql": "select 1 from hh_wide"}, "只用于直接查询 hh_source"),
])
def test_a_wrong_scope_is_a_pack_error(spec, says):
    assert any(says in p for p in scope_problems(spec, ROLES))


def test_reads_naming_an_unknown_field_or_role_is_a_pack_error():
    rule = Rule(id="X-1", pack="p", type="sql", kind="household_missing", title="t", severity="low", needs=[],
                message="m", advice="a", spec={"sql": "select 1 from hh_source", "reads": {"nobody": ["hh_sise"]}})
    problems = RULE_TYPES["sql"].validate(rule)
    assert any("`nobody`" in p for p in problems) and any("`hh_sise`" in p for p in problems)


def test_the_check_narrows_the_views_to_the_rule_sources_by_a_bound_list():
    rule = next(r for r in load_rules() if r.id == "FC-HH-SIZE-ROWS")  # level: person, fields: [hh_size]
    ctx = RuleContext(sources=["system", "archive", "manual"], roles={"system": "system", "archive": "archive",
                                                                        "manual": "manual"},
                      levels={"system": "person", "archive": "household", "manual": "person"},
                      coverage={"system": {"hh_size"}, "archive": {"hh_size"}, "manual": set()},
                      registers=set(), has_visits=False, year=2020)
    sql_type = RULE_TYPES["sql"]
    view = long_view_of(rule)
    assert view is not None and scoped_sources(view.scope, ctx) == ["system"]
    built = sql_type.build(rule, ctx)
    assert "$rule_sources" in built and rule.spec["sql"] in built and "'system'" not in built
    everyone = RuleContext(**{**ctx.__dict__, "sources": ["system"], "coverage": {"system": {"hh_size"}}})
    assert sql_type.build(rule, everyone) == rule.spec["sql"]  # nothing to narrow: the rule's own text


def test_rules_explain_prints_the_same_sql_with_or_without_a_config(tmp_path):
    from reconcile.resources import sample_dir

    runner = CliRunner()
    bare = runner.invoke(app, ["rules", "explain", "FC-HEAD"])
    configured = runner.invoke(app, ["rules", "explain", "FC-HEAD", "--config", str(sample_dir() / "reconcile.yaml")])
    assert bare.exit_code == 0 and configured.exit_code == 0, bare.output + configured.output
    assert "hh_source" in bare.output and "比对的来源" in bare.output
    assert bare.output == configured.output


def test_compare_rules_read_the_long_views_too():
    """A compare rule is one query for every config; its roles, level and field are its scope."""
    rule = next(r for r in load_rules() if r.id == "FC-ID-NUMBER")  # level: person, valid_only
    view = long_view_of(rule)
    assert view is not None and "person_source" in view.query and "id_number_valid" in view.query
    assert view.scope["level"] == "person" and view.scope["fields"] == ["id_number"]



def test_every_built_in_rule_is_one_query_for_every_config():
    """Every type the shipped packs use gives its query over the long views: `rules explain` prints the same
    SQL whatever the files, and a run only narrows the views to the rule's sources."""
    assert [r.id for r in load_rules() if long_view_of(r) is None] == []
