"""One uploaded file: read its header, guess what it is, suggest and check its column mapping.

Nothing here re-implements the loader: the header, encoding and rows come from
`reconcile.load.readers.read_table` (the function `reconcile run` reads files with), the suggested
mapping from `reconcile.load.headers.match_columns` (what the run plan does with `profile: auto`, the
person's choices taking the place of `columns:`), the fields a file may map to from `reconcile.schema`,
and the required columns from the input contract.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ReconcileError
from ..load.headers import ColumnMatch, match_columns, nearest, suggest_mapping
from ..load.readers import FORMATS, read_table
from ..plan import head_id_stand_in
from ..schema import (
    REGISTER_KIND_LABELS,
    REGISTER_NAME_ORDER,
    REGISTER_TABLE,
    REGISTERS_BY_HEAD,
    ROLE_TABLE,
    ROLES,
    VISIT_FIELDS,
    Field,
    field_kind,
    register_fields,
    several_columns,
    source_fields,
)
from ..validate.contract import load_contract

DATA_SUFFIXES = tuple(sorted(FORMATS))  # .csv .txt .tsv .xlsx .xlsm .xls .xlsb .parquet
CONFIG_SUFFIXES = (".yaml", ".yml")
SAMPLES = 3

IGNORE = "ignore"
VISITS = "visits"
REGISTER = "register:"

ROLE_HELP = {name: role.choice for name, role in ROLE_TABLE.items()}


def role_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The choices of the 用途 drop-down, grouped as on the page."""
    return [
        ("四个来源", [(r, ROLE_HELP[r]) for r in ROLES]),
        ("部门比对数据", [(f"{REGISTER}{k}", label) for k, label in REGISTER_KIND_LABELS.items()]),
        ("其他", [(VISITS, "帮扶走访记录"), (IGNORE, "不使用此文件")]),
    ]


def role_label(role: str) -> str:
    if role in ROLE_HELP:
        return ROLE_HELP[role]
    if role.startswith(REGISTER):
        return "部门数据:" + REGISTER_KIND_LABELS.get(role[len(REGISTER):], role)
    return {VISITS: "帮扶走访记录", IGNORE: "不使用此文件"}.get(role, "未选择")


def short_label(role: str) -> str:
    """The name a file of this role gets in the run folder (国家系统导出, 民政低保, 走访记录 …)."""
    if role in ROLES:
        return ROLE_TABLE[role].file_label
    if role.startswith(REGISTER):
        return REGISTER_KIND_LABELS.get(role[len(REGISTER):], "部门数据")
    return "走访记录" if role == VISITS else "文件"


def valid_role(role: str) -> bool:
    return role in ROLES or role in (VISITS, IGNORE) or (
        role.startswith(REGISTER) and role[len(REGISTER):] in REGISTER_KIND_LABELS)


# File-name words → role: the visit log, the registers (their names are specific), then the four sources, the
# most general last (schema.py holds the words).
_NAME_HINTS: list[tuple[str, tuple[str, ...]]] = [
    (VISITS, ("走访", "遍访", "帮扶日志")),
    *((f"{REGISTER}{kind}", REGISTER_TABLE[kind].name_hints) for kind in REGISTER_NAME_ORDER),
    *((role, ROLE_TABLE[role].name_hints) for role in reversed(ROLES)),
]


def guess_role(name: str) -> str:
    """A first guess from the file name; "" when the name says nothing (the person must choose)."""
    stem = Path(name).stem
    for role, words in _NAME_HINTS:
        if any(w in stem for w in words):
            return role
    return ""


def target_fields(role: str, level: str) -> dict[str, Field]:
    """The fields a file of this role may provide: the same sets the run plan matches headers against."""
    if role in ROLES:
        return source_fields(role, level)
    if role.startswith(REGISTER):
        return register_fields(role[len(REGISTER):])
    if role == VISITS:
        return dict(VISIT_FIELDS)
    return {}


def targets(role: str, level: str) -> dict[str, str]:
    """Canonical field → Chinese label, for the fields a file of this role may map a column to."""
    return {name: f.label for name, f in target_fields(role, level).items()}


def table_kind(role: str, level: str) -> str | None:
    """The contract's table for this role (its required columns): household / person / register / visit."""
    if role in ROLES:
        return level
    if role.startswith(REGISTER):
        return "register"
    return "visit" if role == VISITS else None


def guess_level(headers: list[str], role: str) -> str:
    """person when the file lists members (与户主关系, or both 姓名 and 户主姓名), else household."""
    if role not in ROLES:
        return "household"
    mapped = set(suggest_mapping(headers, source_fields(role, "person")).values())
    return "person" if "relation" in mapped or {"name", "head_name"} <= mapped else "household"


