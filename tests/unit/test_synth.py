"""The synthetic county: deterministic, complete (every kind injected), and clean where it says so.

The clean-household checks read the written files back with their own small parsers, so a writer bug
that would make a clean household look broken fails here, not in the rule tests.
"""

from __future__ import annotations

import csv
import re
import time
import zipfile
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import fastexcel
import pytest
import yaml

from reconcile.resources import default_params, kinds_csv, sample_dir
from reconcile_synth import CORRUPTION_LEVELS, Corruption, generate
from reconcile_synth import specs as S

SEED, HOUSEHOLDS = 20201, 400
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(value: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", value or ""):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(value, WEIGHTS, strict=False)) % 11] == value[17]


def parse_date(text: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})[-/年](\d{1,2})[-/月](\d{1,2})日?(?: 00:00:00)?", text) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", text)
    assert m, f"unparsed date {text!r}"
    return date(int(m[1]), int(m[2]), int(m[3]))


def money(text: str) -> float | None:
    text = (text or "").replace("元", "").replace(",", "").strip()
    return float(text) if text else None


def year(text: str) -> int | None:
    text = (text or "").replace("年", "").strip()
    return int(float(text)) if text else None


HH_TYPE = {"一般贫困户": "一般户", "低保贫困户": "低保户", "特困供养贫困户": "特困户", "01": "一般户", "04": "低保户",
           "06": "特困户"}
MEASURE = {"教育资助（雨露计划）": "教育资助", "扶贫小额信贷": "小额信贷", "公益性岗位": "公益岗位"}


def listset(text: str) -> frozenset[str]:
    return frozenset(MEASURE.get(x, x) for x in re.split(r"[,，;；、]", text or "") if x)


def village(text: str) -> str:
    return re.sub(r"(村民委员会|村委会|村)$", "", text or "")


def read_xlsx(path: Path) -> list[dict[str, str]]:
    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=1, dtypes="string")
    return [{k: (v or "") for k, v in row.items()} for row in sheet.to_polars().to_dicts()]


