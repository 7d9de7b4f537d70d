"""The schema table (reconcile/schema.py) is the one place for field, role and register facts: what the rest of
the code reads is derived from it, so adding a role or a register kind is one entry."""

from __future__ import annotations

from reconcile.schema import (
    REGISTER_ATTR_LABELS,
    REGISTER_ATTRS,
    REGISTER_KIND_LABELS,
    REGISTER_KINDS,
    REGISTER_TABLE,
    REGISTERS_BY_HEAD,
    ROLE_LABELS,
    ROLE_TABLE,
    register_fields,
)
from reconcile.web.files import guess_role


def test_register_facts_come_from_the_register_table():
    assert set(REGISTER_KINDS) == set(REGISTER_TABLE)
    assert REGISTERS_BY_HEAD == ("housing",)
    for kind, register in REGISTER_TABLE.items():
        assert REGISTER_KIND_LABELS[kind] == register.label
        assert REGISTER_ATTRS[kind] == {a: f.value_kind for a, f in register.attrs.items()}
        assert all(REGISTER_ATTR_LABELS[a] == f.label for a, f in register.attrs.items())
        assert set(register.attrs) <= set(register_fields(kind))


def test_an_attr_shared_by_two_registers_is_named_alike():
    """A label a person reads for an attr does not depend on the register (审批日期 of 低保 and 特困)."""
    seen: dict[str, str] = {}
    for register in REGISTER_TABLE.values():
        for attr, f in register.attrs.items():
            assert seen.setdefault(attr, f.label) == f.label, attr


def test_a_file_named_as_people_name_it_is_guessed_right():
    """The web page's first guess of a file's role: every register and role by the name a person gives it."""
    for kind, register in REGISTER_TABLE.items():
        assert guess_role(f"{register.label}.csv") == f"register:{kind}", register.label
    for role, spec in ROLE_TABLE.items():
        assert guess_role(f"{spec.file_label}.xlsx") == role, spec.file_label
        assert ROLE_LABELS[role] == spec.label
