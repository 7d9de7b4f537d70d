"""Two exports of the national system with known changes, made by editing a copy of the sample county's export."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlsxwriter

from reconcile.resources import sample_dir

SAMPLE = sample_dir()


def read_export(path: Path) -> pl.DataFrame:
    """The sample export: a merged title row, then the header row; every cell as text."""
    return pl.read_excel(path, engine="calamine", read_options={"header_row": 1}, infer_schema_length=0)


def write_export(frame: pl.DataFrame, path: Path, title: str = "全国防返贫监测信息系统 人员信息导出") -> Path:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = wb.add_worksheet("Sheet1")
    ws.merge_range(0, 0, 0, max(1, frame.width - 1), title)
    for c, name in enumerate(frame.columns):
        ws.write_string(1, c, name)
    for r, row in enumerate(frame.iter_rows(), start=2):
        for c, value in enumerate(row):
            if value is not None:
                ws.write_string(r, c, str(value))
    wb.close()
    return path


def _id_with_check(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def make_exports(folder: Path) -> dict:
    """OLD = the sample export as is (re-written); NEW = OLD with known changes. Returns what was changed."""
    folder.mkdir(parents=True, exist_ok=True)
    old = read_export(SAMPLE / "国家系统导出.xlsx")
    deaths = pl.read_csv(SAMPLE / "部门数据" / "公安死亡注销.csv", encoding="gb18030", infer_schema_length=0)
    dead_ids = set(deaths["公民身份号码"].to_list())
    hh = old["户编号"].unique(maintain_order=True).to_list()
    # 1. a person the death register lists is removed (自然减少(死亡))
    dead_row = old.filter(pl.col("证件号码").is_in(list(dead_ids)) & (pl.col("与户主关系") != "户主")).row(0, named=True)
    # 2. a whole household is removed (销户)
    gone_hh = next(h for h in hh if h != dead_row["户编号"])
    # 3. a household is marked exited (标注脱贫)
    not_exited = old.filter((pl.col("脱贫标志") == "未脱贫") & (pl.col("户编号") != gone_hh))
    exit_hh = not_exited["户编号"][0]
    # 4. a newborn is added to an existing household (自然增加(出生))
    host = old.filter((pl.col("户编号") != gone_hh) & (pl.col("户编号") != exit_hh) &
                      (pl.col("与户主关系") == "户主")).row(3, named=True)
    baby_id = _id_with_check("430624" + "20200301" + "123")
    baby = {**host, "姓名": "新生儿甲", "性别": "男", "出生日期": "2020-03-01", "证件号码": baby_id,
            "与户主关系": "之子", "人口编号": (host["人口编号"] or "") + "9"}
    # 5. a brand-new household of two (新识别)
    new_hh_code = "4306241019990000001"
    head_id = _id_with_check("430624" + "19800101" + "551")
    wife_id = _id_with_check("430624" + "19820202" + "562")
    template = old.row(0, named=True)
    new_rows = [{**template, "户编号": new_hh_code, "姓名": "新户主乙", "证件号码": head_id, "与户主关系": "户主",
                 "户主姓名": "新户主乙", "户主证件号码": head_id, "家庭人口数": "2", "脱贫标志": "未脱贫", "脱贫年度": None,
                 "人口编号": new_hh_code + "01"},
                {**template, "户编号": new_hh_code, "姓名": "新配偶丙", "证件号码": wife_id, "与户主关系": "配偶",
                 "户主姓名": "新户主乙", "户主证件号码": head_id, "家庭人口数": "2", "脱贫标志": "未脱贫", "脱贫年度": None,
                 "人口编号": new_hh_code + "02"}]
    new = old.filter((pl.col("证件号码") != dead_row["证件号码"]) & (pl.col("户编号") != gone_hh))
    new = new.with_columns(
        pl.when(pl.col("户编号") == exit_hh).then(pl.lit("已脱贫")).otherwise(pl.col("脱贫标志")).alias("脱贫标志"),
        pl.when(pl.col("户编号") == exit_hh).then(pl.lit("2020")).otherwise(pl.col("脱贫年度")).alias("脱贫年度"),
    )
    new = pl.concat([new, pl.DataFrame([baby] + new_rows, schema=old.schema)])
    # three households no other change touches, for corrections and a duplicate
    taken = {gone_hh, exit_hh, host["户编号"], dead_row["户编号"]}
    valid = old.filter(pl.col("证件号码").str.len_chars() == 18)
    free = [h for h in hh if h not in taken and valid.filter(pl.col("户编号") == h).height >= 2
            and valid.filter(pl.col("户编号") == h)["证件号码"].n_unique() == valid.filter(pl.col("户编号") == h).height]
    fix_hh, name_hh, dup_hh = free[0], free[1], free[2]
    # 6. a member's ID corrected (证件号码更正): same household, same name, another valid ID
    member = valid.filter((pl.col("户编号") == fix_hh) & (pl.col("与户主关系") != "户主")).row(0, named=True)
    fixed_id = _id_with_check(member["证件号码"][:14] + "777")
    new = new.with_columns(pl.when(pl.col("证件号码") == member["证件号码"]).then(pl.lit(fixed_id))
                           .otherwise(pl.col("证件号码")).alias("证件号码"))
    # 7. the head's name spelled anew (户主姓名更正), the ID unchanged
    head = old.filter((pl.col("户编号") == name_hh) & (pl.col("与户主关系") == "户主")).row(0, named=True)
    spelled = head["姓名"][:-1] + ("华" if head["姓名"][-1] != "华" else "平")
    new = new.with_columns(
        pl.when((pl.col("户编号") == name_hh) & (pl.col("与户主关系") == "户主")).then(pl.lit(spelled))
        .otherwise(pl.col("姓名")).alias("姓名"),
        pl.when(pl.col("户编号") == name_hh).then(pl.lit(spelled)).otherwise(pl.col("户主姓名")).alias("户主姓名"))
    # 8. a member listed twice in the new export (the same ID in another household): reported, never merged
    twin = valid.filter((pl.col("户编号") == dup_hh) & (pl.col("与户主关系") != "户主")).row(0, named=True)
    elsewhere = next(h for h in hh if h not in taken | {fix_hh, name_hh, dup_hh})
    copy = {**twin, "户编号": elsewhere, "人口编号": (twin["人口编号"] or "") + "8"}
    new = pl.concat([new, pl.DataFrame([copy], schema=old.schema)])
    write_export(old, folder / "old.xlsx")
    write_export(new, folder / "new.xlsx")
    return {"dead_id": dead_row["证件号码"], "gone_hh": gone_hh, "exit_hh": exit_hh, "baby_id": baby_id,
            "new_hh": new_hh_code, "host_hh": host["户编号"], "old_rows": old.height, "new_rows": new.height,
            "fix_hh": fix_hh, "fixed_id": fixed_id, "old_id": member["证件号码"], "name_hh": name_hh,
            "dup_id": twin["证件号码"], "dup_hh": dup_hh, "dup_elsewhere": elsewhere}
