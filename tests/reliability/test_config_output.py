"""Reliability corpus: hostile or careless configs, output folders and paths (issue 16 items 1–3, 5, 6, 9–11).

Each case breaks one thing in a fresh copy of the tiny county and runs what a user would run; its expected
outcome is the exit code and a substring of the Chinese message — and, where it matters, that nothing outside
the output folder was written and nothing the user had was lost.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml

from reconcile.outputs import LOCK_NAME, SCRATCH_PREFIX, file_part, inside, output_lock, written
from tests.reliability.harness import cli, fresh_county
from tests.variants import County, text_encoding

# ---- configs a user could write: each (name, change to the config text or dict, exit code, message) ----------

BILLION_LAUGHS = "region: 县\nyear: 2020\n" + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


@dataclass(frozen=True)
class ConfigCase:
    name: str
    change: Callable[[County], None]  # rewrites reconcile.yaml (or the folder) of a fresh county
    exit_code: int
    message: str  # a substring of what the user sees


def _text(county: County, text: str) -> None:
    (county.folder / "reconcile.yaml").write_text(text, encoding="utf-8")


def _config(county: County, **changes) -> None:
    county.with_config({**county.config, **changes}).write_config()


def _append(county: County, text: str) -> None:
    path = county.write_config()
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


CONFIG_CASES = [
    ConfigCase("yaml_bomb", lambda c: _text(c, BILLION_LAUGHS), 2, "YAML 炸弹"),
    ConfigCase("recursive_alias", lambda c: _text(c, "a: &a [*a]\n"), 2, "循环引用"),
    ConfigCase("duplicate_key", lambda c: _append(c, "year: 2019\n"), 2, "写了两次"),
    ConfigCase("huge_config", lambda c: _append(c, "# " + "x" * (3 * 2**20) + "\n"), 2, "文件过大"),
    ConfigCase("syntax_error", lambda c: _append(c, "sources: [\n"), 2, "YAML 格式错误"),
    ConfigCase("not_a_mapping", lambda c: _text(c, "- region\n- year\n"), 2, "映射"),
    ConfigCase("gbk_config", lambda c: (c.folder / "reconcile.yaml").write_bytes("region: 湘阴县\n".encode("gbk")),
               2, "UTF-8"),
    ConfigCase("missing_config", lambda c: (c.folder / "reconcile.yaml").unlink(), 2, "找不到配置文件"),
    ConfigCase("unknown_key", lambda c: _config(c, regoin="县"), 2, "regoin"),
    ConfigCase("province_path", lambda c: _config(c, province="../../etc/passwd"), 2, "不能是路径"),
    ConfigCase("province_unknown", lambda c: _config(c, province="atlantis"), 2, "找不到参数集"),
    ConfigCase("param_injection", lambda c: _config(c, params={"x; drop table finding; --": 1}), 2, "x; drop table"),
    ConfigCase("year_text", lambda c: _config(c, year="二〇二〇"), 2, "year"),
    ConfigCase("output_is_data_folder", lambda c: _config(c, output="."), 2, "包含输入"),
    ConfigCase("output_is_a_file", lambda c: _config(c, output="村级台账.csv"), 2, "已有的文件"),
    ConfigCase("output_holds_registers", lambda c: _config(c, output="部门数据"), 2, "包含输入"),
    ConfigCase("missing_input_file", lambda c: (c.folder / "村级台账.csv").unlink(), 2, "村级台账.csv"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.name)
def test_a_bad_config_is_refused_before_data_is_read(case: ConfigCase, tiny_source, tmp_path):
    county = fresh_county(tiny_source, tmp_path / "county")
    county.write_config()
    before = _snapshot(county.folder)
    case.change(county)
    changed = _snapshot(county.folder)
    result = cli("validate", county.folder / "reconcile.yaml")
    assert result.exit_code == case.exit_code, result.output
    assert case.message in result.output, result.output
    assert "Traceback" not in result.output and "[uncaught" not in result.output
    # nothing the user had is lost, nothing is left behind in the county folder
    assert _snapshot(county.folder) == changed, "a refused run changed the county's folder"
    assert set(before) - {"reconcile.yaml"} <= set(changed) | {"村级台账.csv"}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_the_yaml_bomb_is_refused_in_bounded_time_and_memory(tmp_path):
    """Reading the 379-byte bomb expands nothing: refused in well under a second."""
    import time
    import tracemalloc

    from reconcile.yamlfile import YamlRefused, load_yaml_text

    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(YamlRefused):
        load_yaml_text(BILLION_LAUGHS)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2 and peak < 50 * 2**20, (seconds, peak)


def test_an_anchor_merge_and_an_override_still_read():
    from reconcile.yamlfile import load_yaml_text

    doc = load_yaml_text("base: &b {a: 1, b: 2}\nother:\n  <<: *b\n  b: 3\n")
    assert doc["other"] == {"a": 1, "b": 3}


# ---- the output folder ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tiny_source, tmp_path_factory):
    """One full run of the tiny county into an output folder whose path has an apostrophe and a space (DuckDB
    attach/spill paths are bound, not pasted), next to a user's own `.work/` folder and a file in it."""
    county = fresh_county(tiny_source, tmp_path_factory.mktemp("ran") / "county")
    out = county.folder / "it's out"
    (out / ".work").mkdir(parents=True)
    (out / ".work" / "mine.txt").write_text("the user's own", encoding="utf-8")
    config = county.write_config()
    temp_before = set(Path(tempfile.gettempdir()).iterdir())
    result = cli("run", config, "--output", out, "--quiet")
    temp_after = set(Path(tempfile.gettempdir()).iterdir())
    return county, out, result, temp_after - temp_before


