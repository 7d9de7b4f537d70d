"""End to end: the sample county's system export as a county checker saves it — a GB18030 CSV with a
title row and every cell written `="…"` so that Excel keeps IDs as text (domain.md §6.5) — gives
exactly the findings of the unmodified run."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import duckdb
import fastexcel
import pytest
import yaml

from reconcile import run
from reconcile.load.readers import read_table
from reconcile.resources import sample_dir

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")


def _finding_keys(result) -> set[tuple[str, str]]:
    return set(result.findings.select("rule_id", "finding_id").iter_rows())


def _wrap(value: str | None) -> str:
    cell = '="' + (value or "") + '"'
    # a naive writer puts the wrapper on the line as it is; a cell with a separator, quote or line
    # break needs CSV quoting, which doubles the wrapper's quotes ("=""…""")
    if any(ch in (value or "") for ch in ',"\n\r'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def write_wrapped_export(xlsx: Path, target: Path) -> Path:
    """The export's title, header and data rows as the pipeline reads them, every cell wrapped."""
    table = read_table(xlsx, header_rows=2)
    title = fastexcel.read_excel(xlsx).load_sheet(0, header_row=None, dtypes="string").to_polars().row(0)[0]
    lines = [",".join(_wrap(v) for v in [title] + [None] * (len(table.headers) - 1))]
    lines.append(",".join(_wrap(h) for h in table.headers))
    lines += [",".join(_wrap(v) for v in row) for row in table.frame.select(table.headers).iter_rows()]
    target.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    return target


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return run(SAMPLE / "reconcile.yaml", output=tmp_path_factory.mktemp("plain-out"))


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory):
    county = tmp_path_factory.mktemp("wrapped") / "county"
    shutil.copytree(SAMPLE, county, ignore=shutil.ignore_patterns("out", "truth"))
    export = write_wrapped_export(county / "国家系统导出.xlsx", county / "国家系统导出.csv")
    (county / "国家系统导出.xlsx").unlink()
    config = yaml.safe_load((county / "reconcile.yaml").read_text(encoding="utf-8"))
    system = config["sources"]["system"]
    system["path"] = export.name
    # the title row is found by the reader (header_rows left to detection), the sheet is gone
    for key in ("header_rows", "sheet"):
        system.pop(key, None)
    (county / "reconcile.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return run(county / "reconcile.yaml", output=county / "out")


def test_the_wrapped_file_is_what_a_checker_writes(wrapped):
    export = wrapped.config.sources["system"].path
    rows = list(csv.reader(io.StringIO(export.read_bytes().decode("gb18030"))))
    assert rows[0][0].startswith('="湘阴县') and rows[1][:2] == ['="省"', '="市"']
    assert all(cell.startswith('="') and cell.endswith('"') for row in rows for cell in row)
    report = wrapped.load_report.filter(wrapped.load_report["owner"] == "system").row(0, named=True)
    assert report["encoding"] == "gb18030" and report["header_row"] == 2
    # cleaned values, the cells as written kept beside them
    with duckdb.connect(str(wrapped.database), read_only=True) as con:
        rows = con.execute("select name, name_raw, hh_code, hh_code_raw, rec_key from src_person "
                           "where source = 'system' and name is not null limit 3").fetchall()
    for name, name_raw, hh_code, hh_code_raw, rec_key in rows:
        assert name_raw == f'="{name}"' and hh_code_raw == f'="{hh_code}"' and '"' not in rec_key + name + hh_code


def test_wrapped_export_gives_the_same_findings(baseline, wrapped):
    assert baseline.findings.height > 100
    plain, wrapped_keys = _finding_keys(baseline), _finding_keys(wrapped)
    assert wrapped_keys == plain, {"only wrapped": sorted(wrapped_keys - plain)[:10],
                                   "only plain": sorted(plain - wrapped_keys)[:10]}


def test_wrapped_export_has_the_same_input_issues(baseline, wrapped):
    def issues(result):
        frame = result.input_issues.filter(result.input_issues["source"] == "system")
        return {(f, r): p for f, r, p in frame.select("field", "row", "problem").iter_rows()}

    plain, wrapped_issues = issues(baseline), issues(wrapped)
    assert plain and wrapped_issues.keys() == plain.keys()
    # the one thing a CSV cannot say: that the workbook held an ID as a number (its last digits invented)
    changed = {(plain[k], wrapped_issues[k]) for k in plain if plain[k] != wrapped_issues[k]}
    assert changed <= {("id_excel_number", "id_check_digit")}


def test_wrapped_export_links_to_the_same_records(baseline, wrapped):
    def keys(result):
        frame = result.person_links.filter(result.person_links["source"] == "system")
        return set(frame.select("rec_key").to_series().to_list())

    assert keys(wrapped) == keys(baseline)
