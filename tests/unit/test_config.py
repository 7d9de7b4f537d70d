"""Config validation: every problem at once, with the key, what was expected and the nearest valid key."""

from __future__ import annotations

import pytest

from reconcile.config import load_config, parse_config
from reconcile.errors import ConfigError


def _files(tmp_path):
    (tmp_path / "sys.csv").write_text("户编号,姓名\nH1,王明\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "arc.csv").write_text("户主\n王明\n", encoding="utf-8")


def test_paths_are_relative_to_the_config_file(tmp_path):
    _files(tmp_path)
    (tmp_path / "reconcile.yaml").write_text(
        "region: 测试县\nyear: 2020\noutput: out/\nsources:\n"
        "  system: {path: sys.csv, role: system, level: person, columns: {户编号: hh_code, 姓名: name}}\n"
        "  archive: {path: sub/arc.csv, role: archive}\n", encoding="utf-8")
    config = load_config(tmp_path / "reconcile.yaml")
    assert config.sources["system"].path == (tmp_path / "sys.csv").resolve()
    assert config.sources["archive"].path == (tmp_path / "sub" / "arc.csv").resolve()
    assert config.output == (tmp_path / "out").resolve()
    assert config.params["exit_line"][2020] == 4000


def test_all_problems_are_reported_at_once_with_nearest_keys(tmp_path):
    _files(tmp_path)
    data = {
        "region": "测试县", "year": 2020, "ouput": "out/",
        "sources": {
            "system": {"path": "sys.csv", "role": "sytem", "level": "person", "header_row": 2,
                       "columns": {"户编号": "hh_cod", "姓名": "name"}},
            "archive": {"path": "missing.csv", "role": "archive"},
        },
        "registers": {"dibao": {"path": "sys.csv", "kind": "dibo"}},
        "packs": ["four_consistncy"],
        "params": {"cadre_household_limt": 4},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, tmp_path)
    text = str(info.value)
    expected = ["ouput", "`output`", "sytem", "`system`", "header_row", "`header_rows`", "hh_cod", "`hh_code`",
                "missing.csv", "dibo", "`dibao`", "four_consistncy", "`four_consistency`", "cadre_household_limt",
                "`cadre_household_limit`"]
    for fragment in expected:
        assert fragment in text, fragment
    assert len(info.value.problems) >= 8


def test_unknown_mapping_target_may_be_kept_with_x_prefix(tmp_path):
    _files(tmp_path)
    data = {"region": "测试县", "year": 2020,
            "sources": {"system": {"path": "sys.csv", "level": "person",
                                   "columns": {"户编号": "hh_code", "姓名": "name", "电话": "x_phone"}}}}
    config = parse_config(data, tmp_path)
    assert config.sources["system"].columns["电话"] == "x_phone"
    assert config.sources["system"].role == "system"


def test_province_parameters_and_config_params_override_defaults(tmp_path):
    _files(tmp_path)
    data = {"region": "测试县", "year": 2020, "sources": {"system": {"path": "sys.csv", "level": "person"}},
            "params": {"exit_line": {2020: 4200}, "cadre_household_limit": 3}}
    config = parse_config(data, tmp_path)
    assert config.params["exit_line"][2020] == 4200
    assert config.params["exit_line"][2019] == 3747
    assert config.params["cadre_household_limit"] == 3


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "reconcile.yaml"
    path.write_text("region: 测试县\nsources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "第" in str(info.value) and "行" in str(info.value)


def test_a_config_written_on_windows_reads_the_same(tmp_path):
    """Backslashes separate folders wherever the config was written (部门数据\\民政低保.csv), and names with
    Chinese characters, spaces and dots are kept as they are."""
    from reconcile.config import config_path, load_config

    folder = tmp_path / "县 数据.2024"
    (folder / "部门数据").mkdir(parents=True)
    (folder / "部门数据" / "民政低保.csv").write_text("姓名,身份证号\n", encoding="utf-8")
    (folder / "国家系统导出.csv").write_text("户编号,姓名,证件号码\n", encoding="utf-8")
    assert config_path(folder, "部门数据\\民政低保.csv") == (folder / "部门数据" / "民政低保.csv").resolve()
    assert config_path(folder, "out\\") == (folder / "out").resolve()
    (folder / "reconcile.yaml").write_text(
        "region: 县\nyear: 2024\noutput: 结果\\本次\n"
        "sources: {system: {path: 国家系统导出.csv, role: system, level: person}}\n"
        "registers: {dibao: {path: 部门数据\\民政低保.csv, kind: dibao}}\n", encoding="utf-8")
    config = load_config(folder / "reconcile.yaml")
    assert config.registers["dibao"].path == (folder / "部门数据" / "民政低保.csv").resolve()
    assert config.output == (folder / "结果" / "本次").resolve()
