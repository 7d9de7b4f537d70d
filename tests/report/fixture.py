"""A tiny county held as the named tables the reports read, with a ledger of two runs.

Independent of the rule packs and the linker, so the golden files change only when the reports do.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from reconcile.check.engine import FINDING_COLUMNS
from reconcile.config import parse_config
from reconcile.ledger import carry_over, update
from reconcile.plan import FilePlan, Notice, RulePlan, RunPlan

CLOCK = [datetime(2021, 3, 1, 9, 0), datetime(2021, 4, 1, 9, 0)]
SOURCES = {"system": ("国家系统导出.xlsx", "person"), "archive": ("村级台账.csv", "household"),
           "manual": ("扶贫手册.xlsx", "person"), "survey": ("入户核查.csv", "household")}

# (cluster, township, village, hh_code, head, head_id, present: system archive manual survey)
HOUSEHOLDS = [
    ("H1", "东塘镇", "桃源村", "4306241032040000001", "陈春莲", "430624198007151742", (1, 1, 1, 1)),
    ("H2", "东塘镇", "桃源村", "4306241032040000002", "王胜", "430624196907194917", (1, 1, 1, 0)),
    ("H3", "东塘镇", "洞庭村", "4306241032050000003", "彭龙文", "430624196404259870", (1, 0, 1, 0)),
    ("H4", "文星镇", "双江村", "4306241012050000004", "郭飞生", "430624198309056839", (1, 1, 1, 1)),
    ("H5", "文星镇", "双江村", "4306241012050000005", "唐辉云", "430624194409167132", (1, 1, 0, 0)),
    ("H6", "文星镇", "团山村", "4306241012060000006", "李明华", "430624197001011234", (0, 0, 0, 1)),
]


def _finding(fid, rule, kind, category, severity, cluster, person=None, evidence=None, message="", advice="",
             sources="system"):
    hh = {h[0]: h for h in HOUSEHOLDS}.get(cluster)
    return {"finding_id": fid, "rule_id": rule, "kind": kind, "category": category, "severity": severity,
            "township": hh[1] if hh else (person or {}).get("township"), "village": hh[2] if hh else
            (person or {}).get("village"), "cluster_id": cluster, "hh_code": hh[3] if hh else None,
            "head_name": hh[4] if hh else None, "head_id": hh[5] if hh else (person or {}).get("id"),
            "person_name": (person or {}).get("name"), "person_id": (person or {}).get("id"), "sources": sources,
            "evidence": json.dumps(evidence or {}, ensure_ascii=False), "message": message, "advice": advice,
            "status": "new"}


BASE = [
    _finding("f01", "FC-HH-SIZE", "household_size_mismatch", "其他(资料档案)", "medium", "H1",
             evidence={"system": "4", "archive": "4", "manual": "5"}, message="家庭人口数不一致:国家系统 4;村级档案 4;扶贫手册 5",
             advice="入户核实家庭共同生活人口"),
    _finding("f02", "FC-HH-SIZE-HUKOU", "household_size_mismatch", "其他(资料档案)", "medium", "H2",
             evidence={"system": 3, "hukou": {"户号": "011002133", "户籍人数": 2}},
             message="公安户籍(户号011002133)登记2人,国家系统登记家庭人口3人", advice="核实户籍变动"),
    _finding("f03", "FC-MEMBER", "member_missing", "精准识别(漏评)", "high", "H3",
             person={"name": "周欣丽", "id": "430624196608294563"}, evidence={"system": "有", "manual": "无"},
             message="周欣丽在国家系统的家庭成员中,但扶贫手册中没有此人", advice="按“整户识别”要求补录或减员"),
    _finding("f04", "MC-MEASURE", "measure_cause_mismatch", "精准帮扶(措施制定)", "medium", "H4",
             evidence={"system": {"主要致贫原因": "因病", "帮扶措施": ["产业帮扶"]}},
             message="主要致贫原因为因病,但帮扶措施中没有健康帮扶或医疗救助", advice="补充健康帮扶措施"),
    _finding("f05", "EX-GUARANTEE", "wrong_exit_guarantee", "精准脱贫(错退)", "high", "H4",
             evidence={"survey": {"安全住房": False}, "housing": {"鉴定等级": "C"}},
             message="2019年标注脱贫,住房不安全(住建鉴定C级危房)", advice="入户核实住房安全"),
    _finding("f06", "EX-INCOME", "wrong_exit_income", "精准脱贫(错退)", "high", "H5",
             evidence={"system": {"收入年度": 2020, "人均纯收入": 3665.5, "标准": 4000.0}},
             message="2017年标注脱贫,国家系统2020年人均纯收入3666元,低于当年脱贫标准4000元", advice="入户核实家庭收入"),
    _finding("f07", "FC-ID-INVALID", "id_invalid", "其他(资料档案)", "high", "H2",
             person={"name": "王胜", "id": "430624196907194917"}, evidence={"system": "430624196907199008", "manual": "430624196913324917"},
             message="国家系统中王胜的证件号码无效:430624196907199008 被Excel以数值保存", advice="对照身份证更正"),
    _finding("f08", "AS-OVERLOAD", "cadre_overload", "精准帮扶(驻村帮扶)", "low", "H1",
             evidence={"system": {"帮扶责任人": "陈琴兰", "结对户数": 7}}, message="帮扶责任人陈琴兰结对7户,超过上限5户",
             advice="调整结对"),
    _finding("f09", "MI-REGISTER", "missed_suspect", "精准识别(漏评)", "high", None,
             person={"name": "宋俊杰", "id": "430624195811209871", "township": "东塘镇", "village": "洞庭村"},
             evidence={"dibao": {"保障类别": "B类"}}, message="宋俊杰享受低保但不是建档立卡户或监测对象,疑似漏评",
             advice="入户核实收入和两不愁三保障", sources="dibao"),
    _finding("f10", "FC-HH-SIZE-SURVEY", "household_size_mismatch", "其他(资料档案)", "medium", "H4",
             evidence={"system": 3, "survey": {"明白卡人口": 4, "扶贫手册人口": 3, "户籍人口": 3}},
             message="入户核查时明白卡人口4人,与国家系统登记的家庭人口3人不一致", advice="核实明白卡", sources="system,survey"),
    _finding("f11", "FC-HH-TYPE", "household_type_mismatch", "精准帮扶(政策保障)", "medium", "H5",
             evidence={"system": "一般户", "dibao": "B类"}, message="贫困户属性为一般户,但户主在民政低保名单中",
             advice="按民政认定更正"),
]
RUN1 = [f for f in BASE if f["finding_id"] not in ("f11",)]
RUN2 = [f for f in BASE if f["finding_id"] not in ("f02", "f06")]  # f02, f06 fixed (销号); f11 new

INPUT_ISSUES = [
    ("system", "国家系统导出.xlsx", "Sheet1", 12, "证件号码", "id_number", "430624196907199008", "id_excel_number", "error",
     "文件 国家系统导出.xlsx 第 12 行「证件号码」列: 证件号码以数值保存:430624196907199008"),
    ("archive", "村级台账.csv", "", 5, "家庭人口", "hh_size", "四", "int_not_whole", "warning",
     "文件 村级台账.csv 第 5 行「家庭人口」列: 不是整数:四"),
]


def _field(owner, field, label, status, raw=None, score=None, how=""):
    return {"owner": owner, "field": field, "label": label, "status": status, "raw_header": raw, "score": score,
            "how": how}


def plan(folder: Path) -> RunPlan:
    """A run plan written by hand (not compiled), so the 核查范围 golden follows the reports only: a renamed
    column, a proposal to confirm, a register used at household level, one rule skipped and one partial."""
    def file(owner, section, what, label, name, required, usage="used", fields=(), message=""):
        return FilePlan(owner, section, what, label, str(folder / name), required, usage, fields=list(fields),
                        message=message)

    system = file("system", "sources.system", "system", "国家系统", "国家系统导出.xlsx", True, fields=[
        _field("system", "township", "乡镇", "explicit", "乡", 1.0),
        _field("system", "village", "村", "synonym", "村名", 1.0, "同义词「村名」"),
        _field("system", "name", "姓名", "explicit", "姓名", 1.0),
        _field("system", "head_name", "户主姓名", "derived", how="户主行的姓名"),
        _field("system", "hh_size", "家庭人口数", "proposed", "家庭人数", 0.82, "与「家庭人口数」相似"),
        _field("system", "cadre_id", "帮扶责任人证件号码", "absent"),
        _field("system", "township_notice_date", "乡镇公示日期", "absent"),
        _field("system", None, "乡镇公示时间", "missing_mapped", "乡镇公示时间"),
        _field("system", None, "430624196907194917", "extra", "430624196907194917"),
    ])
    archive = file("archive", "sources.archive", "archive", "村级档案", "村级台账.csv", False, fields=[
        _field("archive", "township", "乡镇", "similar", "乡镇名称", 0.93, "与「乡镇」相似"),
        _field("archive", "hh_size", "家庭人口数", "explicit", "家庭人口", 1.0),
    ])
    housing = file("housing", "registers.housing", "housing", "部门数据「住建危房鉴定」", "住建危房鉴定.csv", False,
                   "household", [_field("housing", "id_number", "证件号码", "explicit", "户主身份证号", 1.0)],
                   "部门数据「住建危房鉴定」没有成员证件号码列,按户主证件号码列「户主身份证号」在户一级使用")
    rules = [
        RulePlan("FC-HH-SIZE", "家庭人口数不一致", "household_size_mismatch", "consistency", "run", "system,archive"),
        RulePlan("AS-VISIT", "帮扶走访频次不足", "visit_insufficient", "assistance", "skipped", "",
                 "需要「走访记录」文件,本次没有提供"),
        RulePlan("EX-PROC-IDENTIFY", "识别程序不规范", "identify_procedure", "exit_quality", "partial", "archive", "",
                 "未核查:「乡镇公示日期」(国家系统没有该列)"),
    ]
    notices = [
        Notice("info", "housing", housing.message),
        Notice("warning", "system", "国家系统:配置 sources.system.columns 中的列「乡镇公示时间」在文件中不存在"
                                    "(文件可能改了列名),该列对应的字段本次没有读取"),
        Notice("warning", "system", "国家系统:列「家庭人数」可能是「家庭人口数」(与「家庭人口数」相似),未自动采用;"
                                    "确认无误请在配置 sources.system.columns 下加一行:  家庭人数: hh_size"),
        Notice("warning", "archive", f"文件 {folder / '村级台账.csv'} 的第 3 行像是表头"),
    ]
    return RunPlan({f.owner: f for f in (system, archive, housing)}, rules, notices, {}, {}, False)


def build(folder: Path, run: int = 2, show_ids: bool = False):
    """Write the tables of a two-run county into folder/reconcile.duckdb; returns (con, config)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in SOURCES.values():
        (folder / name).write_text("", encoding="utf-8")
    config = parse_config({"region": "测试县", "year": 2020, "output": "out",
                           "sources": {k: {"path": name, "role": k, "level": level,
                                           **({"columns": {"乡镇公示时间": "township_notice_date"}}
                                              if k == "system" else {})}
                                       for k, (name, level) in SOURCES.items()}}, folder)
    # fixed parameters, so the golden 说明 sheet does not follow rules/params/default.yaml
    config.params = {"exit_line": {2019: 3747, 2020: 4000}, "cadre_household_limit": 5,
                     "cause_measures": {"因病": ["健康帮扶", "医疗救助"]},
                     "household_cards": {"yellow_income_factor": 1.0},
                     "visit_frequency": {"red": "monthly", "yellow": "quarterly", "green": "quarterly"}}
    con = duckdb.connect(str(folder / "reconcile.duckdb"))
    hh = pl.DataFrame([{"cluster_id": c, "township": t, "village": v, "hh_code": code, "head_name": head,
                        "head_id": hid, **{f"present_{s}": bool(p) for s, p in zip(SOURCES, present, strict=True)}}
                       for c, t, v, code, head, hid, present in HOUSEHOLDS])
    con.register("_hh", hh.to_arrow())
    con.execute("create table hh_wide as select * from _hh")
    con.execute("""create table household_card as select * from (values
        ('H1', 'red', '红卡', '未脱贫'),
        ('H2', 'yellow', '黄卡', '已脱贫,2020年人均纯收入5200元,低于6000元(监测标准的1.0倍)'),
        ('H3', 'green', '绿卡', '已脱贫,2020年人均纯收入9000元,不低于6000元'),
        ('H4', 'green', '绿卡', '已脱贫,2020年人均纯收入8000元,不低于6000元'),
        ('H5', 'red', '红卡', '监测对象(脱贫不稳定户),风险未消除')) t(cluster_id, card, card_label, reason)""")
    con.execute("""create table monitored_household as select cluster_id, monitor_type, risk_status,
        monitor_start_date::date as monitor_start_date, risk_eliminated_date::date as risk_eliminated_date,
        elimination_method from (values
        ('H4', '脱贫不稳定户', '已消除', '2019-06-01', '2020-05-01', '帮扶消除'),
        ('H5', '脱贫不稳定户', '未消除', '2020-03-01', null, null),
        ('H3', '边缘易致贫户', '已消除', '2020-01-01', '2020-07-01', '自然消除'))
        t(cluster_id, monitor_type, risk_status, monitor_start_date, risk_eliminated_date, elimination_method)""")
    issues = pl.DataFrame(INPUT_ISSUES, orient="row", schema=["source", "file", "sheet", "row", "column", "field",
                                                              "value", "problem", "severity", "message"])
    con.register("_ii", issues.to_arrow())
    con.execute("create table input_issue as select * from _ii")
    con.execute("""create table src_person as select * from (values
        ('国家系统导出.xlsx', 'Sheet1', 12, '东塘镇', '桃源村')) t(file, sheet, row, township, village)""")
    con.execute("""create table load_report as select * from (values
        ('system', 'sources.system', '国家系统导出.xlsx', null, 1318),
        ('archive', 'sources.archive', '村级台账.csv', 'gb18030', 400)) t(owner, section, path, encoding, rows)""")
    rule_runs = pl.DataFrame([
        {"rule_id": "FC-HH-SIZE", "kind": "household_size_mismatch", "title": "家庭人口数不一致", "status": "ran",
         "reason": "", "findings": 1, "seconds": 0.01},
        {"rule_id": "AS-VISIT", "kind": "visit_insufficient", "title": "帮扶走访频次不足", "status": "skipped",
         "reason": "缺少: 走访记录(visits)", "findings": 0, "seconds": 0.0},
    ])
    con.register("_rr", rule_runs.to_arrow())
    con.execute("create table rule_run as select * from _rr")
    plan(folder).write(con)
    carry_over(con, folder / "no-previous-ledger.duckdb")
    for i, findings in enumerate([RUN1, RUN2][:run]):
        frame = pl.DataFrame(findings, schema={c: pl.String for c in FINDING_COLUMNS})
        con.register("_f", frame.to_arrow())
        con.execute("create or replace table finding as select * from _f")
        con.execute("update finding set card = c.card_label from household_card c where c.cluster_id = finding.cluster_id")
        con.unregister("_f")
        update(con, config, CLOCK[i])
    return con, config


@cache
def sample_plan_without_survey() -> dict[str, pl.DataFrame]:
    """The plan tables of the sample county run without its survey, compiled for real and read back from a
    database as the report stage reads them."""
    from reconcile.config import load_config
    from reconcile.plan import compile_plan
    from reconcile.plan_tables import load_plan

    config = load_config(Path(__file__).resolve().parents[2] / "data" / "sample" / "reconcile.yaml")
    del config.sources["survey"]
    con = duckdb.connect()
    compile_plan(config).write(con)
    plan = load_plan(con)
    con.close()
    assert plan is not None
    return plan
