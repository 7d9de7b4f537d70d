"""`reconcile sample`: quotas by category per village, reproducible draws, weighting, reported shortfalls, forms."""

from __future__ import annotations

import shutil

import fastexcel
import polars as pl
import pytest

from reconcile import draw_sample, run
from reconcile.config import ConfigError, load_config, parse_config
from reconcile.resources import sample_dir
from reconcile.sample import allocate

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample") / "county"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("truth", "out"))
    config = load_config(folder / "reconcile.yaml")
    run(config)
    return config


def _keys(result) -> list[str]:
    return result.sample["key"].to_list()


def test_allocate_scales_quotas():
    quotas = {"exited_earlier": 3, "exited_last_year": 2, "exit_this_year": 2, "not_exited": 2, "non_registered": 1}
    assert allocate(quotas, 10) == quotas
    assert sum(allocate(quotas, 5).values()) == 5
    assert allocate(quotas, 20) == {k: 2 * v for k, v in quotas.items()}


def test_quotas_per_village_and_category(county, tmp_path):
    result = draw_sample(county, per_village=10, seed=5, output=tmp_path / "s", forms=False)
    q = result.quotas
    assert set(q["category"]) == {"exited_earlier", "exited_last_year", "exit_this_year", "not_exited", "monitored",
                                  "non_registered"}
    assert (q["drawn"] + q["shortfall"] == q["quota"]).all()
    per = result.sample.group_by("township", "village", "category").len()
    joined = per.join(q, on=["township", "village", "category"])
    assert (joined["len"] == joined["drawn"]).all()
    assert result.sample["key"].n_unique() == result.sample.height
    # categories are what they say
    s = result.sample
    assert set(s.filter(pl.col("category") == "exited_last_year")["exit_year"].to_list()) == {county.year - 1}
    assert set(s.filter(pl.col("category") == "exited_earlier")["status"].to_list()) == {"已脱贫"}
    # 监测对象 are a category of their own, whatever their exit: no monitored household in another category
    monitored = s.filter(pl.col("category") == "monitored")
    assert monitored.height and monitored["monitor_type"].is_not_null().all()
    assert s.filter(pl.col("category") != "monitored")["monitor_type"].is_null().all()
    # outside the register: a 户籍 household no record links to, or a surveyed one no registered source lists
    outside = s.filter(pl.col("category") == "non_registered")
    assert outside.filter(~pl.col("key").str.starts_with("hukou:") & pl.col("status").is_not_null()).height == 0


def test_same_seed_same_sample_other_seed_other_draw_sample(county, tmp_path):
    a = draw_sample(county, per_village=6, seed=11, output=tmp_path / "a", forms=False)
    b = draw_sample(county, per_village=6, seed=11, output=tmp_path / "b", forms=False)
    c = draw_sample(county, per_village=6, seed=12, output=tmp_path / "c", forms=False)
    assert _keys(a) == _keys(b)
    assert _keys(a) != _keys(c)


def test_weighting_prefers_households_with_findings(county, tmp_path):
    plain, weighted = [], []
    for seed in range(6):
        plain.append(draw_sample(county, per_village=4, seed=seed, output=tmp_path / f"p{seed}", forms=False)
                     .sample["findings"].mean())
        weighted.append(draw_sample(county, per_village=4, seed=seed, weight="findings", output=tmp_path / f"w{seed}",
                               forms=False).sample["findings"].mean())
    assert sum(weighted) / len(weighted) > 1.5 * sum(plain) / len(plain)


def test_quotas_that_cannot_be_filled_are_reported(county, tmp_path):
    result = draw_sample(county, per_village=40, seed=1, output=tmp_path / "s", forms=False)
    short = result.shortfalls
    assert short.height > 0
    assert (short["candidates"] < short["quota"]).all()
    assert (short["drawn"] == short["candidates"]).all()  # not shrunk silently, not filled from elsewhere
    sheet = fastexcel.read_excel(tmp_path / "s" / "抽样名单.xlsx").load_sheet_by_name(
        "配额执行情况", header_row=None, dtypes="string").to_polars()
    assert any("缺额" in [v for v in sheet.row(i) if v] for i in range(4))