def test_a_run_into_a_path_with_an_apostrophe_works(ran):
    _, out, result, _ = ran
    assert result.exit_code in (0, 1), result.output
    assert (out / "reconcile.duckdb").exists() and (out / "核查报告.xlsx").exists()


def test_a_run_keeps_the_users_own_work_folder(ran):
    _, out, _, _ = ran
    assert (out / ".work" / "mine.txt").read_text(encoding="utf-8") == "the user's own"


def test_a_run_leaves_no_scratch_and_no_temporary_file_outside_its_folder(ran):
    _, out, _, new_in_tmp = ran
    assert not list(out.glob(f"{SCRATCH_PREFIX}*")) and not list(out.glob(".*partial*"))
    # a run writes nothing into the system's temporary folder (pytest's own tmp_path folders excepted)
    assert not [p for p in new_in_tmp if not p.name.startswith("pytest-")], new_in_tmp


def test_a_link_in_the_output_folder_is_not_written_through(ran, tmp_path):
    county, out, _, _ = ran
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = out / "findings.csv"
    link.unlink()
    link.symlink_to(victim)
    try:
        result = cli("run", county.folder / "reconcile.yaml", "--output", out, "--quiet")
        assert result.exit_code == 2, result.output
        assert "链接" in result.output
        assert victim.read_text(encoding="utf-8") == "keep me"
        assert link.is_symlink()
    finally:
        link.unlink()


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(tiny_source, tmp_path):
    county = fresh_county(tiny_source, tmp_path / "county")
    out = tmp_path / "out"
    held = threading.Event()
    release = threading.Event()

    def first() -> None:
        with output_lock(out):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert held.wait(10)
        result = cli("validate", county.write_config(), "--output", out)
        assert result.exit_code == 2 and "正被另一次核查使用" in result.output, result.output
    finally:
        release.set()
        thread.join()
    # the lock goes with the first run: the next one runs
    assert cli("validate", county.folder / "reconcile.yaml", "--output", out).exit_code == 0
    assert (out / LOCK_NAME).exists()


def test_a_read_only_output_folder_is_named(tiny_source, tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    county = fresh_county(tiny_source, tmp_path / "county")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = cli("validate", county.write_config(), "--output", out)
        assert result.exit_code == 2 and "没有写入权限" in result.output, result.output
    finally:
        out.chmod(0o700)


# ---- names and paths made from data ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("../../x", "_.._x"), ("..", "未命名"), ("/etc/passwd", "_etc_passwd"), ("a\\b", "a_b"), ("CON", "_CON"),
    ("nul.txt", "_nul.txt"), ("梅林镇", "梅林镇"), ("  .hidden. ", "hidden"), ("x" * 300, "x" * 60),
    ("tab\there", "tab_here"), (None, "未命名"), ("a:b*c?d", "a_b_c_d"),
])
def test_a_name_from_data_is_never_a_path(value, expected):
    assert file_part(value) == expected


