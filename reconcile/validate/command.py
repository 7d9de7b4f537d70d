"""`reconcile validate CONFIG [--gx]`: read and check the inputs only."""

from __future__ import annotations

from ..config import Config
from ..db import connect
from ..errors import require_extra
from ..load import load
from ..outputs import output_lock, run_scratch
from ..report.files import write_csv_bom
from .engine import validate


def validate_only(config: Config, gx: bool = False) -> list[str]:
    from ..pipeline import guard_output, make_output

    out = config.output
    guard_output(config, out)
    make_output(out)
    lines = []
    with output_lock(out), run_scratch(out) as work:
        con = connect()
        load(con, config, work)
        issues = validate(con)
        write_csv_bom(issues, out / "input_issues.csv")
        lines.append(f"默认引擎: {issues.height} 个输入问题 → {out / 'input_issues.csv'}")
        if gx:
            require_extra("great_expectations", "gx", "Great Expectations 校验(--gx)")
            from .gx import run_gx

            lines += run_gx(con, config, out)
    return lines
