"""README.md of a generated county (Chinese first, then English)."""

from __future__ import annotations

from collections import Counter

from . import specs as S
from .world import County

_FORMS_ZH = {  # the system export and the manual in formats other than xlsx
    "csv": ("每人一行、户信息重复；GB18030 编码的 CSV，一行表头；身份证号为文本（个别被 Excel 存成数值后显示为 4.30624E+17）；出生日期多种格式",
            "每人一行，UTF-8 带 BOM 的 CSV，一行表头；录入错字、缺项；收入为上一年（{prev}年）手册页"),
    "parquet": ("每人一行、户信息重复；Parquet，全部列为字符串；身份证号为文本（个别被 Excel 存成数值后显示为 4.30624E+17）；出生日期多种格式",
                "每人一行，Parquet；录入错字、缺项；收入为上一年（{prev}年）手册页"),
}
_FORMAT_EN = {
    "csv": "\n\nFormat `csv`: the national export is a GB18030 CSV and the manual a UTF-8 (BOM) CSV, each with one header "
           "row; an ID Excel kept as a number reads 4.30624E+17. Everything else is as described.",
    "parquet": "\n\nFormat `parquet`: every file above is Parquet (same headers, all columns strings, empty cells null) "
               "instead of xlsx/CSV; an ID Excel kept as a number reads 4.30624E+17.",
}


_MONITORING_ZH = """
- 监测期：所有建档立卡户已于2016–2020年脱贫；部分脱贫户为脱贫不稳定户，另有边缘易致贫户、突发严重困难户（户状态为非贫困户），
  于2021年起某月纳入监测，部分风险已消除（帮扶消除或自然消除，不早于规定月数）。未纳入监测的脱贫户收入高于当年监测标准。
  注入的问题除四个一致类外，还有监测导出自身的问题（监测联系人、电话位数、公益性岗位、参保、务工月数、在校生、耕地面积、
  兜底保障户、因病无自付支出、应消未消），见 `truth/README.md`。"""
_MONITORING_EN = """
- Monitoring era: every registered poor household exited in 2016–2020; some are monitored (脱贫不稳定户, and
  边缘易致贫户 / 突发严重困难户 that were never registered poor) from a month of 2021 on, some with the risk
  eliminated. The system file is the 防返贫监测 export's layout; besides four-consistency problems, the export's own
  problems are injected (contact, phone length, 公益岗, insurance, work months, students, land, 兜底 flag, 因病
  without costs, 应消未消): see `truth/README.md`."""


