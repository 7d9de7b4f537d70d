"""`reconcile validate CONFIG [--gx]`: read and check the inputs only."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..db import connect
from ..errors import require_extra
from ..load import load
from ..outputs import output_lock, run_scratch
from ..report.files import write_csv_bom
from .engine import validate


def file_lines(report: list[dict]) -> list[str]:
    """One line per file read: rows loaded and rows set aside (they add up to the file's data rows)."""
    lines = []
    for entry in report:
        name = Path(entry["path"]).name
        quarantined = entry.get("quarantined") or 0
        if entry["rows"] == 0 and not quarantined:
            lines.append(f"{name}: 没有数据行,本次不使用")
            continue
        line = f"{name}: 读入 {entry['rows']} 行"
        if quarantined:
            line += f",隔离 {quarantined} 行(未参与核查,见 input_issues.csv 中 quarantined 为 true 的行)"
        lines.append(line)
    return lines


def validate_only(config: Config, gx: bool = False) -> list[str]:
    from ..pipeline import guard_output, make_output

    out = config.output
    guard_output(config, out)
    make_output(out)
    lines = []
    with output_lock(out), run_scratch(out) as work:
        con = connect()
        report = load(con, config, work)
        issues = validate(con)
        write_csv_bom(issues, out / "input_issues.csv")
        lines += file_lines(report)
        lines.append(f"默认引擎: {issues.height} 个输入问题 → {out / 'input_issues.csv'}")
        if gx:
            require_extra("great_expectations", "gx", "Great Expectations 校验(--gx)")
            from .gx import run_gx

            lines += run_gx(con, config, out)
    return lines
