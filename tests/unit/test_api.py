"""The public Python API (reconcile/__init__.py) and packs of one's own (`rules: {extra: …}`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import reconcile
from reconcile.errors import ConfigError

PACK = """pack: county_extra
title: 本县补充规则
rules:
  - id: XY-NO-CADRE
    type: sql
    kind: cadre_mismatch
    title: 未登记帮扶责任人
    needs: [system]
    message: "{label}未登记帮扶责任人"
    advice: 落实帮扶责任人并录入系统
    sql: |
      {% set s = src('system')[0] %}
      select cluster_id, '{{s}}' as sources, '{{label(s)}}' as label,
             json_object('{{s}}', json_object('帮扶责任人', cadre_name_{{s}})) as evidence
      from hh_wide where present_{{s}} and cadre_name_{{s}} is null
"""


def _county(tmp_path: Path, rules: str = "rules: {extra: [本县规则/]}", packs: str = "[all]") -> Path:
    (tmp_path / "本县规则").mkdir(exist_ok=True)
    (tmp_path / "本县规则" / "extra.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / "system.csv").write_text(
        "hh_code,village,name,id_number,relation,cadre_name\n"
        "H1,大田村,王明,430624198001011239,户主,\n"
        "H2,大田村,张强,430624197004044410,户主,李四\n", encoding="utf-8")
    (tmp_path / "reconcile.yaml").write_text(f"""region: 用例县
year: 2020
output: out/
sources:
  system: {{path: system.csv, role: system, level: person, profile: none,
           columns: {{hh_code: hh_code, village: village, name: name, id_number: id_number, relation: relation,
                     cadre_name: cadre_name}}}}
packs: {packs}
{rules}
""", encoding="utf-8")
    return tmp_path / "reconcile.yaml"


def test_import_is_light_and_classes_are_reexported():
    code = "import sys, reconcile; print(sorted(m for m in ('duckdb', 'polars') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
    from reconcile.compare_exports import CompareResult
    from reconcile.pipeline import RunResult
    from reconcile.sample import SampleResult

    assert (reconcile.RunResult, reconcile.CompareResult, reconcile.SampleResult) == (RunResult, CompareResult,
                                                                                     SampleResult)
    assert set(reconcile.__all__) <= set(dir(reconcile)) | {"RunResult", "Config", "SampleResult", "CompareResult"}
    with pytest.raises(AttributeError):
        reconcile.no_such_thing  # noqa: B018


def test_extra_pack_is_loaded_listed_explained_and_run(tmp_path):
    config = reconcile.load_config(_county(tmp_path))
    assert [p.name for p in config.rule_files] == ["extra.yaml"]
    rules = reconcile.list_rules(config)
    assert rules.filter(pl.col("pack") == "county_extra")["rule_id"].to_list() == ["XY-NO-CADRE"]
    assert rules.height == reconcile.list_rules().height + 1
    text = reconcile.explain_rule("XY-NO-CADRE", config)
    assert "cadre_mismatch" in text and "cadre_name_system is null" in text and not text.splitlines()[-1].endswith(" ")
    result = reconcile.run(config, output=tmp_path / "out")
    ours = result.findings.filter(pl.col("rule_id") == "XY-NO-CADRE")
    assert ours["hh_code"].to_list() == ["H1"] and ours["message"].to_list() == ["国家系统未登记帮扶责任人"]
    ledger = reconcile.read_ledger(result)
    assert ledger.height == result.findings.height and set(ledger["status"]) == {"new"}


def test_extra_pack_can_be_selected_by_name(tmp_path):
    config = reconcile.load_config(_county(tmp_path, packs="[county_extra]"))
    result = reconcile.run(config, output=tmp_path / "out")
    assert set(result.rule_runs["rule_id"]) == {"XY-NO-CADRE"}


@pytest.mark.parametrize("rules,expected", [
    ("rules: {extra: [nowhere/]}", "rules.extra: 规则包文件或文件夹不存在"),
    ("rules: {extra: [system.csv]}", "不是 .yaml 文件"),
    ("rules: {extra: 3}", "rules.extra: 应为规则包文件"),
    ("rules: {extra: [本县规则/], disabel: [X]}", "是否应为 `disable`"),
])
def test_bad_extra_packs_are_config_errors(tmp_path, rules, expected):
    with pytest.raises(ConfigError) as error:
        reconcile.load_config(_county(tmp_path, rules=rules))
    assert any(expected in p for p in error.value.problems), error.value.problems


def test_problems_inside_an_extra_pack_are_reported_with_the_nearest_names(tmp_path):
    path = _county(tmp_path)
    (tmp_path / "本县规则" / "extra.yaml").write_text(
        PACK.replace("kind: cadre_mismatch", "kind: cadre_mismach").replace("id: XY-NO-CADRE", "id: FC-HH-SIZE"),
        encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        reconcile.load_config(path)
    text = "\n".join(error.value.problems)
    assert "是否应为 `cadre_mismatch`" in text and "FC-HH-SIZE 与" in text


def test_mask_ids_masks_id_columns_and_ids_in_text():
    frame = pl.DataFrame({"head_id": ["430624198001011239", None], "id_number_system": ["430624198001011239", "x"],
                          "message": ["王明(430624198001011239)重复", "无"], "finding_id": ["0123456789abcdef", "1"],
                          "n": [1, 2]})
    masked = reconcile.mask_ids(frame)
    assert masked["head_id"].to_list() == ["430624********1239", None]
    assert masked["id_number_system"].to_list() == ["430624********1239", "x"]
    assert masked["message"][0] == "王明(430624********1239)重复"
    assert masked["finding_id"].to_list() == frame["finding_id"].to_list() and masked["n"].to_list() == [1, 2]
    assert reconcile.mask_ids(frame.head(0)).schema == frame.schema


@pytest.mark.parametrize(("text", "shown"), [
    ("王明(430624199513324917)", "王明(430624********4917)"),  # month 13: invalid, still an ID
    ("手册43062419951332491", "手册430624*******2491"),  # 17 digits: a digit lost
    ("旧证430624951332491", "旧证430624*****2491"),  # 15 digits
    ("证号4306241995031449172", "证号430624*********9172"),  # an ID with two digits appended (残疾人证号)
    ("科学计数法430624199503144000", "科学计数法430624********4000"),  # what Excel left of an ID
    ("户编号4306241032040000056", "户编号4306241032040000056"),  # 19 digits, no birth date inside: a 户编号
    ("人口编号430624103204000005601", "人口编号430624103204000005601"),  # 21 digits: a 人口编号
    ("电话13812345678,金额12345.67", "电话13812345678,金额12345.67"),
])
def test_anything_id_like_is_masked_valid_or_not(text, shown):
    from reconcile.report.common import mask_text

    assert mask_text(text) == shown
