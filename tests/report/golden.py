"""Golden files: every sheet of a workbook as CSV cell values. A missing or different golden fails;
`RECONCILE_REGENERATE_GOLDEN=1 pytest tests/report` rewrites them (review the diff before committing)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import fastexcel

GOLDEN_DIR = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("RECONCILE_REGENERATE_GOLDEN") == "1"


def sheet_rows(path: Path, sheet: str) -> list[list[str]]:
    frame = fastexcel.read_excel(path).load_sheet_by_name(sheet, header_row=None, dtypes="string").to_polars()
    return [["" if v is None else v for v in row] for row in frame.iter_rows()]


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def check_golden(name: str, text: str) -> None:
    check_golden_in(GOLDEN_DIR, name, text)


def check_golden_in(folder: Path, name: str, text: str) -> None:
    path = folder / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"golden file {path} is missing: run with RECONCILE_REGENERATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now", n=1))
        raise AssertionError(f"{name} differs from its golden file (regenerate with RECONCILE_REGENERATE_GOLDEN=1 "
                             f"if the change is intended):\n{diff[:4000]}")