def test_forms_are_written_prefilled_and_masked(county, tmp_path):
    result = draw_sample(county, per_village=3, seed=3, output=tmp_path / "s")  # one 监测对象 per village
    forms = sorted((tmp_path / "s" / "农户调查表").rglob("*.xlsx"))
    assert len(forms) == result.sample.height > 0
    row = result.sample.filter(pl.col("key_kind") == "cluster").row(0, named=True)
    form = next(p for p in forms if p.name.startswith(f"{row['sample_no']:03d}_"))
    cells = fastexcel.read_excel(form).load_sheet(0, header_row=None, dtypes="string").to_polars()
    text = " ".join(str(v) for col in cells.columns for v in cells[col].to_list() if v)
    assert "农户调查表" in text and row["head_name"] in text
    for label in ("家庭人口", "户籍人口", "明白卡人口", "扶贫手册人口", "帮扶责任人", "人均纯收入", "核查人员(签字)"):
        assert label in text
    assert row["head_id"] not in text and row["head_id"][:6] + "********" + row["head_id"][-4:] in text
    listing = pl.read_csv(tmp_path / "s" / "抽样名单.csv", infer_schema_length=0)
    # people open the CSV in Excel too: masked like the workbook (full values only with --show-ids)
    assert row["head_id"] not in listing["head_id"].to_list()
    assert row["head_id"][:6] + "********" + row["head_id"][-4:] in listing["head_id"].to_list()
    # a monitored household's form shows its risk record; another's does not ask for one
    def form_text(sample_row: dict) -> str:
        path = next(p for p in forms if p.name.startswith(f"{sample_row['sample_no']:03d}_"))
        frame = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()
        return " ".join(str(v) for col in frame.columns for v in frame[col].to_list() if v)

    monitored = result.sample.filter(pl.col("category") == "monitored").row(0, named=True)
    assert all(label in form_text(monitored) for label in ("监测对象类别", "风险是否消除", "识别监测时间", "风险消除时间"))
    exited = result.sample.filter(pl.col("category") == "exited_earlier").row(0, named=True)
    assert "风险是否消除" not in form_text(exited)


def test_sampling_config_is_validated(tmp_path):
    (tmp_path / "s.csv").write_text("", encoding="utf-8")
    base = {"region": "县", "year": 2020, "sources": {"system": {"path": "s.csv"}}}
    config = parse_config({**base, "sampling": {"quotas": {"not_exited": 3, "exited_earlier": 1}}}, tmp_path)
    assert config.sampling["per_village"] == 4
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "sampling": {"quotas": {"exited_eralier": 2}, "weigth": "findings"}}, tmp_path)
    text = str(err.value)
    assert "exited_earlier" in text and "weight" in text


def _form_cells(path) -> list[list[str]]:
    frame = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()
    return [[v or "" for v in row] for row in frame.iter_rows()]


def test_every_size_on_a_form_is_its_own_sources_count(county, tmp_path):
    """Each number the 农户调查表 prints is what its column's source says: 户籍人口 is the number of 公安户籍
    rows under the household's 户号 (counted from the register file itself, not through the run's links — a
    fan-out printed 2 for a household of 1), 家庭人口 the size each registered source records."""
    import csv

    result = draw_sample(county, per_village=10, seed=1, output=tmp_path / "s")
    config = county
    hukou_path = county.registers["hukou"].path
    with open(hukou_path, encoding="gb18030", newline="") as f:
        rows = list(csv.DictReader(f))
    size_of_hukou = {}
    hukou_of_id = {}
    for r in rows:
        size_of_hukou[r["户号"]] = size_of_hukou.get(r["户号"], 0) + 1
        hukou_of_id[r["公民身份号码"]] = r["户号"]
    system = pl.read_excel(config.sources["system"].path, read_options={"header_row": 1},
                           schema_overrides={"证件号码": pl.String, "户主证件号码": pl.String, "户编号": pl.String})
    system_size = dict(system.group_by("户编号").agg(pl.col("家庭人口数").first()).iter_rows())
    checked = 0
    forms = {p.name.split("_", 1)[0]: p for p in (tmp_path / "s" / "农户调查表").rglob("*.xlsx")}
    for row in result.sample.filter(pl.col("key_kind") == "cluster").iter_rows(named=True):
        cells = _form_cells(forms[f"{row['sample_no']:03d}"])
        header = next(r for r in cells if r[0] == "项目")
        line = {r[0]: r for r in cells if r[0] in ("家庭人口", "户籍人口")}
        hukou_no = hukou_of_id.get(row["head_id"])
        want = str(size_of_hukou[hukou_no]) if hukou_no else ""
        assert line["户籍人口"][header.index("公安户籍")] == want, (row["sample_no"], row["head_name"])
        if row["hh_code"] in system_size and "国家系统" in header:
            assert line["家庭人口"][header.index("国家系统")] == str(system_size[row["hh_code"]])
        checked += 1
    assert checked > 100


def test_all_forms_print_from_one_file_one_household_a_page(county, tmp_path):
    import re
    import zipfile

    result = draw_sample(county, per_village=3, seed=5, output=tmp_path / "s")
    separate = sorted((tmp_path / "s" / "农户调查表").rglob("*.xlsx"))
    combined = tmp_path / "s" / "农户调查表(全部,打印用).xlsx"
    assert combined.exists() and len(separate) == result.sample.height
    cells = fastexcel.read_excel(combined).load_sheet(0, header_row=None, dtypes="string").to_polars()
    titles = sum(v == "农户调查表(入户核查)" for c in cells.columns for v in cells[c].to_list())
    assert titles == result.sample.height
    with zipfile.ZipFile(combined) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    breaks = re.search(r'<rowBreaks count="(\d+)"', sheet)
    assert breaks and int(breaks.group(1)) == result.sample.height - 1
    assert "<pageSetup" in sheet and 'paperSize="9"' in sheet
