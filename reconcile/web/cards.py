"""The workspace page's file cards and its settings form: what each uploaded file shows (its read-out, status and
column mapping) and how the page's choices are stored in the workspace's state."""

from __future__ import annotations

from . import files as F
from .workspace import Workspace

HOW_TAGS = {"explicit": "已手动修改", "synonym": "自动识别", "similar": "自动识别(相似)", "proposed": "待确认",
            "by_head": "按户主证件号码核对"}


def card(entry: dict) -> dict:
    """What the page shows for one file: its read-out, status and the mapping table, each column with
    how it was recognised; a `proposed` column waits for the person to tick it."""
    role, level = entry.get("role") or "", entry.get("level") or "household"
    headers = entry.get("headers", [])
    fields = F.targets(role, level)
    overrides = entry.get("overrides", {})
    match = F.column_match(headers, role, level, overrides) if role and not entry.get("error") else None
    mapping = F.effective_mapping(headers, role, level, overrides)[0] if match else {}
    problems = F.mapping_problems(headers, role, level, mapping) if match else []
    notes = []
    if match:
        fallback = F.household_fallback(headers, role, mapping)
        if fallback:
            notes.append(f"没有成员证件号码列:将按户主证件号码列「{fallback}」在户一级使用,只能核对到户主本人。"
                         f"如果「{fallback}」列就是要核对的人的证件号码,请在下表把该列选为「证件号码」。")
        notes += [f"设置中的列「{raw}」在文件中不存在(文件可能改了列名),它对应的字段本次不会读取;"
                  "请在下表为该字段重新选一列" for raw in match.explicit_missing]
        if match.proposals:
            notes.append(f"有 {len(match.proposals)} 列可能对应标准字段但把握不大(标为“待确认”):"
                         "核对前几行的内容,确实是该字段就勾选“采用”再保存;不勾选则不使用这一列")
    if entry.get("error"):
        badge = ("bad", "无法读取")
    elif not role:
        badge = ("warn", "请选择用途")
    elif role == F.IGNORE:
        badge = ("off", "不使用")
    elif problems:
        badge = ("warn", "需要处理")
    elif notes:
        badge = ("warn", "请确认")
    else:
        badge = ("ok", "可以使用")
    from ..report.common import mask_id, mask_text
    from ..schema import field_kind

    decided = {d.raw: d for d in match.decisions} if match else {}
    columns = []
    for i, header in enumerate(headers):
        d = decided.get(header)
        field = mapping.get(header, "")
        proposal = d.field if d is not None and d.status == "proposed" and d.field in fields else ""
        shown = field or proposal
        mask = mask_id if shown and field_kind(shown) == "id" else mask_text  # a malformed ID is masked too
        status = "off" if header in overrides and not overrides[header] else (d.status if d else "")
        if field and d is not None and not d.mapped and status != "off":
            status = "by_head"  # a register kept by the head's ID: its head-ID column is its ID
        columns.append({"index": i, "header": header, "field": field, "status": status,
                        "tag": "已手动修改" if status == "off" else HOW_TAGS.get(status, ""),
                        "how": mask_text(d.how) if d is not None and status not in ("explicit", "off", "by_head") else "",
                        "proposal": proposal, "proposal_label": fields.get(proposal, ""),
                        "samples": [mask(v) or "" for v in entry.get("samples", {}).get(header, [])]})
    return {"entry": entry, "role": role, "level": level, "fields": list(fields.items()), "columns": columns,
            "problems": problems, "notes": notes, "badge": badge, "mapped": len(mapping),
            "is_source": role in F.ROLES, "is_xlsx": bool(entry.get("sheets")),
            "open": bool(problems) or bool(notes) or not role or bool(entry.get("error"))}


def apply_form(ws: Workspace, form: dict[str, str]) -> None:
    """Store the page's choices: region, year, and per file its role, level, sheet, header rows and the
    columns the person changed (a select left at what the page suggested stays automatic; a proposed
    column ticked "采用" becomes the person's choice)."""
    with ws.edit() as state:
        if "region" in form:
            region = form["region"].strip()[:60]
            if region != (state.get("region") or ""):
                state["region_confirmed"], state["region_from"] = True, None
            state["region"] = region
        if "year" in form:
            year = form["year"].strip()
            if year.isdigit() and int(year) != state.get("year"):
                state["year_confirmed"], state["year_from"] = True, None
            state["year"] = int(year) if year.isdigit() else None
        for entry in state["files"]:
            fid = entry["fid"]
            role = form.get(f"role-{fid}")
            if role is None:
                continue  # uploaded after the page was drawn
            role = role if F.valid_role(role) else ""
            level = form.get(f"level-{fid}", entry.get("level") or "household")
            level = level if level in ("person", "household") else "household"
            shape_changed = role != entry.get("role") or (role in F.ROLES and level != entry.get("level"))
            if not shape_changed and not entry.get("error"):
                mapping, _ = F.effective_mapping(entry["headers"], entry["role"], entry["level"], entry["overrides"])
                allowed = F.targets(entry["role"], entry["level"])
                for i, header in enumerate(entry["headers"]):
                    value = form.get(f"map-{fid}-{i}")
                    confirmed = form.get(f"confirm-{fid}-{i}")
                    if value is not None and value != mapping.get(header, ""):
                        if value == "" or value in allowed:
                            entry["overrides"][header] = value
                    elif confirmed and confirmed in allowed and header not in mapping:
                        entry["overrides"][header] = confirmed
            if role != entry.get("role") and role in F.ROLES and entry.get("role") not in F.ROLES:
                level = F.guess_level(entry.get("headers", []), role)
            entry["role"], entry["level"] = role, level
            sheet = form.get(f"sheet-{fid}")
            header_rows = form.get(f"header_rows-{fid}")
            new_sheet = int(sheet) if sheet and sheet.isdigit() and int(sheet) < len(entry.get("sheets") or []) \
                else entry.get("sheet", 0)
            new_rows = int(header_rows) if header_rows and header_rows.isdigit() and 0 < int(header_rows) <= 10 \
                else (None if header_rows == "" else entry.get("header_rows"))
            if new_sheet != entry.get("sheet", 0) or new_rows != entry.get("header_rows"):
                entry["sheet"], entry["header_rows"] = new_sheet, new_rows
                ws.probe(entry)
