"""The rule model: what a rule is, what a rule type must do, and the context a rule is built in.

Everything else in check/ builds on this module; it imports nothing from the rest of the package, so a
rule type, the pack loader, the engine and the run plan can all read it without a circle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTR_LABELS,
    REGISTER_KIND_LABELS,
    REGISTERED_ROLES,
    ROLE_LABELS,
    ROLE_TABLE,
    SURVEY_FIELDS,
    register_fields,
)


@dataclass(frozen=True)
class Kind:
    code: str
    title: str
    category: str
    severity: str
    meaning: str


FACT_NAME = re.compile(r"^fact_[a-z][a-z0-9_]*$")


@dataclass
class Rule:
    id: str
    pack: str
    type: str
    kind: str
    title: str
    severity: str
    needs: list[str]
    message: str
    advice: str
    spec: dict[str, Any] = field(default_factory=dict)  # the type's own parameters
    source_file: str = ""
    scope: str = "county"
    description: str = ""  # what the rule really compares, for `rules explain` (Chinese)
    facts: list[Fact] = field(default_factory=list)  # the shared facts its SQL reads, in the order they build


@dataclass(frozen=True)
class Fact:
    """A named query several rules read (a pack's `facts:`), built once per check as a table of its `id`
    before the rules that name it run; its `$params` are bound like a rule's. It reads every source of the
    run: the rules that read it say what they read in their own `reads:`."""

    id: str  # `fact_…`: the table's name, checked against FACT_NAME
    sql: str
    description: str = ""
    source_file: str = ""


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



def example_context(year: int = 2020, registers: set[str] | None = None) -> RuleContext:
    """A run with one source per role (named by its role, at its usual level) carrying every field, and visits:
    what a rule looks like when nothing is missing (`rules explain`, the widest build the preflight scans)."""
    every = set(HOUSEHOLD_FIELDS) | set(PERSON_FIELDS) | set(SURVEY_FIELDS)
    return RuleContext(sources=list(ROLE_TABLE), roles={r: r for r in ROLE_TABLE},
                       levels={r: role.usual_level for r, role in ROLE_TABLE.items()},
                       coverage={r: set(every) for r in ROLE_TABLE}, registers=set(registers or ()),
                       has_visits=True, year=year)


class RuleType(Protocol):
    """The code behind a rule `type:`. A type turns a rule's YAML parameters into one SQL query over the stage
    tables; the query returns one row per finding with at least `cluster_id`, `sources` and `evidence` (JSON),
    and may return `person_cluster_id`, entity columns (township, village, hh_code, head_name, head_id,
    person_name, person_id), `key` (what tells two findings of one rule on one entity apart) and any value the
    message names. Values always go in as bound parameters ($name), never pasted.

    Optional: `unchecked(rule, ctx)` (what this run cannot check, for the plan), `params(rule, ctx)` (values the
    query binds besides the config's) with `bound` (their names), `facts` (shared queries every rule of the type
    reads, built once per check like a pack's `facts:`)."""

    keys: set[str]  # the YAML keys of this type, beside the common rule keys

    def validate(self, rule: Rule) -> list[str]: ...

    def missing_needs(self, rule: Rule, ctx: RuleContext) -> list[str]: ...

    def build(self, rule: Rule, ctx: RuleContext) -> str: ...


def field_label(name: str) -> str:
    """The Chinese label of a canonical field (its code when it has none)."""
    for table in (PERSON_FIELDS, HOUSEHOLD_FIELDS, SURVEY_FIELDS):
        if name in table:
            return table[name].label
    return REGISTER_ATTR_LABELS.get(name, name)


PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def param_ref(name: str) -> str:
    """`notice_days.exit_village` → `$notice_days_exit_village` (params are flattened with `_`)."""
    return "$" + name.replace(".", "_")


def quote_literal(text: str) -> str:
    """A text as a SQL string literal (names of params, attrs and labels from the packs, never data)."""
    return "'" + text.replace("'", "''") + "'"
