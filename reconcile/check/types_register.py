"""Rule type `register_hit`: a person of a registered household appears in department registers.

One type for every "this member is on that department's list" rule (DESIGN §7: types over copies):
财政供养 / vehicles / commercial housing / business registration (`ineligible_member`), the death
register (`deceased_listed`), the student register with status 辍学 and the medical register with a
status other than insured (`wrong_exit_guarantee`) ...

Parameters (YAML, beside the common rule keys):

- `kinds`: register kinds to look in (`[public_employee, vehicle, property, business]`); the rule runs
  on those present and is skipped when none is.
- `condition` (optional): `{attr: <register attr>, in: <param>}` or `{attr: ..., not_in: <param>}`;
  the register row counts only when its parsed attr value is (not) in the list parameter `<param>`
  (a name in rules/params, dots for nesting: `notice_days.exit_village`). Values are never literals.
- `households`: `registered` (default: any household a system/archive/manual record holds) or
  `exited` (marked 已脱贫, and not a monitored household whose risk is still open).
- `age` (optional): a `{min, max}` parameter (e.g. `school_age`); only persons of that age at
  31 December of the assessment year (from the birth date the ID number encodes).
- `entity`: `person` (default: the finding names the person) or `household` (names the household only).

Columns a message may use: `member_name`, `member_id`, `relation`, `age`, `register_label`,
`detail` (the register row's fields), `listed_in` (sources listing the person), `status`, `exit_year`,
and each standard attr of the kinds by its name (`death_date`, `student_status`, `plate` ...).
Evidence: the register rows' fields, what each source lists, and the parameters judged against.
"""

from __future__ import annotations

from ..schema import (
    REGISTER_ATTR_LABELS,
    REGISTER_ATTRS,
    REGISTER_KIND_LABELS,
    REGISTER_KINDS,
    REGISTERED_ROLES,
)
from .long_views import LongView, build_view
from .model import PARAM_NAME, Fact, Rule, RuleContext, param_ref
from .model import quote_literal as _quote

HOUSEHOLD_FILTERS = ("registered", "exited")
OWN_COLUMNS = {"relation", "age", "status", "exit_year", "detail", "listed_in", "register_label", "sources",
               "evidence", "key", "cluster_id", "member_name", "member_id"}


# Every record of a registered source that gives a valid ID number, by household: the same for every register_hit
# rule, so a fact of the type, built once per check by the engine like a pack's (issue 18). What each source says
# of a person (REGISTERED_PEOPLE) is gathered by each rule for the people its registers list only: gathered in the
# fact for every registered person, it was most of the register rules' time.
REGISTERED_LISTING = Fact(
    id="fact_registered_listing",
    description="在册名单:各在册来源(国家系统、村级档案、扶贫手册)按户列出的每个有效证件号码及其记载",
    source_file="规则类型 register_hit",
    sql="""
select l.cluster_id, l.person_cluster_id, p.source, i.ord, i.label, p.id_number, p.name, p.relation
from src_person p join person_link l on l.source = p.source and l.rec_key = p.rec_key
join source_info i on i.source = p.source
where i.registered and p.id_number_valid
union all  -- each record's head
select k.cluster_id, null::varchar, h.source, i.ord, i.label, h.head_id, h.head_name, '户主'
from src_household h join hh_link k on k.source = h.source and k.rec_key = h.rec_key
join source_info i on i.source = h.source
where i.registered and h.head_id_valid
""",
)

# CTEs of a register_hit query, after its `hits`: `registered`, each person a registered source lists and the
# register lists too, by household, with the sources and what each says of them
REGISTERED_PEOPLE = """
listed as (
    select * from fact_registered_listing where id_number in (select id_number from hits)
),
people as (
    select cluster_id, id_number, any_value(person_cluster_id) as person_cluster_id,
           arg_min(name, ord) as name, arg_min(relation, ord) as relation,
           string_agg(distinct source, ',' order by source) as sources
    from listed group by cluster_id, id_number
),
listing as (  -- what each source lists: one entry per source (a member row and a head row may both match:
              -- the one that says the relation is shown)
    select cluster_id, id_number, json_group_object_ordered(source, shown, source) as listing
    from (select cluster_id, id_number, source,
                 arg_min(coalesce(relation || ' ', '') || name, relation is null) as shown
          from listed group by cluster_id, id_number, source)
    group by cluster_id, id_number
),
listed_in as (
    select cluster_id, id_number, string_agg(label, '、' order by ord) as listed_in
    from (select distinct cluster_id, id_number, label, ord from listed) group by cluster_id, id_number
),
registered as (
    select p.*, l.listed_in, li.listing
    from people p
    join listed_in l on l.cluster_id = p.cluster_id and l.id_number = p.id_number
    join listing li on li.cluster_id = p.cluster_id and li.id_number = p.id_number
)"""