def column_match(headers: list[str], role: str, level: str, overrides: dict[str, str]) -> ColumnMatch:
    """The run plan's header matcher on this file: the person's choices stand where a config has
    `columns:`, everything else is recognised as `profile: auto` recognises it — so a file the person
    did not touch maps exactly as `reconcile run` maps it without `columns:`. A `proposed` match is not in
    `.mapping` until the person confirms it (it then becomes one of their choices).

    An override of "" means "this column maps to nothing" and keeps the matcher off it."""
    fields = target_fields(role, level)
    explicit = {h: f for h, f in overrides.items() if f and f in fields}
    off = {h for h, f in overrides.items() if not f}
    return match_columns([h for h in headers if h not in off], fields, explicit, True)


def effective_mapping(headers: list[str], role: str, level: str,
                      overrides: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """raw header → field, and header → "manual" / "auto" (see `column_match`). A register kept by the
    head's ID by nature (住建 危房鉴定) has its head-ID column as its ID, as the run plan has it."""
    match = column_match(headers, role, level, overrides)
    origin = {d.raw: ("manual" if d.status == "explicit" else "auto") for d in match.decisions if d.mapped}
    origin.update({h: "manual" for h, f in overrides.items() if h in headers and not f})
    mapping = dict(match.mapping)
    if role.startswith(REGISTER) and role[len(REGISTER):] in REGISTERS_BY_HEAD:
        off = {h for h, f in overrides.items() if not f}
        head = head_id_stand_in([h for h in headers if h not in off], mapping)
        if head is not None:
            mapping[head], origin[head] = "id_number", "auto"
    return mapping, origin


def household_fallback(headers: list[str], role: str, mapping: dict[str, str]) -> str | None:
    """For a register with no member-ID column: the head-ID column the run will use instead, at household
    level (the run plan does the same with a register whose headers carry only the head's ID)."""
    if not role.startswith(REGISTER) or role[len(REGISTER):] in REGISTERS_BY_HEAD:
        return None
    return head_id_stand_in(headers, mapping)


def mapping_problems(headers: list[str], role: str, level: str, mapping: dict[str, str]) -> list[str]:
    """What stops this file from being read: required columns of the input contract left unmapped,
    and two columns mapped to one field that holds one value. A register whose head-ID column stands in for the member ID
    (`household_fallback`) is readable: the card says so instead."""
    kind = table_kind(role, level)
    if kind is None:
        return []
    labels = targets(role, level)
    required = load_contract()["tables"][kind]["required"]
    mapped = set(mapping.values())
    if household_fallback(headers, role, mapping):
        mapped.add("id_number")
    groups = [[f] for f in required.get("all", []) if f not in mapped]
    groups += [list(g) for g in required.get("any_of", []) if not mapped.intersection(g)]
    problems = []
    for group in groups:
        names = " 或 ".join(f"「{labels.get(f, f)}」" for f in group)
        free = [h for h in headers if h not in mapping]
        guess = _likely_column(group[0], labels.get(group[0], group[0]), free)
        hint = (f"文件中的「{guess}」列可能就是它,请在下表把该列选为「{labels.get(group[0], group[0])}」。"
                if guess else "请在下表中为它选择一列。")
        problems.append(f"缺少必需的列 {names}:{hint}")
    seen: dict[str, str] = {}
    for header, field in mapping.items():
        if field in seen and not several_columns(field):
            problems.append(f"「{seen[field]}」和「{header}」两列都对应到了「{labels.get(field, field)}」,请只保留一列。")
        seen[field] = header
    return problems


def _likely_column(field: str, label: str, free: list[str]) -> str | None:
    """A free column that is probably `field`: the closest name, else one the synonyms read as a field of
    the same value kind (户主身份证号 in a register is the ID number it needs)."""
    if not free:
        return None
    guess = nearest(label, free)
    if guess:
        return guess
    kind = field_kind(field)
    wide = suggest_mapping(free, source_fields("survey", "person"))
    return next((h for h, f in wide.items() if field_kind(f) == kind), None)


def probe(path: Path, *, sheet: int | str = 0, header_rows: int | None = None, work_dir: Path | None = None) -> dict:
    """Read a file the way `reconcile run` will: encoding, header row, column names, a few values."""
    info: dict = {"encoding": None, "header_row": None, "headers": [], "samples": {}, "rows": 0, "sheets": [],
                  "error": None}
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".xlsb"):
            from ..load.readers import sheet_names

            try:  # the zip's sizes are checked before the reader opens it
                info["sheets"] = sheet_names(path)
            except ReconcileError:  # read_table below reports it in the CLI's words
                info["sheets"] = []
        table = read_table(path, sheet=sheet, header_rows=header_rows, work_dir=work_dir)
    except ReconcileError as exc:
        info["error"] = str(exc)
        return info
    frame = table.frame
    info.update(encoding=table.encoding, header_row=table.header_row, headers=list(table.headers),
                rows=frame.height)
    samples: dict[str, list[str]] = {}
    head = frame.head(200)
    for header in table.headers:
        values: list[str] = []
        for value in head[header].to_list():
            text = (value or "").strip()
            if text and text not in values:
                values.append(text[:40])
            if len(values) >= SAMPLES:
                break
        samples[header] = values
    info["samples"] = samples
    return info
