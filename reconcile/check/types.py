"""The rule types: one explicit registry (DESIGN §12.2). Each type lives in its own module and implements
`model.RuleType`; a new type is one module and one line here."""

from __future__ import annotations

from .model import RuleType
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