class RegisterHitType:
    """A person of a registered household is listed in register kinds K (with an attr condition)."""

    keys = {"kinds", "condition", "households", "age", "entity"}
    facts = (REGISTERED_LISTING,)

    def validate(self, rule: Rule) -> list[str]:
        spec, problems = rule.spec, []
        kinds = spec.get("kinds")
        if not kinds or not isinstance(kinds, list):
            problems.append("register_hit 规则需要 `kinds`(部门数据种类列表)")
            kinds = []
        for kind in kinds:
            if kind not in REGISTER_KINDS:
                problems.append(f"未知的部门数据种类 `{kind}`(应为 {', '.join(REGISTER_KINDS)} 之一)")
        cond = spec.get("condition")
        if cond is not None:
            ops = [op for op in ("in", "not_in") if op in (cond if isinstance(cond, dict) else {})]
            if not isinstance(cond, dict) or not cond.get("attr") or len(ops) != 1:
                problems.append("condition 应为 {attr: 字段, in: 参数名} 或 {attr: 字段, not_in: 参数名}")
            else:
                if not any(cond["attr"] in REGISTER_ATTRS.get(k, {}) for k in kinds):
                    problems.append(f"condition 的字段 `{cond['attr']}` 不是所列部门数据的标准字段")
                if not PARAM_NAME.match(str(cond[ops[0]])):
                    problems.append(f"condition 的 {ops[0]} 应为参数名(rules/params 中的列表),不是取值本身")
                extra = set(cond) - {"attr", *ops}
                if extra:
                    problems.append(f"condition 中未知的键: {', '.join(sorted(extra))}")
        if spec.get("households", "registered") not in HOUSEHOLD_FILTERS:
            problems.append(f"households 应为 {' / '.join(HOUSEHOLD_FILTERS)}")
        if "age" in spec and not PARAM_NAME.match(str(spec["age"])):
            problems.append("age 应为参数名(含 min / max,如 school_age)")
        if spec.get("entity", "person") not in ("person", "household"):
            problems.append("entity 应为 person 或 household")
        return problems

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]:
        missing = []
        if not ctx.with_role(*REGISTERED_ROLES):
            missing.append("需要「国家系统」「村级档案」或「扶贫手册」文件")
        declared = any(n.startswith("register:") for n in rule.needs)  # the engine reports those itself
        if not declared and not set(rule.spec["kinds"]) & ctx.registers:
            missing.append("register:" + "|".join(rule.spec["kinds"]))
        elif set(rule.spec["kinds"]) & ctx.registers and not self._kinds(rule, ctx):
            missing += [g + ",无法判断" for g in self.unchecked(rule, ctx)]
        return missing

    def _kinds(self, rule: Rule, ctx: RuleContext) -> list[str]:
        """The given registers this rule can judge: with a condition, only those that have its column."""
        cond = rule.spec.get("condition")
        return [k for k in rule.spec["kinds"] if k in ctx.registers and (not cond or ctx.has_attr(k, cond["attr"]))]

    def unchecked(self, rule: Rule, ctx: RuleContext) -> list[str]:
        cond = rule.spec.get("condition")
        return ctx.register_gaps([f"{k}.{cond['attr']}" for k in rule.spec["kinds"]]) if cond else []

    def build(self, rule: Rule, ctx: RuleContext) -> str:
        return build_view(self.long_view(rule), ctx)

    def long_view(self, rule: Rule) -> LongView:
        """One query for every config over the registered sources' records (`source_info` says which) and the
        long view `hh_source`; a register kind not given, or without the condition's column, has no row that
        can match, so it needs no leaving out here."""
        spec = rule.spec
        kinds = list(spec["kinds"])
        household_filter = ""
        if spec.get("households", "registered") == "exited":
            household_filter = "and hh.status = '已脱贫' and coalesce(hh.risk_status, '') <> '未消除'"

        cond, cond_filter, params = spec.get("condition"), "", []
        if cond:
            op = "in" if "in" in cond else "not_in"
            ref = param_ref(cond[op])
            negate = "not " if op == "not_in" else ""
            cond_filter = (
                f"and exists (select 1 from register_attr a where a.register = r.register and a.file = r.file "
                f"and a.row = r.row and a.attr = {_quote(cond['attr'])} and a.value is not null "
                f"and {negate}list_contains({ref}, a.value))"
            )
            params.append(f"{_quote(cond[op])}, {ref}")
        age_filter = ""
        if spec.get("age"):
            lo, hi = param_ref(spec["age"] + ".min"), param_ref(spec["age"] + ".max")
            age_filter = f"and $year - year(r.id_number_birth) between {lo} and {hi}"
            params.append(f"{_quote(spec['age'] + '.min')}, {lo}, {_quote(spec['age'] + '.max')}, {hi}")

        attrs = list(dict.fromkeys(a for k in kinds for a in REGISTER_ATTRS.get(k, {})))
        labels = " ".join(f"when {_quote(a)} then {_quote(REGISTER_ATTR_LABELS.get(a, a))}" for a in attrs)
        attr_cols = "".join(
            f", any_value(a.value) filter (where a.attr = {_quote(a)}) as \"{a}\"" for a in attrs if a not in OWN_COLUMNS
        )
        kind_labels = " ".join(f"when {_quote(k)} then {_quote(REGISTER_KIND_LABELS[k])}" for k in kinds)
        params_json = f"json_object({', '.join(params)})" if params else "null::json"

        person = spec.get("entity", "person") == "person"
        person_cols = ("any_value(p.person_cluster_id) as person_cluster_id, h.id_number as person_id, "
                       "coalesce(any_value(p.name), any_value(h.reg_name)) as person_name, " if person else "")
        registered = REGISTERED_ROLES
        return LongView(f"""
with hh as (select * from hh_registered),
hits as (
    select r.register, r.kind, r.file, r.row, r.id_number, r.name as reg_name,
           $year - year(r.id_number_birth) as age
    from register r
    where r.id_number_valid and r.kind in ({', '.join(_quote(k) for k in kinds)})
      {cond_filter} {age_filter}
      -- only people a registered source lists: the others never join below, and their rows' fields were most of
      -- the query's work (issue 18)
      and r.id_number in (select id_number from fact_registered_listing)
),{REGISTERED_PEOPLE},
attr_json as (
    select a.register, a.file, a.row,
           json_group_object_ordered(case a.attr {labels} else a.attr end, a.value, a.attr) as fields,
           string_agg(case a.attr {labels} else a.attr end || a.value, ',' order by a.attr) as detail
           {attr_cols}
    from register_attr a join hits h on a.register = h.register and a.file = h.file and a.row = h.row
    where a.value is not null
    group by a.register, a.file, a.row
),
shown as (
    select h.register, h.file, h.row, x.* exclude (register, file, row, fields),
           json_merge_patch(json_object('姓名', h.reg_name, '证件号码', h.id_number),
                            coalesce(x.fields, '{{}}'::json)) as fields
    from hits h left join attr_json x on x.register = h.register and x.file = h.file and x.row = h.row
)
select p.cluster_id, {person_cols}
       h.id_number as member_id, coalesce(any_value(p.name), any_value(h.reg_name)) as member_name,
       coalesce(any_value(p.relation), '成员') as relation, any_value(h.age) as age,
       any_value(case h.kind {kind_labels} end) as register_label,
       string_agg(distinct s.detail, ';' order by s.detail) as detail, any_value(p.listed_in) as listed_in,
       any_value(hh.status) as status, any_value(hh.exit_year) as exit_year,
       string_agg(distinct h.register, ',' order by h.register) || ',' || any_value(p.sources) as sources,
       json_merge_patch(
           json_object(min(h.register),
                       case when count(*) = 1 then any_value(s.fields)
                            else to_json(list(s.fields order by s.register, s.file, s.row)) end),
           json_object('在册来源', any_value(p.listing)),
           case when {params_json} is null then '{{}}'::json else json_object('判断标准', {params_json}) end
       ) as evidence,
       h.kind || ':' || h.id_number as key
       {''.join(f', any_value(s."{a}") as "{a}"' for a in attrs if a not in OWN_COLUMNS)}
from hits h
join registered p on p.id_number = h.id_number
join hh on hh.cluster_id = p.cluster_id
join shown s on s.register = h.register and s.file = h.file and s.row = h.row
where true {household_filter}
group by p.cluster_id, h.id_number, h.kind
""", {"roles": list(registered), "reads": {"registered": ["status", "exit_year", "risk_status"]}})
