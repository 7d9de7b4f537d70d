"""红黄绿卡: every registered household's card, its reason, the card on its findings and the visit rule by card."""

from __future__ import annotations

import duckdb

from reconcile.check.cases import case_config
from reconcile.pipeline import run

ROWS = [
    # hh_code, head, status, monitor_type, risk_status, income_per_capita, expected card, words of its reason
    ("H1", "王明", "未脱贫", "", "", "3000", "红卡", "未脱贫"),
    ("H2", "张强", "已脱贫", "", "", "5000", "黄卡", "2020年人均纯收入5000元,低于6000元(监测标准的1.0倍)"),
    ("H3", "赵刚", "已脱贫", "", "", "9000", "绿卡", "2020年人均纯收入9000元,不低于6000元"),
    ("H4", "孙亮", "已脱贫", "脱贫不稳定户", "未消除", "9000", "红卡", "监测对象(脱贫不稳定户),风险未消除"),
    ("H5", "周平", "已脱贫", "", "", "", "绿卡", "已脱贫,没有收入记录"),
    ("H6", "王老汉", "非贫困户", "边缘易致贫户", "已消除", "9000", "红卡", "非贫困户(边缘易致贫户,风险已消除),不是已脱贫户,按未脱贫跟踪"),
]
IDS = {"H1": "430624198001011239", "H2": "430624197502022214", "H3": "430624196507077711", "H4": "430624197003033314",
       "H5": "430624197204044415", "H6": "430624195002022219"}


def _county(tmp_path, params=None):
    rows = [{"hh_code": code, "village": "大田村", "head_name": head, "head_id": IDS[code], "status": status,
             "monitor_type": monitor, "risk_status": risk, "income_year": "2020", "income_per_capita": income,
             "hh_size": "3"} for code, head, status, monitor, risk, income, _, _ in ROWS]
    archive = [dict(r, hh_size="4") if r["hh_code"] == "H2" else r for r in rows]  # one finding: H2's size
    case = {"year": 2020, "params": params or {},
            "sources": {"system": {"rows": rows}, "archive": {"rows": archive}}}
    return run(case_config(case, tmp_path))


def test_every_registered_household_gets_its_card_with_the_reason(tmp_path):
    result = _county(tmp_path)
    with duckdb.connect(str(tmp_path / "out" / "reconcile.duckdb"), read_only=True) as con:
        cards = {code: (card, reason) for code, card, reason in con.execute(
            "select w.hh_code, c.card_label, c.reason from household_card c join hh_wide w using (cluster_id)").fetchall()}
    assert {code: card for code, (card, _) in cards.items()} == {r[0]: r[6] for r in ROWS}
    for code, *_, words in ROWS:
        assert words in cards[code][1], (code, cards[code])
    # the finding on H2 carries its household's card
    size = result.findings.filter(result.findings["kind"] == "household_size_mismatch")
    assert size["hh_code"].to_list() == ["H2"] and size["card"].to_list() == ["黄卡"]


def test_the_yellow_margin_is_a_parameter(tmp_path):
    _county(tmp_path, params={"household_cards": {"yellow_income_factor": 1.6}})
    with duckdb.connect(str(tmp_path / "out" / "reconcile.duckdb"), read_only=True) as con:
        yellow = con.execute("select w.hh_code from household_card c join hh_wide w using (cluster_id) "
                             "where c.card = 'yellow' order by 1").fetchall()
    assert yellow == [("H2",), ("H3",)]  # 9000 < 1.6 × 6000
