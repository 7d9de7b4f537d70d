"""红黄绿卡: every registered household's card (rules/params/default.yaml `household_cards`), worked out once per
check into `household_card`, before the rules: the visit rule reads it, findings and the workbook show it.

红卡 — not exited, or monitored with the risk not eliminated; 黄卡 — exited, its latest per-capita income below
`yellow_income_factor` × that year's monitoring line; 绿卡 — every other exited household. Each card carries its
reason in Chinese, as a township officer would explain it.
"""

from __future__ import annotations

import duckdb
import polars as pl

from ..db import write_frame
from .params import bind

CARD_LABELS = {"red": "红卡", "yellow": "黄卡", "green": "绿卡"}

# the latest income year of each household, from the most trusted registered source that records it
CARD_SQL = """
with income as (
  select cluster_id, income_year, income_per_capita as income
  from (select *, row_number() over (partition by cluster_id order by income_year desc, ord) as n
        from hh_source where registered and present and income_per_capita is not null and income_year is not null)
  where n = 1
),
judged as (
  select h.cluster_id, h.status, h.monitor_type, h.risk_status, i.income_year, i.income, m.value as line,
         h.monitor_type is not null and h.risk_status is distinct from '已消除' as risk_open,
         i.income < $household_cards_yellow_income_factor * m.value as low_income
  from hh_registered h left join income i using (cluster_id)
  left join param_monitoring_line m on m.year = i.income_year
)
select cluster_id, card, l.label as card_label, reason
from (
select cluster_id,
       case when risk_open or status is distinct from '已脱贫' then 'red' when low_income then 'yellow' else 'green' end
           as card,
       case when risk_open then '监测对象(' || monitor_type || '),风险未消除'
            when status = '未脱贫' then '未脱贫'
            when status is null then '户状态未记录,按未脱贫跟踪'
            when status is distinct from '已脱贫' then status || coalesce('(' || monitor_type || ',风险已消除)', '')
                                                     || ',不是已脱贫户,按未脱贫跟踪'
            when low_income then '已脱贫,' || income_year || '年人均纯收入' || printf('%.0f', income) || '元,低于'
                                 || printf('%.0f', $household_cards_yellow_income_factor * line) || '元(监测标准的'
                                 || $household_cards_yellow_income_factor || '倍)'
            when income is null then '已脱贫,没有收入记录'
            when line is null then '已脱贫,' || income_year || '年没有监测标准可比'
            else '已脱贫,' || income_year || '年人均纯收入' || printf('%.0f', income) || '元,不低于'
                 || printf('%.0f', $household_cards_yellow_income_factor * line) || '元' end as reason
from judged) join card_label l using (card)
"""


def build_household_cards(con: duckdb.DuckDBPyConnection, flat: dict) -> None:
    """`household_card(cluster_id, card, card_label, reason)`: one row per registered household."""
    write_frame(con, "card_label", pl.DataFrame({"card": list(CARD_LABELS), "label": list(CARD_LABELS.values())}))
    con.execute(f"create or replace table household_card as {CARD_SQL}", bind(CARD_SQL, flat))