def test_a_path_out_of_the_output_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    from reconcile.errors import InputError

    with pytest.raises(InputError, match="不在输出目录"):
        inside(out, "..", "x.xlsx")
    (out / "sub").symlink_to(tmp_path)
    with pytest.raises(InputError, match="链接"):
        inside(out, "sub", "x.xlsx")
    assert inside(out, "ok", "x.xlsx") == out / "ok" / "x.xlsx"


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "findings.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), written(path) as partial:
        partial.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert path.read_text(encoding="utf-8") == "old" and len(list(tmp_path.iterdir())) == 1


@pytest.fixture(scope="module")
def hostile(tiny_source, tmp_path_factory):
    """The tiny county with hostile cells in its village archive: a 乡镇 of `../../逃逸`, formulas, and an ID
    one typo from a real one (17 digits); run, then sampled with its survey forms."""
    county = fresh_county(tiny_source, tmp_path_factory.mktemp("hostile") / "county")
    path = county.folder / "村级台账.csv"
    raw = path.read_bytes()
    encoding = text_encoding(raw)
    frame = pl.read_csv(raw.decode(encoding).encode("utf-8"), infer_schema=False)
    town = next(c for c in frame.columns if "乡" in c)
    ident = next(c for c in frame.columns if "证件" in c or "身份证" in c)
    name = next(c for c in frame.columns if c in ("户主", "户主姓名", "姓名"))
    first_town = frame[town][0]
    frame = frame.with_columns(
        pl.when(pl.col(town) == first_town).then(pl.lit("../../逃逸")).otherwise(pl.col(town)).alias(town),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit('=HYPERLINK("http://x","点我")')).otherwise(pl.col(name))
        .alias(name),
        pl.when(pl.int_range(pl.len()) == 2).then(pl.col(ident).str.slice(0, 17))
        .when(pl.int_range(pl.len()) == 3).then(pl.lit("=cmd|' /C calc'!A0")).otherwise(pl.col(ident)).alias(ident),
    )
    frame.write_csv(path, include_bom=encoding == "utf-8-sig")
    if encoding == "gb18030":
        path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    out = county.folder / "out"
    config = county.write_config()
    run = cli("run", config, "--output", out, "--quiet")
    sample = cli("sample", config, "--output", out / "抽样", "--per-village", "50")
    return county, out, run, sample, frame[ident][2][:17]


def test_a_township_cell_never_names_a_folder_outside_the_output(hostile):
    county, out, run, sample, _ = hostile
    assert run.exit_code in (0, 1) and sample.exit_code == 0, run.output + sample.output
    assert not (county.folder.parent / "逃逸").exists() and not (county.folder / "逃逸").exists()
    forms = out / "抽样" / "农户调查表"
    assert forms.is_dir() and all(forms in p.resolve().parents for p in forms.rglob("*.xlsx"))


def test_formulas_from_input_cells_are_neutralised_in_csvs(hostile):
    _, out, *_ = hostile
    for name in ("input_issues.csv", "findings.csv", "抽样/抽样名单.csv"):
        text = (out / name).read_text(encoding="utf-8-sig")
        for cell in _cells(text):
            assert not re.match(r"[=+@\t\r]", cell) or re.fullmatch(r"[+-]?[0-9.]+", cell), (name, cell)
    assert "'=" in (out / "input_issues.csv").read_text(encoding="utf-8-sig")


def _cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_an_id_one_typo_from_real_is_masked_in_every_file_people_read(hostile):
    _, out, _, _, damaged = hostile
    from reconcile.report.common import mask_text

    assert damaged not in mask_text(f"证件号码 {damaged}")
    people = [out / "report.html", out / "抽样" / "抽样名单.csv"]
    for path in people:
        assert damaged not in path.read_text(encoding="utf-8-sig"), path
    sheet = _xlsx_text(out / "核查报告.xlsx")
    assert damaged not in sheet
    listing = pl.read_csv(out / "抽样" / "抽样名单.csv", infer_schema=False)
    assert all(v is None or "*" in v for v in listing["head_id"].to_list())


def _xlsx_text(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return " ".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))


def test_every_config_case_has_its_own_name():
    assert len({c.name for c in CONFIG_CASES}) == len(CONFIG_CASES)
    assert yaml.safe_load(BILLION_LAUGHS.split("a0:")[0])["year"] == 2020
