"""The Great Expectations engine finds exactly the bad cells the default engine finds (same contract)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("great_expectations")

import xlsxwriter  # noqa: E402

from reconcile.config import load_config, parse_config  # noqa: E402
from reconcile.normalize.ids import id_check_char  # noqa: E402
from reconcile.resources import sample_dir  # noqa: E402
from reconcile.validate.command import validate_only  # noqa: E402

KEY = ["source", "file", "row", "field", "problem"]


def _id(body17: str) -> str:
    return body17 + id_check_char(body17)


GOOD = _id("43062419800101123")
WIFE = _id("43062419820305222")
SON = _id("43062420050708111")
BAD_CHECK = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _messy_county(tmp_path: Path):
    _csv(tmp_path / "persons.csv", ["户编号", "姓名", "证件号码", "与户主关系", "出生日期", "家庭人口数"], [
        ["H001", "张三", GOOD, "户主", "1980-01-01", "3"],
        ["H001", "李四", BAD_CHECK, "配偶", "1982-03-05", "3"],  # check digit
        ["H001", "张小明", SON, "之子", "2020-02-30", "3"],  # no such date
        ["H002", "王五", "430624800101123", "XYZ", "43835", "99"],  # 15-digit ID (info), code, serial (info), range
        ["H002", "", WIFE, "配偶", "1982-03-05", "99"],  # empty name, range
        ["", "赵六", "", "户主", "  ", "1"],  # empty hh_code
    ])
    _csv(tmp_path / "households.csv", ["户编号", "户主姓名", "户主证件号码", "村", "家庭人口数", "识别年度"], [
        ["H001", "张三", GOOD, "和平村", "3", "2014"],
        ["H002", "王五2", "4306241980", "和平村", "2.5", "1990"],  # digits in name, ID length, int, year range
        ["H003", " ", "", "和平村", "", ""],  # empty head name
        ["H004", "钱八", WIFE, "和平村", "2", "2015", "多出的一列"],  # more fields than the header
    ])
    # A register from Excel: IDs and 户编号 stored as numbers (their last digits are invented by Excel).
    book = xlsxwriter.Workbook(tmp_path / "dibao.xlsx")
    sheet = book.add_worksheet("低保")
    sheet.write_row(0, 0, ["姓名", "证件号码", "户编号", "月保障金额"])
    sheet.write_row(1, 0, ["张三", GOOD, "H001", "300"])
    sheet.write_row(2, 0, ["李四"])
    sheet.write_number(2, 1, float(WIFE))
    sheet.write_number(2, 2, 20200101)
    sheet.write_row(2, 3, ["300"])
    sheet.write_row(3, 0, ["孙七", "", "H009", "abc"])  # empty ID (not_empty)
    book.close()
    _csv(tmp_path / "visits.csv", ["户编号", "户主姓名", "走访日期"], [
        ["H001", "", "2020-05-01"],
        ["", "王五", "2020-05-02"],  # placed by the head's name
        ["", " ", "2020-05-03"],  # neither: cannot be placed
    ])
    data = {
        "region": "测试县", "year": 2020, "output": "out",
        "sources": {
            "system": {"path": "persons.csv", "role": "system", "level": "person",
                       "columns": {"户编号": "hh_code", "姓名": "name", "证件号码": "id_number",
                                   "与户主关系": "relation", "出生日期": "birth_date", "家庭人口数": "hh_size"}},
            "archive": {"path": "households.csv", "role": "archive",
                        "columns": {"户编号": "hh_code", "户主姓名": "head_name", "户主证件号码": "head_id",
                                    "村": "village", "家庭人口数": "hh_size", "识别年度": "identify_year"}},
        },
        "registers": {"dibao": {"path": "dibao.xlsx", "kind": "dibao",
                                "columns": {"姓名": "name", "证件号码": "id_number", "户编号": "hh_code",
                                            "月保障金额": "monthly_amount"}}},
        "visits": {"path": "visits.csv", "columns": {"户编号": "hh_code", "户主姓名": "head_name", "走访日期": "visit_date"}},
    }
    return parse_config(data, tmp_path)


def _keys(path: Path) -> set[tuple]:
    frame = pl.read_csv(path, infer_schema=False)
    return set(frame.select(KEY).with_columns(pl.col("row").cast(pl.Int64)).rows())


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("messy")
    config = _messy_county(tmp_path)
    lines = validate_only(config, gx=True)
    return config.output, lines


def test_gx_finds_exactly_the_default_engines_bad_cells(messy):
    out, lines = messy
    default, found = _keys(out / "input_issues.csv"), _keys(out / "gx_input_issues.csv")
    assert found == default, (sorted(default - found), sorted(found - default))
    problems = {(k[3], k[4]) for k in found}
    for expected in [("id_number", "id_check_digit"), ("birth_date", "date_unparseable"),
                     ("relation", "code_unknown"), ("name", "required_empty"), ("hh_size", "out_of_range"),
                     ("hh_code", "required_empty"), ("id_number", "id_converted_15"),
                     ("birth_date", "date_excel_serial"), ("head_name", "name_has_digits"),
                     ("head_name", "required_empty"), ("head_id", "id_bad_length"), ("hh_size", "int_not_whole"),
                     ("identify_year", "out_of_range"), ("id_number", "id_excel_number"),
                     ("hh_code", "excel_number"), ("extra", "ragged_row"), ("hh_code", "unplaced_row")]:
        assert expected in problems, expected
    unplaced = {k for k in found if k[4] == "unplaced_row"}
    assert unplaced == {("visits", "visits.csv", 4, "hh_code", "unplaced_row")}, unplaced
    # register attrs (月保障金额 "abc") live in a JSON column: neither engine judges them
    assert not {k for k in found if k[3] == "monthly_amount"}
    assert any("两个引擎结果一致" in line for line in lines), lines


def test_gx_issue_file_matches_input_issue_columns(messy):
    out, _ = messy
    default = pl.read_csv(out / "input_issues.csv", infer_schema=False)
    found = pl.read_csv(out / "gx_input_issues.csv", infer_schema=False)
    assert (out / "gx_input_issues.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert found.columns == default.columns
    key = KEY + ["column", "value", "severity", "message"]
    assert sorted(found.select(key).rows(), key=str) == sorted(default.select(key).rows(), key=str)
    unplaced = found.filter(pl.col("problem") == "unplaced_row").to_dicts()
    assert [r["message"] for r in unplaced] == [
        "文件 visits.csv 第 4 行「户编号」列: 无法确定属于哪一户(「户编号」、「户主姓名」都是空的),该行没有参与核查"]
    info = found.filter(pl.col("problem").is_in(["id_converted_15", "date_excel_serial"]))
    assert info.height == 2 and set(info["severity"]) == {"info"}


def test_suites_and_results_are_written(messy):
    out, _ = messy
    for name in ("reconcile.system", "reconcile.archive", "reconcile.dibao"):
        suite = json.loads((out / "gx" / "suites" / f"{name}.json").read_text(encoding="utf-8"))
        assert suite["name"] == name and suite["expectations"]
        types = {e["type"] for e in suite["expectations"]}
        assert {"expect_column_to_exist", "expect_column_values_to_not_be_null",
                "expect_column_values_to_be_valid_for_reconcile_kind"} <= types
        result = json.loads((out / "gx" / "results" / f"{name}.json").read_text(encoding="utf-8"))
        assert result["suite_name"] == name and result["success"] is False
    system = json.loads((out / "gx" / "suites" / "reconcile.system.json").read_text(encoding="utf-8"))
    ranges = [e["kwargs"] for e in system["expectations"]
              if e["type"] == "expect_column_values_to_be_within_reconcile_range"]
    assert {"column": "hh_size", "kind": "int", "min_value": 1, "max_value": 30} in ranges


def test_a_written_suite_runs_in_another_gx_context(messy, tmp_path):
    import great_expectations as gx
    import pandas as pd

    import reconcile.validate.gx  # noqa: F401  (registers the custom expectations)
    from reconcile.db import connect
    from reconcile.load import load
    from reconcile.validate.gx import build_suites

    out, _ = messy
    config = _messy_county(tmp_path)
    con = connect()
    load(con, config, tmp_path)
    assert set(build_suites(con, config)) == {"reconcile.system", "reconcile.archive", "reconcile.dibao",
                                              "reconcile.visits"}

    data = json.loads((out / "gx" / "suites" / "reconcile.system.json").read_text(encoding="utf-8"))
    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(gx.ExpectationSuite(**{k: v for k, v in data.items() if k != "id"}))
    frame = pd.DataFrame({"hh_code": ["H1", None], "name": ["张三", "李四"], "id_number": [BAD_CHECK, GOOD],
                          "relation": ["户主", "XYZ"], "birth_date": ["1980-01-01", "1980-01-01"],
                          "hh_size": ["3", "31"]})
    batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    result = batch.validate(suite, result_format="COMPLETE")
    failed = {(r.expectation_config.kwargs["column"], tuple(r.result["unexpected_index_list"]))
              for r in result.results if not r.success}
    assert failed == {("hh_code", (1,)), ("id_number", (0,)), ("relation", (1,)), ("hh_size", (1,))}


SAMPLE = sample_dir() / "reconcile.yaml"


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} not generated yet (the sample county is built separately)")
def test_sample_county_engines_agree(tmp_path):
    config = load_config(SAMPLE).with_output(tmp_path / "out")
    lines = validate_only(config, gx=True)
    out = config.output
    default, found = _keys(out / "input_issues.csv"), _keys(out / "gx_input_issues.csv")
    assert found == default, (sorted(default - found)[:10], sorted(found - default)[:10], lines)
