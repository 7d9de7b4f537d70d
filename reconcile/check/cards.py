"""Household facts worked out once per check, before the rules: 红黄绿卡 and the monitoring record.

红黄绿卡: every registered household's card (rules/params/default.yaml `household_cards`), worked out once per
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


def write_card_labels(con: duckdb.DuckDBPyConnection) -> None:
    """`card_label(card, label)`: what a person reads for each card."""
    write_frame(con, "card_label", pl.DataFrame({"card": list(CARD_LABELS), "label": list(CARD_LABELS.values())}))


def build_household_cards(con: duckdb.DuckDBPyConnection, flat: dict) -> None:
    """`household_card(cluster_id, card, card_label, reason)`: one row per registered household."""
    con.execute(f"create or replace table household_card as {CARD_SQL}", bind(CARD_SQL, flat))


# the monitoring record of each monitored household, as the most trusted registered source says it: what the
# 防返贫监测 statistics of the workbook and the page count
MONITORING_SQL = """
select h.cluster_id, h.monitor_type, h.risk_status,
       arg_min(s.monitor_start_date, s.ord) filter (where s.monitor_start_date is not null) as monitor_start_date,
       arg_min(s.risk_eliminated_date, s.ord) filter (where s.risk_eliminated_date is not null) as risk_eliminated_date,
       arg_min(s.elimination_method, s.ord) filter (where s.elimination_method is not null) as elimination_method,
       list_filter(list_prepend(arg_min(s.main_cause, s.ord) filter (where s.main_cause is not null),
                                coalesce(arg_min(s.other_causes, s.ord) filter (where s.other_causes is not null), [])),
                   lambda c: c is not null) as risk_causes
from hh_registered h join hh_source s on s.cluster_id = h.cluster_id and s.registered and s.present
where h.monitor_type is not null
group by h.cluster_id, h.monitor_type, h.risk_status
"""


def build_monitored_households(con: duckdb.DuckDBPyConnection) -> None:
    """`monitored_household(cluster_id, monitor_type, risk_status, monitor_start_date, risk_eliminated_date,
    elimination_method, risk_causes)`: one row per monitored household; `risk_causes` is the main risk, then the
    further ones, as the most trusted source that records each says (what the monitoring rules read)."""
    con.execute(f"create or replace table monitored_household as {MONITORING_SQL}")
