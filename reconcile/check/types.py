"""The rule types: one explicit registry (DESIGN §12.2). Each type lives in its own module and implements
`model.RuleType`; a new type is one module and one line here."""

from __future__ import annotations

from .long_views import LongView
from .model import Fact, Rule, RuleType
from .types_compare import CompareType
from .types_procedure import ProcedureOrderType
from .types_records import RequiredType
from .types_register import RegisterHitType
from .types_sql import SqlType

RULE_TYPES: dict[str, RuleType] = {
    "compare": CompareType(),
    "sql": SqlType(),
    "required": RequiredType(),
    "register_hit": RegisterHitType(),
    "procedure_order": ProcedureOrderType(),
}


def long_view_of(rule: Rule) -> LongView | None:
    """The rule's query over the long views and its scope, when its type has one (compare; sql without a
    template): the same SQL for every config, narrowed to the rule's sources when it runs."""
    get = getattr(RULE_TYPES[rule.type], "long_view", None)
    return get(rule) if get else None


def type_facts(rule: Rule) -> list[Fact]:
    """The shared queries every rule of the rule's type reads (a type's `facts`), built once per check as a
    pack's `facts:` are."""
    return list(getattr(RULE_TYPES[rule.type], "facts", ()))