def sample_readme(county: County, households: int, seed: int, corruption, counts: Counter, fmt: str = "xlsx") -> str:
    level = corruption if isinstance(corruption, str) else "custom"
    spec = county.spec
    towns = "、".join(t for t, _ in county.towns)
    enc_label = (lambda enc: "Parquet") if fmt == "parquet" else (lambda enc: "GB18030" if enc == "gb18030" else "UTF-8")
    regs_zh = "\n".join(f"  - `{S.REGISTER_DIR}/{S.file_name(name, fmt)}`（{kind}，{enc_label(enc)}）"
                        for kind, (name, enc, _s, _c) in S.REGISTERS.items())
    total = sum(counts.values())
    nonreg = sum(not h.registered for h in county.households)
    system, manual, archive, survey, visits = (S.file_name(n, fmt) for n in (
        S.SYSTEM_FILE, S.MANUAL_FILE, S.ARCHIVE_FILE, S.SURVEY_FILE, S.VISITS_FILE))
    flags = ((f" --county-index {spec.index}" if spec.index else "") + (f" --format {fmt}" if fmt != "xlsx" else "")
             + (f" --year {county.year}" if county.monitoring else ""))
    title, what, config = ("示例县", " `reconcile` 的示例县", "data/sample/reconcile.yaml") if spec.index == 0 else (
        spec.name, "模拟省份的县", "reconcile.yaml")
    if county.monitoring and spec.index == 0:
        title, what, config = (f"监测期示例县（{county.year}年度）", f" `reconcile` 的监测期示例县（考核年度 {county.year}）",
                               "data/sample/监测期/reconcile.yaml")
    sys_form = ("每人一行、户信息重复；第1行合并标题，第2行表头；身份证号为文本单元格（个别被存成 Excel 数值）；"
                "出生日期多种格式，少数为 Excel 日期")
    if county.monitoring:
        sys_form = ("防返贫监测信息系统导出：每人一行、户信息重复；表头为全国系统的人员表头加监测列（监测对象类别、识别监测时间、"
                    "风险是否消除、风险消除方式、致贫/返贫风险1…3、监测联系人及电话、公益性岗位、务工所在地和月数、职工医保、大病保险、"
                    "特困供养、整户兜底、耕地林地、合规自付医疗支出），没有务工状况列；年月为 202303、202303.0 或 2023-03；"
                    "电话偶带 .0；" + sys_form.split("；", 1)[1])
    man_form = f"每人一行，第1行标题、第2行表头；录入错字、缺项；收入为上一年（{county.year - 1}年）手册页"
    if fmt in _FORMS_ZH:
        sys_form, man_form = _FORMS_ZH[fmt][0], _FORMS_ZH[fmt][1].format(prev=county.year - 1)
    return f"""# {title}（模拟数据）

本目录是{what}：{spec.province}{spec.city}{spec.name}（{spec.code}）的一个**完全虚构**的县域数据集，
由 `python -m reconcile_synth --households {households} --seed {seed} --out <目录> --corruption {level}{flags}` 生成，
同一种子每次生成的 CSV 与真值逐字节相同。人名、身份证号、户编号均为随机生成（身份证号符合 GB 11643 校验规则），
不对应任何真实人员。

- 乡镇：{towns}，共 {len(county.villages)} 个行政村；建档立卡户（含监测户）{households} 户；另有 {nonreg} 户非建档立卡户，只出现在部门数据中（少数在入户核查中）。
- 运行：`reconcile run {config}`（配置中每个原始表头都显式映射到规范字段）。{_MONITORING_ZH if county.monitoring else ""}

## 文件

| 文件 | 来源 | 形式 |
|---|---|---|
| `{system}` | 国家系统导出 (system) | {sys_form} |
| `{archive}` | 村级台账 (archive) | 每户一行，{"Parquet" if fmt == "parquet" else "GB18030 编码"}；村委会名称写法不一；部分户编号为空；个别身份证号为 `="…"`；贫困户属性偶为代码（01/04/06）；金额带“元”或千分位 |
| `{manual}` | 扶贫手册 (manual) | {man_form} |
| `{survey}` | 入户核查 (survey) | 约25%建档立卡户及少量非建档立卡户的农户调查表结果，{"Parquet" if fmt == "parquet" else "UTF-8 带 BOM"} |
| `{visits}` | 走访记录 | 每次走访一行，填户编号或户主身份证号 |
| `{S.REGISTER_DIR}/` | 部门数据 | 编码混用： |

{regs_zh}

`truth/` 是真值：`findings.csv`（共 {total} 行，每个注入问题及其引起的每类问题一行）、`households.csv`、
`links.csv`、`person_links.csv`，注入方式见 `truth/README.md`。

---

# {("Monitoring-era sample county (synthetic, " + str(county.year) + ")" if county.monitoring else "Sample county (synthetic)") if spec.index == 0 else f"{spec.name} (synthetic county)"}

A **fully fictitious** county data set for `reconcile`, placed in {spec.name} ({spec.code}), generated with
`python -m reconcile_synth --households {households} --seed {seed} --out <dir> --corruption {level}{flags}`;
the same seed gives byte-identical CSV and truth files. Names, ID numbers (valid GB 11643) and household
codes are random and belong to no real person.

- {len(county.towns)} townships, {len(county.villages)} villages; {households} registered (incl. monitored)
  households, and {nonreg} non-registered households that appear only in department registers (a few in the survey).
- `reconcile.yaml` maps every raw header explicitly to a canonical field; unmapped raw columns are kept in `extra`.{_MONITORING_EN if county.monitoring else ""}

Files: `{system}` (national export, person rows, merged title row + header, IDs as text cells except a
few Excel numbers, mixed date formats and a few Excel date cells); `{archive}` (village ledger, household
rows, GB18030, village-name variants, some empty 户编号, `="…"` IDs, code numbers, money with 元/commas);
`{manual}` (household booklets typed from paper, person rows, typos and blanks, last year's income page);
`{survey}` (inspection survey of ~25% of registered households plus a few non-registered ones, UTF-8 with
BOM); `{visits}` (helper visits); `{S.REGISTER_DIR}/` (department registers, GB18030 or UTF-8).{_FORMAT_EN.get(fmt, "")}

`truth/` holds the ground truth ({total} finding rows) and `truth/README.md` the injection catalogue.
"""