def read_csv(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("county")
    cfg = generate(out, households=HOUSEHOLDS, seed=SEED, corruption="low")
    assert cfg == out / "reconcile.yaml"
    return out


@pytest.fixture(scope="module")
def truth(county):
    return read_csv(county / "truth" / "findings.csv", "utf-8")


@pytest.fixture(scope="module")
def households(county):
    return read_csv(county / "truth" / "households.csv", "utf-8")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(county, tmp_path):
    generate(tmp_path, households=HOUSEHOLDS, seed=SEED, corruption="low")
    a, b = _files(county), _files(tmp_path)
    assert a.keys() == b.keys()
    differing = [name for name in a if a[name] != b[name]]
    assert not differing


def test_other_seed_other_county(county, tmp_path):
    generate(tmp_path, households=HOUSEHOLDS, seed=SEED + 1, corruption="low")
    assert (county / S.ARCHIVE_FILE).read_bytes() != (tmp_path / S.ARCHIVE_FILE).read_bytes()


def test_sample_county_is_current(county):
    """data/sample is exactly what generate writes for its seed (regenerate it after changing synth)."""
    sample = sample_dir()
    if not (sample / "truth").exists():
        pytest.skip("no sample county in this checkout")
    generated = _files(county)
    # a run with the sample's own `output: out/` writes beside it; only generated files are compared; the
    # monitoring-era sample beside it is compared below
    assert {k: v for k, v in _files(sample).items()
            if not k.startswith(("out/", f"{MONITORING_SAMPLE}/"))} == generated


MONITORING_SAMPLE, MONITORING_SEED, MONITORING_HOUSEHOLDS, MONITORING_YEAR = "监测期", 20241, 300, 2024


@pytest.fixture(scope="module")
def monitoring_county(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("monitoring")
    generate(out, households=MONITORING_HOUSEHOLDS, seed=MONITORING_SEED, corruption="low", year=MONITORING_YEAR)
    return out


def test_monitoring_sample_is_current(monitoring_county):
    """data/sample/监测期 is exactly what generate writes for its seed and year."""
    sample = sample_dir() / MONITORING_SAMPLE
    if not (sample / "truth").exists():
        pytest.skip("no monitoring-era sample in this checkout")
    assert {k: v for k, v in _files(sample).items() if not k.startswith("out/")} == _files(monitoring_county)


def test_monitoring_county_has_every_kind_of_its_era(monitoring_county):
    """Every kind of kinds.csv is injected, the monitoring export's own kinds included — except 错退 by a low
    income now, which a monitoring year reads as 应纳未纳 (missed_suspect)."""
    with open(kinds_csv(), encoding="utf-8") as f:
        kinds = {row["kind"] for row in csv.DictReader(f)}
    with open(monitoring_county / "truth" / "findings.csv", encoding="utf-8") as f:
        counts = Counter(row["kind"] for row in csv.DictReader(f))
    assert set(counts) == kinds - {"wrong_exit_income"}
    assert MONITORING_EXPORT_KINDS <= set(counts)


def test_monitoring_county_is_of_its_era(monitoring_county):
    """No household is 未脱贫 after 2020; exits are 2016–2020; monitoring starts in 2021 or later and an
    elimination is never sooner than the minimum months; the export carries the monitoring layout."""
    rows = read_xlsx(monitoring_county / S.SYSTEM_FILE)
    assert {h for h, _ in S.MONITORING_SYSTEM_COLUMNS} <= set(rows[0])
    assert "务工状况" not in rows[0]
    statuses = {r["脱贫标志"] for r in rows}
    assert "未脱贫" not in statuses
    assert {int(r["脱贫年度"]) for r in rows if r["脱贫年度"]} <= set(range(2016, 2021))
    starts = {r["识别监测时间"][:4] for r in rows if r["识别监测时间"]}
    assert starts and all(2021 <= int(y) <= MONITORING_YEAR for y in starts)
    assert {r["监测对象类别"] for r in rows} >= {"脱贫不稳定户", "边缘易致贫户"}
    assert any(r["识别监测时间"].endswith(".0") for r in rows), "YYYYMM read back from a number cell"


# The kinds of kinds-monitoring.csv: checks of the monitoring export's own fields, which the 2020-era county does
# not carry (the monitoring-era county above does).
MONITORING_EXPORT_KINDS = {
    "education_status_conflict", "labor_status_conflict", "insurance_inconsistent", "risk_condition_mismatch",
    "elimination_without_measure", "risk_kept_unnecessarily", "monitoring_contact_missing", "public_post_inconsistent",
    "value_out_of_range", "guarantee_flag_missing"}


def test_every_kind_is_injected(truth):
    with open(kinds_csv(), encoding="utf-8") as f:
        kinds = {row["kind"] for row in csv.DictReader(f)} - MONITORING_EXPORT_KINDS
    counts = Counter(row["kind"] for row in truth)
    assert set(counts) == kinds
    assert all(n >= 2 for n in counts.values()), counts


def test_truth_rows_name_known_households(truth, households):
    known = {(h["hh_code"], h["head_id"]) for h in households}
    person_kinds = {"member_missing", "person_multi_household", "name_mismatch", "id_mismatch", "id_invalid",
                    "id_demographic_conflict", "relation_mismatch", "deceased_listed", "ineligible_member"}
    for row in truth:
        if row["kind"] == "missed_suspect" and row["person_id"]:
            assert row["hh_code"] == "" and row["head_id"] == row["person_id"] and valid_id(row["person_id"])
        else:
            assert (row["hh_code"], row["head_id"]) in known, row
        if row["kind"] in person_kinds:
            assert row["person_id"] and row["person_name"], row
        assert row["source"] and row["detail"]
    touched = {r["hh_code"] for r in truth if r["hh_code"]}
    assert not [h for h in households if h["hh_code"] in touched and h["clean"] == "true"]


def test_links_cover_every_record(county):
    links = read_csv(county / "truth" / "links.csv", "utf-8")
    by_source = Counter(r["source"] for r in links)
    archive_rows = read_csv(county / S.ARCHIVE_FILE, S.ARCHIVE_ENCODING)
    survey_rows = read_csv(county / S.SURVEY_FILE, S.SURVEY_ENCODING)
    assert by_source["archive"] == len(archive_rows) and by_source["survey"] == len(survey_rows)
    keys = {r["rec_key"] for r in links if r["source"] == "archive"}
    assert f"{S.ARCHIVE_FILE}::2" in keys and f"{S.ARCHIVE_FILE}::{len(archive_rows) + 1}" in keys
    system_codes = {r["户编号"].strip() for r in read_xlsx(county / S.SYSTEM_FILE)}
    assert {r["rec_key"] for r in links if r["source"] == "system"} == system_codes
    plinks = read_csv(county / "truth" / "person_links.csv", "utf-8")
    manual = read_xlsx(county / S.MANUAL_FILE)
    assert sum(r["source"] == "manual" for r in plinks) == len(manual)
    clean = {h["hh_code"] for h in read_csv(county / "truth" / "households.csv", "utf-8") if h["clean"] == "true"}
    row_of = {r["rec_key"]: r["person_id"] for r in plinks if r["source"] == "manual"}
    checked = 0
    for i, row in enumerate(manual, start=3):  # title and header rows come first
        if row["户编号"] in clean:
            assert row["身份证号"] == row_of[f"{S.MANUAL_FILE}:{S.MANUAL_SHEET}:{i}"]
            checked += 1
    assert checked > 500


def test_config_maps_every_header_to_a_schema_field(county):
    from reconcile.schema import VISIT_FIELDS, register_fields, source_fields

    cfg = yaml.safe_load((county / "reconcile.yaml").read_text(encoding="utf-8"))
    assert set(cfg) == {"region", "year", "province", "output", "sources", "registers", "visits", "packs"}
    for key, src in cfg["sources"].items():
        allowed = source_fields(src["role"], src["level"])
        assert set(src["columns"].values()) <= set(allowed), key
        assert (county / src["path"]).exists()
    for kind, reg in cfg["registers"].items():
        assert reg["kind"] == kind and (county / reg["path"]).exists()
        assert set(reg["columns"].values()) <= set(register_fields(kind)), kind
    assert set(cfg["visits"]["columns"].values()) <= set(VISIT_FIELDS)


def test_archive_is_gb18030_not_utf8(county):
    raw = (county / S.ARCHIVE_FILE).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gb18030").startswith("序号,乡镇,村委会")
    assert (county / S.SURVEY_FILE).read_bytes().startswith(b"\xef\xbb\xbf")


def _numeric_id_rows(path: Path, columns: tuple[str, ...]) -> dict[str, set[int]]:
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode("utf-8")
    out: dict[str, set[int]] = {c: set() for c in columns}
    for col, row, attrs in re.findall(r'<c r="([A-Z]+)(\d+)"([^>]*)>', xml):
        if col in out and 't="s"' not in attrs and int(row) > 2:
            out[col].add(int(row))
    return out


def test_excel_mangled_ids_are_numeric_cells(county, truth):
    headers = [h for h, _ in S.SYSTEM_COLUMNS]
    id_col = chr(65 + headers.index("证件号码"))
    numeric = _numeric_id_rows(county / S.SYSTEM_FILE, (id_col,))[id_col]
    rows = read_xlsx(county / S.SYSTEM_FILE)
    plinks = {r["rec_key"]: r["person_id"] for r in read_csv(county / "truth" / "person_links.csv", "utf-8")
              if r["source"] == "system"}
    numeric_people = {plinks[rows[r - 3]["人口编号"]] for r in numeric}
    mangled = {r["person_id"] for r in truth if r["kind"] == "id_invalid" and r["source"] == "system"}
    assert mangled and numeric_people == mangled
    for r in numeric:
        # digits past the 15th are gone; the text may even pass the check digit by chance (1 in 11),
        # which is why a loader must look at the cell type, not the string
        assert rows[r - 3]["证件号码"] != plinks[rows[r - 3]["人口编号"]]


def _by(rows, key):
    out = defaultdict(list)
    for r in rows:
        out[r[key].strip()].append(r)
    return out


def test_clean_households_agree_everywhere(county, households):
    params = default_params()
    line20, line19 = params["exit_line"][2020], params["exit_line"][2019]
    mon = params["monitoring_line"][2020]
    clean = {h["hh_code"]: h for h in households if h["clean"] == "true" and h["registered"] == "true"}
    assert len(clean) > HOUSEHOLDS * 0.4
    system = _by(read_xlsx(county / S.SYSTEM_FILE), "户编号")
    manual = _by(read_xlsx(county / S.MANUAL_FILE), "户编号")
    archive = _by(read_csv(county / S.ARCHIVE_FILE, S.ARCHIVE_ENCODING), "户编号")
    survey = {r["户主身份证号"]: r for r in read_csv(county / S.SURVEY_FILE, S.SURVEY_ENCODING)}
    regs = {k: read_csv(county / S.REGISTER_DIR / name, enc if enc != "utf-8" else "utf-8")
            for k, (name, enc, _s, _c) in S.REGISTERS.items()}
    id_col = {k: next(h for h, f in cols if f == "id_number") for k, (_n, _e, _s, cols) in S.REGISTERS.items()}
    reg_ids = {k: Counter(r[id_col[k]] for r in rows) for k, rows in regs.items()}
    hukou_no = {r["公民身份号码"]: r["户号"] for r in regs["hukou"]}
    hukou_size = Counter(r["户号"] for r in regs["hukou"])
    visits = defaultdict(list)
    for v in read_csv(county / S.VISITS_FILE, S.VISITS_ENCODING):
        visits[v["户编号"] or v["户主身份证号"]].append(v)
    load = Counter(rows[0]["帮扶责任人证件号码"] for rows in system.values())
    fit = params["cause_measures"]
    checked_survey = 0
    for code, h in clean.items():
        sys_rows, man_rows, arc_rows = system[code], manual[code], archive[code]
        assert len(sys_rows) == int(sys_rows[0]["家庭人口数"]) and len(arc_rows) == 1, code
        s0, a0, m0 = sys_rows[0], arc_rows[0], man_rows[0]
        n = len(sys_rows)
        heads = [r for r in sys_rows if r["与户主关系"] == "户主"]
        assert len(heads) == 1 and heads[0]["证件号码"] == s0["户主证件号码"] == h["head_id"]
        ref = parse_date(heads[0]["出生日期"])
        for r in sys_rows:
            pid = r["证件号码"]
            assert valid_id(pid), (code, pid)
            assert parse_date(r["出生日期"]) == date(int(pid[6:10]), int(pid[10:12]), int(pid[12:14]))
            assert r["性别"] == ("男" if int(pid[16]) % 2 else "女")
            assert bool(r["文化程度"]) != bool(r["在校生状况"])
            if r["与户主关系"] in ("之子", "之女", "之孙子", "之孙女", "之儿媳", "之女婿"):
                assert parse_date(r["出生日期"]).year - ref.year >= 18
            if r["与户主关系"] == "配偶":
                assert r["性别"] != heads[0]["性别"]
        # the manual lists the same people with the same facts
        sys_people = {(r["证件号码"], r["姓名"], r["性别"], r["与户主关系"], parse_date(r["出生日期"])) for r in sys_rows}
        man_people = {(r["身份证号"], r["成员姓名"], r["性别"], r["与户主关系"], parse_date(r["出生日期"])) for r in man_rows}
        assert sys_people == man_people, code
        assert len(man_rows) == int(m0["家庭人口"]) == n == int(a0["家庭人口"])
        status = s0["脱贫标志"]
        for other in (m0["户状态"], a0["脱贫状态"]):
            assert other == status
        assert HH_TYPE.get(s0["贫困户属性"], s0["贫困户属性"]) == HH_TYPE.get(a0["贫困户属性"], a0["贫困户属性"]) \
            == m0["贫困户属性"]
        assert year(s0["脱贫年度"]) == year(a0["脱贫时间"]) == year(m0["脱贫年度"])
        assert s0["主要致贫原因"] == a0["致贫原因"] == m0["主要致贫原因"]
        assert s0["帮扶责任人"] == a0["帮扶人"] == m0["帮扶责任人"]
        assert listset(s0["帮扶措施"]) == listset(a0["帮扶措施"]) == listset(m0["帮扶措施"])
        assert listset(s0["帮扶措施"]) & set(fit[s0["主要致贫原因"]])
        assert a0["户主"] == s0["户主姓名"] == m0["户主姓名"] and a0["身份证号"].strip('="') == h["head_id"]
        assert village(a0["村委会"]) == village(s0["村"])
        # income: arithmetic in every record, same 2020 figures, lines cleared, last year re-measured
        parts = ("工资性收入", "生产经营性收入", "财产性收入", "转移性收入", "生产经营性支出")
        arc_parts = ("工资性收入", "经营性收入", "财产性收入", "转移性收入", "经营性支出")
        sys_inc = [money(s0[k]) for k in parts]
        assert sys_inc == [money(a0[k]) for k in arc_parts]
        assert sys_inc != [money(m0[k]) for k in parts]
        for rec, names, size in ((s0, parts, n), (a0, arc_parts, n), (m0, parts, n)):
            w, b, p, t, e = (money(rec[k]) for k in names)
            net = money(rec["家庭纯收入"])
            assert abs(w + b + p + t - e - net) < 1 and abs(net / size - money(rec["人均纯收入"])) < 1
        pc = money(s0["人均纯收入"])
        if status == "已脱贫":
            assert pc > line20
            if year(s0["脱贫年度"]) <= 2019:
                assert money(m0["人均纯收入"]) > line19
        if s0["风险是否消除"] == "已消除":
            assert pc > mon
            start, end = int(s0["识别监测时间"]), int(s0["风险消除时间"])
            assert (end // 100 - start // 100) * 12 + end % 100 - start % 100 >= params["risk_elimination_min_months"]
        # procedure dates in order, notices long enough, exit steps inside the exit year
        nd = params["notice_days"]
        steps = [parse_date(a0[k]) for k in ("申请时间", "民主评议时间", "村公示时间", "乡镇公示时间", "县公告时间")]
        assert all(steps) and steps == sorted(steps)
        assert (steps[3] - steps[2]).days >= nd["identify_village"] and (steps[4] - steps[3]).days >= nd["identify_township"]
        if status == "已脱贫":
            ex = [parse_date(a0[k]) for k in ("退出评议时间", "退出村公示时间", "退出乡镇公示时间", "退出县公告时间")]
            assert all(ex) and ex == sorted(ex) and {d.year for d in ex} == {year(s0["脱贫年度"])}
            assert (ex[2] - ex[1]).days >= nd["exit_village"] and (ex[3] - ex[2]).days >= nd["exit_township"]
        assert not any(t in a0["备注"] for t in params["retired_terms"])
        for field in params["record_required"]["manual"]:
            column = {"head_name": "户主姓名", "head_id": "户主身份证号", "hh_size": "家庭人口", "main_cause": "主要致贫原因",
                      "cadre_name": "帮扶责任人", "measures": "帮扶措施", "income_per_capita": "人均纯收入"}[field]
            assert m0[column], (code, field)
        # registers agree with the household
        ids = [r["证件号码"] for r in sys_rows]
        assert {hukou_no[i] for i in ids} == {hukou_no[h["head_id"]]} and hukou_size[hukou_no[h["head_id"]]] == n
        assert all(reg_ids["medical"][i] == 1 for i in ids)
        for kind in ("death", "public_employee", "vehicle", "property", "business"):
            assert not any(reg_ids[kind][i] for i in ids), (code, kind)
        htype = m0["贫困户属性"]
        assert all(bool(reg_ids["dibao"][i]) == (htype == "低保户") for i in ids)
        assert all(bool(reg_ids["tekun"][i]) == (htype == "特困户") for i in ids)
        for r in sys_rows:
            age = 2020 - int(r["证件号码"][6:10])
            if 6 <= age <= 15:
                assert reg_ids["student"][r["证件号码"]] == 1
        # visits: every month, or every quarter once exited (monitored households monthly)
        months = {parse_date(v["走访日期"]).month for v in visits[code] + visits[h["head_id"]]}
        if status != "已脱贫" or s0["监测对象类别"]:
            assert months == set(range(1, 13)), code
        else:
            assert {(m - 1) // 3 for m in months} == {0, 1, 2, 3}, code
        assert load[s0["帮扶责任人证件号码"]] <= params["cadre_household_limit"]
        sv = survey.get(h["head_id"])
        if sv:
            checked_survey += 1
            assert int(sv["家庭实际人口"]) == int(sv["户籍人口"]) == int(sv["明白卡人口"]) == int(sv["扶贫手册人口"]) == n
            assert abs(money(sv["人均纯收入"]) - pc) <= 50
            assert (sv["安全住房"], sv["饮水安全"], sv["有辍学"], sv["全员参保"], sv["能说出帮扶干部"]) == ("是", "是", "否", "是", "是")
            assert sv["户状态"] == status
    assert checked_survey > 20


def test_disability_register_matches_clean_members(county, households):
    """Every disabled member of a clean household is in the disability register, and only those."""
    regs = read_csv(county / S.REGISTER_DIR / "残联残疾人.csv", "utf-8")
    listed = {r["身份证号"][:18] for r in regs}
    clean = {h["hh_code"] for h in households if h["clean"] == "true"}
    members = [r for r in read_xlsx(county / S.SYSTEM_FILE) if r["户编号"] in clean]
    assert members and any(r["健康状况"] == "残疾" for r in members), "the sample has disabled members to check"
    for r in members:
        assert (r["证件号码"] in listed) == (r["健康状况"] == "残疾"), r["姓名"]


def test_everyone_outside_the_register_on_a_group_register_is_a_lead(county, truth):
    """Outside the register, everyone the 低保/特困/残疾/大病 registers list is a missed_suspect."""
    regs = {k: read_csv(county / S.REGISTER_DIR / name, enc) for k, (name, enc, _s, _c) in S.REGISTERS.items()}
    ids = {k: {next(v for h, v in r.items() if h in ("身份证号", "公民身份号码"))[:18] for r in rows}
           for k, rows in regs.items() if k in ("dibao", "tekun", "disability", "illness")}
    registered = {r["证件号码"] for r in read_xlsx(county / S.SYSTEM_FILE)}
    registered |= {r["身份证号"] for r in read_xlsx(county / S.MANUAL_FILE)}
    suspects = {r["person_id"] for r in truth if r["kind"] == "missed_suspect"}
    surveyed_heads = {r["head_id"] for r in truth if r["kind"] == "missed_suspect" and not r["person_id"]}
    listed = set().union(*ids.values())
    assert ids["illness"] and ids["disability"], "the sample has 大病 and 残疾 registers"
    outside = listed - registered
    assert outside, "the sample has people outside the register on the group registers"
    assert outside <= suspects
    assert surveyed_heads, "the sample has a surveyed household outside the register among the suspects"


def test_corruption_levels_raise_noise(tmp_path):
    assert CORRUPTION_LEVELS["low"].typo_rate < CORRUPTION_LEVELS["high"].typo_rate
    quiet = Corruption(0, 0, 0, 0, 0)
    generate(tmp_path / "q", households=120, seed=5, corruption=quiet, problem_share=0.0)
    rows = read_csv(tmp_path / "q" / "truth" / "findings.csv", "utf-8")
    assert {r["kind"] for r in rows} <= {"missed_suspect"}
    hh = read_csv(tmp_path / "q" / "truth" / "households.csv", "utf-8")
    assert all(h["clean"] == "true" for h in hh if h["registered"] == "true")
    generate(tmp_path / "h", households=120, seed=5, corruption="high", problem_share=0.0)
    noisy = Counter(r["kind"] for r in read_csv(tmp_path / "h" / "truth" / "findings.csv", "utf-8"))
    assert noisy["name_mismatch"] > 0 and noisy["id_invalid"] > 0


def test_two_thousand_households_is_quick(tmp_path):
    started = time.perf_counter()
    generate(tmp_path, households=2000, seed=7, corruption="medium")
    assert time.perf_counter() - started < 20
    counts = Counter(r["kind"] for r in read_csv(tmp_path / "truth" / "findings.csv", "utf-8"))
    assert len(counts) == 33


def test_cli_entry_point(tmp_path):
    from reconcile_synth.__main__ import main

    assert main(["--households", "60", "--seed", "3", "--out", str(tmp_path), "--corruption", "medium"]) == 0
    assert (tmp_path / "reconcile.yaml").exists() and (tmp_path / "truth" / "README.md").exists()


def test_injected_problems_are_visible_in_the_files(county, truth):
    """Spot checks that a truth row points at a difference a person could see in the files."""
    params = default_params()
    system = _by(read_xlsx(county / S.SYSTEM_FILE), "户编号")
    manual = read_xlsx(county / S.MANUAL_FILE)
    archive = read_csv(county / S.ARCHIVE_FILE, S.ARCHIVE_ENCODING)
    sys_by_id = {r["证件号码"]: r for rows in system.values() for r in rows}
    man_by_code = _by(manual, "户编号")
    for row in truth:
        kind, code, pid = row["kind"], row["hh_code"], row["person_id"]
        if kind == "name_mismatch" and row["source"] == "manual":
            names = {r["成员姓名"] for r in man_by_code[code]}
            assert sys_by_id[pid]["姓名"] not in names or len(names) == 0
        elif kind == "household_missing":
            present = {"system": code in system, "manual": code in man_by_code,
                       "archive": any(a["户编号"] == code or a["身份证号"].strip('="') == row["head_id"] for a in archive)}
            assert not present[row["source"]], row
        elif kind == "cadre_overload":
            cadre = system[code][0]["帮扶责任人证件号码"]
            assert sum(rows[0]["帮扶责任人证件号码"] == cadre for rows in system.values()) > params["cadre_household_limit"]
        elif kind == "wrong_exit_income":
            assert money(system[code][0]["人均纯收入"]) < params["exit_line"][2020]
        elif kind == "id_invalid" and row["source"] == "manual":
            assert not any(r["身份证号"] == pid for r in man_by_code[code])
        elif kind == "outdated_terms":
            rec = next(a for a in archive if a["户编号"] == code or a["身份证号"].strip('="') == row["head_id"])
            assert any(t in rec["备注"] for t in params["retired_terms"])
            assert parse_date(rec["更新日期"]).year >= params["retired_terms_from_year"]


# --- an independent re-derivation of every finding -------------------------------------------------
PERSON_KINDS = {"member_missing", "person_multi_household", "name_mismatch", "id_mismatch", "id_invalid",
                "id_demographic_conflict", "relation_mismatch", "deceased_listed", "ineligible_member"}


def _months(start: str, end: str) -> int:
    a, b = int(start), int(end)
    return (b // 100 - a // 100) * 12 + b % 100 - a % 100


def oracle(ctx) -> set[tuple[str, object, str]]:
    """Every finding the in-memory sources imply under the semantics of truth/README.md, computed from
    scratch; (kind, household or register person, person). Nothing here reads the injection log."""
    p, yr, v = ctx.params, ctx.year, ctx.v
    exit_l, mon, tol, nd, fit = (p["exit_line"], p["monitoring_line"][yr], p["income_tolerance"], p["notice_days"],
                                 p["cause_measures"])
    S, A, M, V = (v.sources[k] for k in ("system", "archive", "manual", "survey"))
    regs = {k: defaultdict(list) for k in v.registers}
    for k, rows in v.registers.items():
        for r in rows:
            if not r.get("_drop"):
                regs[k][r["_pid"]].append(r)
    hukou = defaultdict(set)
    for pid, rows in regs["hukou"].items():
        for r in rows:
            hukou[r["hukou_no"]].add(pid)
    out: set[tuple[str, object, str]] = set()

    def add(kind, key, pid=""):
        out.add((kind, key, pid if kind in PERSON_KINDS else ""))

    where = defaultdict(set)
    for src in (S, M):
        for rec in list(src.values()):
            for r in rec.persons:
                where[r.pid].add(rec.hid)
    for pid, hids in where.items():
        for hid in hids if len(hids) > 1 else ():
            add("person_multi_household", hid, pid)
    loads = Counter(rec.f["cadre_id"] for rec in S.values())
    for h in ctx.county.households:
        hid, sv = h.hid, V.get(h.hid)
        if not h.registered:  # everyone a 低保/特困/残疾/大病 register lists is a lead: by household if surveyed
            listed = [m.pid for m in h.members if any(regs[k][m.pid] for k in p["missed_register_groups"])]
            if sv and (sv.f["income_per_capita"] < exit_l[yr] or not sv.f["housing_safe"] or sv.f["dropout"] or listed):
                add("missed_suspect", hid)
            for pid in listed:
                add("missed_suspect", pid)
            continue
        s, a, m_ = S.get(hid), A.get(hid), M.get(hid)
        recs = [r for r in (s, a, m_) if r is not None]
        prec = [r for r in (s, m_) if r is not None]
        truep = {x.pid: x for x in h.members}
        if len(recs) < 3:
            add("household_missing", hid)
        if any(e.hid == hid for src in v.extras.values() for e in src):
            add("household_duplicate", hid)
        if s and m_:
            for pid in {r.pid for r in s.persons} ^ {r.pid for r in m_.persons}:
                add("member_missing", hid, pid)
        for pid in hukou[h.hukou_no] - set(where):
            add("member_missing", hid, pid)
        sizes = {len(hukou[h.hukou_no])} | {x for rec in prec for x in (rec.f["hh_size"], len(rec.persons))}
        sizes |= {a.f["hh_size"]} if a else set()
        if sv:
            sizes |= {x for x in (sv.f["hh_size"], sv.f["hukou_size"], sv.f["card_size"], sv.f["manual_size"]) if x}
        if len(sizes) > 1:
            add("household_size_mismatch", hid)
        for rec in (a, m_):
            if rec and valid_id(rec.f["head_id"]) and rec.f["head_id"] != h.head.pid:
                add("head_mismatch", hid)
        if a and a.f["head_id"] and not valid_id(a.f["head_id"]):
            add("id_invalid", hid, h.head.pid)
        for rec in prec:
            for r in rec.persons:
                t = ctx.people[r.pid]
                rid = r.f["id_number"]
                if r.f["name"] != t.name:
                    add("name_mismatch", hid, r.pid)
                if r.id_cell == "number" or (rid and not valid_id(rid)):
                    add("id_invalid", hid, r.pid)
                    continue
                if rid and rid != r.pid:
                    add("id_mismatch", hid, r.pid)
                if rid and ((r.f["sex"] == "男") != (int(rid[16]) % 2 == 1)
                            or r.f["birth_date"] != date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))):
                    add("id_demographic_conflict", hid, r.pid)
                if r.pid in truep and (r.f["relation"] != t.relation
                                       or (r.f["relation"] == "户主" and r.pid != h.head.pid and rec is s)):
                    add("relation_mismatch", hid, r.pid)

        def values(key, rs=recs):
            return {r.f.get(key) for r in rs if r.f.get(key) not in (None, "", [])}

        for key, kind in (("status", "status_mismatch"), ("risk_status", "status_mismatch"),
                          ("monitor_type", "status_mismatch"), ("risk_eliminated_date", "status_mismatch"),
                          ("exit_year", "exit_year_mismatch"),
                          ("hh_type", "household_type_mismatch"), ("main_cause", "cause_mismatch")):
            if len(values(key)) > 1:
                add(kind, hid)
        if s and (s.f["hh_type"] == "低保户") != bool(regs["dibao"][h.head.pid]):
            add("household_type_mismatch", hid)
        pcs = [r.f["income_per_capita"] for r in (s, a) if r] + ([sv.f["income_per_capita"]] if sv else [])
        if max(pcs) - min(pcs) > max(tol["absolute"], tol["relative"] * max(pcs)):
            add("income_mismatch", hid)
        parts = ("income_wage", "income_business", "income_property", "income_transfer", "expense_business")
        for rec in recs:
            f = rec.f
            net = sum(f[k] for k in parts[:4]) - f["expense_business"]
            if abs(net - f["income_total"]) > 1 or abs(f["income_total"] / f["hh_size"] - f["income_per_capita"]) > 1:
                add("income_arithmetic", hid)
        if s and m_ and [s.f[k] for k in parts] == [m_.f[k] for k in parts]:
            add("income_copied", hid)
        if len(values("cadre_name", prec)) > 1 or (sv and sv.f["knows_cadre"] is False):
            add("cadre_mismatch", hid)
        if (s or recs[0]).f["status"] == "已脱贫":
            low = any(x < exit_l[yr] for x in pcs) or (
                m_ and m_.f["exit_year"] <= m_.f["income_year"] and m_.f["income_per_capita"] < exit_l[m_.f["income_year"]])
            if low:
                add("wrong_exit_income", hid)
            pids = [x.pid for x in h.members]
            sa = p["school_age"]
            out_of_school = any(  # a school-age child recorded out of school, or (by a usable ID) not in 学籍
                sa["min"] <= yr - ctx.people[r.pid].birth.year <= sa["max"]
                and (r.f.get("student_status") in p["out_of_school_statuses"]
                     or (not regs["student"][r.pid] and r.f["id_number"] == r.pid and r.id_cell != "number"))
                for rec in prec for r in rec.persons if r.pid in ctx.people)
            if (out_of_school or any(r["student_status"] == "辍学" for x in pids for r in regs["student"][x])
                    or any(r["insured_status"] != "正常参保" for x in pids for r in regs["medical"][x])
                    or any(r["housing_grade"] in "CD" for r in regs["housing"][h.head.pid])
                    or (s and s.f["water_safe"] is False)
                    or (sv and (sv.f["dropout"] or not (sv.f["housing_safe"] and sv.f["water_safe"]
                                                        and sv.f["all_medical_insured"])))):
                add("wrong_exit_guarantee", hid)
        if a:
            f = a.f
            if "已脱贫" in values("status"):
                ds = [f.get(k) for k in ("exit_review_date", "exit_village_notice_date", "exit_township_notice_date",
                                         "exit_county_notice_date")]
                if not (all(ds) and ds == sorted(ds) and (ds[2] - ds[1]).days >= nd["exit_village"]
                        and (ds[3] - ds[2]).days >= nd["exit_township"] and ds[3].year <= f["exit_year"]):
                    add("exit_procedure", hid)
            ds = [f.get(k) for k in ("apply_date", "review_date", "village_notice_date", "township_notice_date",
                                     "county_notice_date")]
            if not (all(ds) and ds == sorted(ds) and (ds[3] - ds[2]).days >= nd["identify_village"]
                    and (ds[4] - ds[3]).days >= nd["identify_township"]):
                add("identify_procedure", hid)
            if any(t in f["note"] for t in p["retired_terms"]) and f["record_date"].year >= p["retired_terms_from_year"]:
                add("outdated_terms", hid)
        for x in h.members:
            if any(regs[k][x.pid] for k in ("public_employee", "vehicle", "property", "business")):
                add("ineligible_member", hid, x.pid)
            if regs["death"][x.pid]:
                add("deceased_listed", hid, x.pid)
        if s and loads[s.f["cadre_id"]] > p["cadre_household_limit"]:
            add("cadre_overload", hid)
        months = {d["visit_date"].month for d in v.visits[hid]}
        monthly = values("status") != {"已脱贫"} or (s and s.f["monitor_type"]) or s is None
        if months != set(range(1, 13)) if monthly else {(m - 1) // 3 for m in months} != {0, 1, 2, 3}:
            add("visit_insufficient", hid)
        if not any(rec.f["measures"] for rec in recs):
            add("no_measure", hid)
        if any(rec.f["measures"] and rec.f["main_cause"] and not set(rec.f["measures"]) & set(fit[rec.f["main_cause"]])
               for rec in recs):
            add("measure_cause_mismatch", hid)
        if s and s.f["risk_status"] == "已消除" and (
                s.f["income_per_capita"] < mon
                or any(any(r.f.get(field) in p["risk_persisting"][key] for rec in prec for r in rec.persons)
                       for cause, field, key in (("因病", "health", "illness_health"), ("因残", "health", "disability_health"),
                                                 ("因学", "student_status", "study_enrolled"))
                       if cause in [s.f["main_cause"], *(s.f["other_causes"] or [])])
                or _months(s.f["monitor_start_date"], s.f["risk_eliminated_date"]) < p["risk_elimination_min_months"]):
            add("risk_elimination_premature", hid)
        for src, rec in (("manual", m_), ("archive", a)):
            if rec and any(rec.f.get(fld) in (None, "", []) for fld in p["record_required"][src]):
                add("record_incomplete", hid)
        for src, rec in (("manual", m_), ("system", s)):
            if rec and any(r.f.get(fld) in (None, "") for r in rec.persons for fld in p["person_required"][src]):
                add("record_incomplete", hid)
    return out


@pytest.mark.parametrize(("households", "seed", "corruption", "index"),
                         [(HOUSEHOLDS, SEED, "low", 0), (900, 11, "high", 0), (900, 12, "high", 4)])
def test_truth_is_exactly_what_the_data_implies(households, seed, corruption, index):
    from reconcile_synth import CountySpec, build

    ctx = build(households, seed, corruption, county=CountySpec.of(index))
    truth = {(f.kind, f.pid if f.hid is None else f.hid, f.pid if f.kind in PERSON_KINDS else "")
             for f in ctx.findings}
    derived = oracle(ctx)
    assert not derived - truth, sorted(derived - truth, key=str)[:10]
    assert not truth - derived, sorted(truth - derived, key=str)[:10]


# --- counties of a simulated province, output formats ------------------------------------------------
def _cells(path: Path) -> list[dict[str, str]]:
    """Every row of a data file of any format as {header: text}."""
    import polars as pl

    if path.suffix == ".parquet":
        return [{k: v or "" for k, v in row.items()} for row in pl.read_parquet(path).to_dicts()]
    if path.suffix == ".xlsx":
        return read_xlsx(path)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    return list(csv.DictReader(text.splitlines()))


def _identity(folder: Path) -> dict[str, set[str]]:
    """Valid ID numbers, 户编号 and 户号 found anywhere in a county's data files."""
    out: dict[str, set[str]] = {"ids": set(), "hh_codes": set(), "hukou": set()}
    for path in folder.rglob("*"):
        if path.suffix not in (".csv", ".xlsx", ".parquet") or "truth" in path.parts:
            continue
        for row in _cells(path):
            for header, value in row.items():
                value = value.strip().strip('="')
                if valid_id(value):
                    out["ids"].add(value)
                if header == "户编号" and value:
                    out["hh_codes"].add(value)
                if header == "户号":
                    out["hukou"].add(value)
    return out


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    from reconcile_synth.province import generate_province

    out = tmp_path_factory.mktemp("province")
    assert generate_province(out, counties=3, households_per_county=60, seed=1, fmt="csv") == out / "province.yaml"
    return out


def test_default_county_is_the_sample_county(tmp_path):
    from reconcile_synth import DEFAULT_COUNTY, CountySpec

    assert CountySpec.of(0) == DEFAULT_COUNTY == CountySpec(0, "湘阴县")
    assert DEFAULT_COUNTY.code == "430624" and DEFAULT_COUNTY.hukou_prefix() == ""
    generate(tmp_path / "a", households=60, seed=3)
    generate(tmp_path / "b", households=60, seed=3, county=DEFAULT_COUNTY, fmt="xlsx")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_county_specs_have_disjoint_region_codes():
    from reconcile_synth import CountySpec
    from reconcile_synth.place import MAX_INDEX

    specs = [CountySpec.of(k) for k in range(MAX_INDEX + 1)]
    codes = [c for s in specs for c in s.all_regions]
    assert len(codes) == len(set(codes))
    assert len({s.name for s in specs}) == len(specs) and len({s.folder for s in specs}) == len(specs)
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    with pytest.raises(ValueError):
        CountySpec(2, "某县", "430624")
    with pytest.raises(ValueError):
        CountySpec(MAX_INDEX + 1, "某县")


def test_province_yaml_lists_every_county(province):
    from reconcile.config import load_config
    from reconcile_synth import CountySpec

    text = (province / "province.yaml").read_text(encoding="utf-8")
    folders = [CountySpec.of(k).folder for k in (1, 2, 3)]
    assert text.startswith("# 模拟省份:由 reconcile_synth.province 生成\nregion: 模拟省\nyear: 2020\n")
    assert yaml.safe_load(text) == {"region": "模拟省", "year": 2020, "province": "default", "output": "out/",
                                    "counties": [f"{f}/reconcile.yaml" for f in folders]}
    for k, folder in enumerate(folders, start=1):
        spec = CountySpec.of(k)
        cfg = load_config(province / folder / "reconcile.yaml")
        assert cfg.region == spec.name and folder.startswith(spec.code)
        system = _cells(province / folder / "国家系统导出.csv")
        assert {r["县"] for r in system} == {spec.name} and {r["省"] for r in system} == {"模拟省"}


def test_province_yaml_is_read_by_the_province_loader(province):
    load_province = pytest.importorskip("reconcile.province").load_province

    loaded = load_province(province / "province.yaml")
    assert loaded.region == "模拟省" and [c.region for c in loaded.counties] == ["安州县", "高云县", "宁山县"]


def test_province_counties_share_no_identity(province):
    from reconcile.normalize.ids import is_valid_id
    from reconcile_synth import CountySpec

    seen: dict[str, dict[str, set[str]]] = {}
    for k in (1, 2, 3):
        spec = CountySpec.of(k)
        found = _identity(province / spec.folder)
        assert len(found["ids"]) > 300 and found["hh_codes"] and found["hukou"]
        assert {i[:6] for i in found["ids"]} <= spec.all_regions
        heads = {h["head_id"] for h in read_csv(province / spec.folder / "truth" / "households.csv", "utf-8")}
        assert heads <= found["ids"] and all(is_valid_id(i) for i in heads)  # valid for the engine too
        assert all(c.startswith(spec.code) for c in found["hh_codes"] | found["hukou"])
        for other, theirs in seen.items():
            for key in found:
                assert not found[key] & theirs[key], (key, other, k)
        seen[spec.folder] = found


def test_counties_with_the_same_seed_share_no_identity(tmp_path):
    """Independent generation: even one seed for two counties gives them nothing in common."""
    from reconcile_synth import CountySpec

    a = generate(tmp_path / "a", households=60, seed=9, county=CountySpec.of(7), fmt="parquet").parent
    b = generate(tmp_path / "b", households=60, seed=9, county=CountySpec.of(8), fmt="parquet").parent
    sample = _identity(generate(tmp_path / "c", households=60, seed=9).parent)
    found_a, found_b = _identity(a), _identity(b)
    for key in found_a:
        assert found_a[key] and not found_a[key] & found_b[key] and not found_a[key] & sample[key], key


def test_province_resumes_and_workers_give_the_same_bytes(province, tmp_path):
    from reconcile_synth.province import generate_province, main

    first = province / "435001_安州县" / "reconcile.yaml"
    stamp = first.stat().st_mtime_ns
    generate_province(province, counties=3, households_per_county=60, seed=1, fmt="csv")
    assert first.stat().st_mtime_ns == stamp  # already generated: skipped
    assert main(["--counties", "3", "--households", "60", "--seed", "1", "--out", str(tmp_path),
                 "--format", "csv", "--workers", "2"]) == 0
    assert _files(tmp_path) == _files(province)


def _finding_keys(config: Path, out: Path) -> Counter:
    from reconcile import run

    f = run(config, output=out).findings
    return Counter(zip(f["kind"], f["hh_code"], f["head_id"], f["person_id"], strict=True))


def test_formats_load_and_give_the_same_findings(tmp_path):
    from reconcile.config import load_config
    from reconcile_synth import CountySpec

    spec = CountySpec.of(5)
    configs = {fmt: generate(tmp_path / fmt, households=60, seed=17, corruption="high", county=spec, fmt=fmt)
               for fmt in ("xlsx", "csv", "parquet")}
    for fmt, path in configs.items():
        cfg = load_config(path)
        assert all(s.path.exists() for s in [*cfg.sources.values(), *cfg.registers.values()]), fmt
    cfg = yaml.safe_load(configs["csv"].read_text(encoding="utf-8"))["sources"]
    assert cfg["system"]["header_rows"] == 1 and cfg["system"]["encoding"] == "gb18030"
    assert cfg["manual"]["header_rows"] == 1 and cfg["manual"]["encoding"] == "utf-8-sig"
    assert (tmp_path / "csv" / "扶贫手册.csv").read_bytes().startswith(b"\xef\xbb\xbf\xe4\xb9\xa1")  # BOM + 乡
    assert (tmp_path / "csv" / "国家系统导出.csv").read_bytes().decode("gb18030").startswith("省,市,县")
    assert "header_rows" not in yaml.safe_load(configs["parquet"].read_text(encoding="utf-8"))["sources"]["system"]
    truth = (tmp_path / "xlsx" / "truth" / "findings.csv").read_bytes()
    assert all((tmp_path / f / "truth" / "findings.csv").read_bytes() == truth for f in ("csv", "parquet"))
    expected = _finding_keys(configs["xlsx"], tmp_path / "out-xlsx")
    assert expected and {k[0] for k in expected} >= {"id_invalid", "name_mismatch"}
    for fmt in ("csv", "parquet"):
        assert _finding_keys(configs[fmt], tmp_path / f"out-{fmt}") == expected, fmt


def test_the_generator_imports_nothing_of_the_engine_it_judges():
    """reconcile_synth lives beside the product and may import only the standard library and a short list of
    third-party packages: were it to import reconcile's normalisers or rules, its ground truth would agree with
    the engine by construction."""
    import ast
    import sys
    from pathlib import Path

    import reconcile_synth

    allowed = set(sys.stdlib_module_names) | {"yaml", "xlsxwriter", "numpy", "polars", "pyarrow"}
    package = Path(reconcile_synth.__file__).parent
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.name)
    assert found, "the generator imports something"
    outside = {top: sorted(files) for top, files in found.items() if top not in allowed and top != "reconcile_synth"}
    assert not outside, f"the generator imports beyond its allow-list: {outside}"
    assert "reconcile" not in found
    # and the product does not ship it
    import reconcile

    assert not (Path(reconcile.__file__).parent / "synth").exists()
