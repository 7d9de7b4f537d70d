"""README.md of a generated county (Chinese first, then English)."""

from __future__ import annotations

from collections import Counter

from . import specs as S
from .world import County


def sample_readme(county: County, households: int, seed: int, corruption, counts: Counter) -> str:
    level = corruption if isinstance(corruption, str) else "custom"
    towns = "、".join(t for t, _ in county.towns)
    regs_zh = "\n".join(f"  - `{S.REGISTER_DIR}/{name}`（{kind}，{'GB18030' if enc == 'gb18030' else 'UTF-8'}）"
                        for kind, (name, enc, _s, _c) in S.REGISTERS.items())
    total = sum(counts.values())
    nonreg = sum(not h.registered for h in county.households)
    return f"""# 示例县（模拟数据）

本目录是 `reconcile` 的示例县：湖南省岳阳市湘阴县（430624）的一个**完全虚构**的县域数据集，
由 `python -m reconcile.synth --households {households} --seed {seed} --out <目录> --corruption {level}` 生成，
同一种子每次生成的 CSV 与真值逐字节相同。人名、身份证号、户编号均为随机生成（身份证号符合 GB 11643 校验规则），
不对应任何真实人员。

- 乡镇：{towns}，共 {len(county.villages)} 个行政村；建档立卡户（含监测户）{households} 户；另有 {nonreg} 户非建档立卡户，只出现在部门数据中（少数在入户核查中）。
- 运行：`reconcile run data/sample/reconcile.yaml`（配置中每个原始表头都显式映射到规范字段）。

## 文件

| 文件 | 来源 | 形式 |
|---|---|---|
| `{S.SYSTEM_FILE}` | 国家系统导出 (system) | 每人一行、户信息重复；第1行合并标题，第2行表头；身份证号为文本单元格（个别被存成 Excel 数值）；出生日期多种格式，少数为 Excel 日期 |
| `{S.ARCHIVE_FILE}` | 村级台账 (archive) | 每户一行，GB18030 编码；村委会名称写法不一；部分户编号为空；个别身份证号为 `="…"`；贫困户属性偶为代码（01/04/06）；金额带“元”或千分位 |
| `{S.MANUAL_FILE}` | 扶贫手册 (manual) | 每人一行，第1行标题、第2行表头；录入错字、缺项；收入为上一年（{county.year - 1}年）手册页 |
| `{S.SURVEY_FILE}` | 入户核查 (survey) | 约25%建档立卡户及少量非建档立卡户的农户调查表结果，UTF-8 带 BOM |
| `{S.VISITS_FILE}` | 走访记录 | 每次走访一行，填户编号或户主身份证号 |
| `{S.REGISTER_DIR}/` | 部门数据 | 编码混用： |

{regs_zh}

`truth/` 是真值：`findings.csv`（共 {total} 行，每个注入问题及其引起的每类问题一行）、`households.csv`、
`links.csv`、`person_links.csv`，注入方式见 `truth/README.md`。

---

# Sample county (synthetic)

A **fully fictitious** county data set for `reconcile`, placed in 湘阴县 (430624), generated with
`python -m reconcile.synth --households {households} --seed {seed} --out <dir> --corruption {level}`;
the same seed gives byte-identical CSV and truth files. Names, ID numbers (valid GB 11643) and household
codes are random and belong to no real person.

- {len(county.towns)} townships, {len(county.villages)} villages; {households} registered (incl. monitored)
  households, and {nonreg} non-registered households that appear only in department registers (a few in the survey).
- `reconcile.yaml` maps every raw header explicitly to a canonical field; unmapped raw columns are kept in `extra`.

Files: `{S.SYSTEM_FILE}` (national export, person rows, merged title row + header, IDs as text cells except a
few Excel numbers, mixed date formats and a few Excel date cells); `{S.ARCHIVE_FILE}` (village ledger, household
rows, GB18030, village-name variants, some empty 户编号, `="…"` IDs, code numbers, money with 元/commas);
`{S.MANUAL_FILE}` (household booklets typed from paper, person rows, typos and blanks, last year's income page);
`{S.SURVEY_FILE}` (inspection survey of ~25% of registered households plus a few non-registered ones, UTF-8 with
BOM); `{S.VISITS_FILE}` (helper visits); `{S.REGISTER_DIR}/` (department registers, GB18030 or UTF-8).

`truth/` holds the ground truth ({total} finding rows) and `truth/README.md` the injection catalogue.
"""
