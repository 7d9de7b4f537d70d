"""Every parameter reaches the 说明 sheet in Chinese: its name and the words inside its value (issue 15's rule for
the parameters this project ships: codes stay in the YAML)."""

from __future__ import annotations

import re

from reconcile.report.sheets import param_rows
from reconcile.resources import default_params

ENGLISH = re.compile(r"[A-Za-z_]{2,}")


def test_every_shipped_parameter_reads_in_chinese():
    rows = param_rows(default_params())
    assert rows
    leaks = [(name, text) for name, text in rows if ENGLISH.search(name) or ENGLISH.search(text)]
    assert not leaks, leaks


def test_register_kinds_and_member_fields_read_by_their_own_tables():
    rows = dict(param_rows({"missed_register_groups": ["dibao", "tekun"], "checker_required_yes_no": {"system": ["tekun"]}}))
    assert rows["疑似漏评比对的部门数据"] == "民政低保、民政特困"
    assert rows["县级校验必填的是否项"] == "国家系统: 特困供养人员"
