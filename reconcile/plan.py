"""The run plan: compiled from the config, the rule packs and the header rows of every file, before any
data row is read (issue 11).

For each file it says which canonical fields the file provides (mapped in `columns:`, recognised
automatically — and how — or derived) and which it does not; for each rule, on which sources it runs
and, where it does not, why, in Chinese. Everything a run can get wrong without data is found here and
reported at once: a required file that cannot be used, rule SQL that does not render or bind (each rule
is run against empty tables that have the run's real columns), unknown parameters.

"Absent is not empty": the plan's coverage — what the files' headers carry — is what the rules see,
so a field a file does not have is never judged row by row as if every cell were blank.

Writes `plan_file`, `plan_field`, `plan_rule` and `plan_notice` into the run database.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from .check.long_views import (
    ID_SUFFIXES,
    carries,
    declared_reads,
    first_reads,
    in_scope,
    long_view_fields,
)
from .config import Config, FileSpec, RegisterSpec, SourceSpec
from .errors import ConfigError, InputError
from .load.headers import match_columns
from .load.peek import peek_headers, prefetch_workbook
from .schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_FIELDS,
    REGISTER_KIND_LABELS,
    REGISTER_KINDS,
    REGISTERED_ROLES,
    REGISTERS_BY_HEAD,
    ROLE_LABELS,
    SURVEY_FIELDS,
    VISIT_FIELDS,
    Field,
    register_fields,
    source_fields,
)
from .validate.contract import load_contract

if TYPE_CHECKING:
    from .check.long_views import LongView
    from .check.model import RuleContext

# how a field came to be provided; the other statuses say it is not
PROVIDED = ("explicit", "synonym", "similar", "derived")
STATUS_LABELS = {
    "explicit": "配置指定", "synonym": "自动识别", "similar": "自动识别(相似)", "derived": "由成员行推出",
    "proposed": "待确认", "absent": "文件中没有", "missing_mapped": "配置的列在文件中不存在", "extra": "未识别的列",
}
USAGE_LABELS = {"used": "使用", "household": "按户使用", "excluded": "未使用"}
RULE_STATUS_LABELS = {"run": "运行", "partial": "部分运行", "skipped": "未运行"}


@dataclass
class FilePlan:
    owner: str  # source key, register key or "visits"
    section: str  # sources.system / registers.dibao / visits
    what: str  # role (sources), register kind, or "visits"
    label: str  # how a person names the file's content
    path: str
    required: bool
    usage: str = "used"  # used / household / excluded
    headers: list[str] = field(default_factory=list)
    header_row: int = 0
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # raw header -> canonical field
    fields: list[dict] = field(default_factory=list)  # plan_field rows of this file
    message: str = ""
    reason: str = ""  # why the file is left out, short, for the rules it leaves unrun


@dataclass
class RulePlan:
    rule_id: str
    title: str
    kind: str
    pack: str
    status: str  # run / partial / skipped
    sources: str = ""  # comma-separated source keys the rule reads
    reason: str = ""  # why it is skipped, in Chinese
    unchecked: str = ""  # what it cannot check in this run, in Chinese


@dataclass
class Notice:
    level: str  # error / warning / info
    owner: str
    message: str


@dataclass
class RunPlan:
    files: dict[str, FilePlan]
    rules: list[RulePlan]
    notices: list[Notice]
    coverage: dict[str, set[str]]  # source key -> fields its file provides
    register_attrs: dict[str, set[str]]  # register kind -> core fields and attrs its file(s) provide
    has_visits: bool

    @property
    def excluded(self) -> set[str]:
        return {k for k, f in self.files.items() if f.usage == "excluded"}

    @property
    def register_kinds(self) -> set[str]:
        return set(self.register_attrs)

    def rule(self, rule_id: str) -> RulePlan | None:
        return next((r for r in self.rules if r.rule_id == rule_id), None)

    def frames(self) -> dict[str, pl.DataFrame]:
        files = pl.DataFrame(
            [{"owner": f.owner, "section": f.section, "what": f.what, "label": f.label, "path": f.path,
              "required": f.required, "usage": f.usage, "header_row": f.header_row, "encoding": f.encoding,
              "headers": json.dumps(f.headers, ensure_ascii=False),
              "mapping": json.dumps(f.mapping, ensure_ascii=False), "message": f.message,
              "reason": f.reason}
             for f in self.files.values()],
            schema={"owner": pl.String, "section": pl.String, "what": pl.String, "label": pl.String,
                    "path": pl.String, "required": pl.Boolean, "usage": pl.String, "header_row": pl.Int64,
                    "encoding": pl.String, "headers": pl.String, "mapping": pl.String, "message": pl.String,
                    "reason": pl.String})
        fields = pl.DataFrame(
            [row for f in self.files.values() for row in f.fields],
            schema={"owner": pl.String, "field": pl.String, "label": pl.String, "status": pl.String,
                    "raw_header": pl.String, "score": pl.Float64, "how": pl.String})
        rules = pl.DataFrame([asdict(r) for r in self.rules], schema={
            "rule_id": pl.String, "title": pl.String, "kind": pl.String, "pack": pl.String, "status": pl.String,
            "sources": pl.String, "reason": pl.String, "unchecked": pl.String})
        notices = pl.DataFrame([asdict(n) for n in self.notices],
                               schema={"level": pl.String, "owner": pl.String, "message": pl.String})
        return {"plan_file": files, "plan_field": fields, "plan_rule": rules, "plan_notice": notices}

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        from .db import write_frame

        for name, frame in self.frames().items():
            write_frame(con, name, frame)

    def summary_lines(self) -> list[str]:
        """What a person reads in the terminal: fields per file, rules not (fully) run, notices."""
        lines = []
        for f in self.files.values():
            provided = [r["label"] for r in f.fields if r["status"] in PROVIDED]
            auto = [f"{r['raw_header']}→{r['label']}" for r in f.fields if r["status"] in ("synonym", "similar")]
            line = f"{f.label}({f.owner}):{USAGE_LABELS[f.usage]},识别 {len(provided)} 个字段"
            if auto:
                line += f",其中自动识别 {len(auto)} 个"
            extra = [r["label"] for r in f.fields if r["status"] == "extra"]
            if extra:
                shown = "、".join(extra[:8]) + ("等" if len(extra) > 8 else "")
                line += f";{len(extra)} 列未识别(保留在 extra 中):{shown}"
            lines.append(line)
        ran = sum(r.status == "run" for r in self.rules)
        partial = [r for r in self.rules if r.status == "partial"]
        skipped = [r for r in self.rules if r.status == "skipped"]
        lines.append(f"规则:{len(self.rules)} 条,完整运行 {ran} 条,部分运行 {len(partial)} 条,未运行 {len(skipped)} 条")
        for r in skipped:
            lines.append(f"  未运行 {r.rule_id} {r.title}:{r.reason}")
        for r in partial:
            lines.append(f"  部分运行 {r.rule_id} {r.title}:{r.unchecked}")
        return lines


# ---- files ------------------------------------------------------------------------------------------------

def _file_specs(config: Config) -> list[tuple[str, str, FileSpec, str, str, dict[str, Field], str, bool]]:
    """(owner, section, spec, what, label, fields, contract table, required) for every configured file."""
    out: list[tuple[str, str, FileSpec, str, str, dict[str, Field], str, bool]] = []
    system_like = config.sources_with_role("system") or config.sources_by_trust()[:1]
    by_role: dict[str, int] = {}
    spec: FileSpec  # a SourceSpec over config.sources, a RegisterSpec over config.registers
    for spec in config.sources.values():
        by_role[spec.role] = by_role.get(spec.role, 0) + 1  # type: ignore[attr-defined]
    for key, spec in config.sources.items():
        assert isinstance(spec, SourceSpec)
        label = ROLE_LABELS[spec.role] + (f"({key})" if by_role[spec.role] > 1 else "")
        out.append((key, f"sources.{key}", spec, spec.role, label, source_fields(spec.role, spec.level), spec.level,
                    key in system_like))
    for key, spec in config.registers.items():
        assert isinstance(spec, RegisterSpec)
        out.append((key, f"registers.{key}", spec, spec.kind, "部门数据「" + REGISTER_KIND_LABELS[spec.kind] + "」",
                    register_fields(spec.kind), "register", False))
    if config.visits is not None:
        out.append(("visits", "visits", config.visits, "visits", "走访记录", dict(VISIT_FIELDS), "visit", False))
    return out


def _field_rows(owner: str, fields: dict[str, Field], match, mapping: dict[str, str],
                derived: dict[str, str], explicit: dict[str, str], household_id: str | None = None) -> list[dict]:
    decided = {d.field: d for d in match.decisions if d.field and d.raw in mapping}
    rows: list[dict] = []
    for name, fld in fields.items():
        label = fld.label
        if name == "id_number" and household_id:
            rows.append({"owner": owner, "field": name, "label": label, "status": "similar",
                         "raw_header": household_id, "score": None, "how": f"户主证件号码列「{household_id}」"})
        elif name in decided:
            d = decided[name]
            rows.append({"owner": owner, "field": name, "label": label, "status": d.status, "raw_header": d.raw,
                         "score": float(d.score), "how": d.how})
        elif name in derived:
            rows.append({"owner": owner, "field": name, "label": label, "status": "derived", "raw_header": None,
                         "score": None, "how": derived[name]})
        else:
            proposal = next((d for d in match.proposals if d.field == name), None)
            rows.append({"owner": owner, "field": name, "label": label,
                         "status": "proposed" if proposal else "absent",
                         "raw_header": proposal.raw if proposal else None,
                         "score": float(proposal.score) if proposal else None,
                         "how": proposal.how if proposal else ""})
    for raw in match.explicit_missing:
        target = explicit.get(raw)
        rows.append({"owner": owner, "field": target, "label": fields[target].label if target in fields
                     else raw, "status": "missing_mapped", "raw_header": raw, "score": None, "how": ""})
    proposed = {d.raw for d in match.proposals}
    for raw in [h for h in match.headers if h not in mapping and h not in proposed]:
        rows.append({"owner": owner, "field": None, "label": raw, "status": "extra", "raw_header": raw,
                     "score": None, "how": ""})
    return rows


def _derived(level: str, mapped: set[str]) -> dict[str, str]:
    """Household fields a person-level file provides through its member rows (normalize._derive_households)."""
    if level != "person":
        return {}
    out = {}
    if "relation" in mapped:
        if "name" in mapped and "head_name" not in mapped:
            out["head_name"] = "户主行的姓名"
        if "id_number" in mapped and "head_id" not in mapped:
            out["head_id"] = "户主行的证件号码"
    return out


def _missing_required(table: str, mapped: set[str], fields: dict[str, Field], contract: dict) -> list[str]:
    required = contract["tables"][table]["required"]
    groups = [[f] for f in required.get("all", []) if f not in mapped]
    groups += [list(g) for g in required.get("any_of", []) if not mapped.intersection(g)]
    return [" 或 ".join(f"「{fields[f].label}」" for f in g) for g in groups]


def _plan_file(owner, section, spec, what, label, fields, table, required, contract, notices: list[Notice],
               errors: list[str]) -> FilePlan:
    plan = FilePlan(owner, section, what, label, str(spec.path), required)
    try:
        peeked = peek_headers(spec.path, fmt=spec.format, sheet=spec.sheet, header_rows=spec.header_rows,
                              skip_rows=spec.skip_rows, encoding=spec.encoding)
    except InputError as exc:
        return _unusable(plan, str(exc), f"文件「{Path(spec.path).name}」无法读取", notices, errors)
    plan.headers, plan.header_row, plan.encoding = peeked.headers, peeked.header_row, peeked.encoding
    if peeked.header_only:  # an export with no rows would make every household "missing" from it
        text = f"{label} 文件 {spec.path} 只有表头,没有数据行" + (f";{peeked.hint}" if peeked.hint else "")
        return _unusable(plan, text, f"文件「{Path(spec.path).name}」只有表头,没有数据行", notices, errors)
    match = match_columns(peeked.headers, fields, spec.columns, spec.profile == "auto")
    mapping = dict(match.mapping)
    if table == "register" and "id_number" not in mapping.values():
        mapping = _household_register(plan, peeked.headers, mapping, spec, notices)
    mapped = set(mapping.values())
    plan.mapping = mapping
    household_id = next((raw for raw, t in mapping.items() if t == "id_number" and raw not in match.mapping), None)
    plan.fields = _field_rows(owner, fields, match, mapping, _derived(table, mapped), spec.columns, household_id)
    for raw in match.explicit_missing:
        notices.append(Notice("warning", owner, f"{label}:配置 {section}.columns 中的列「{raw}」在文件中不存在"
                                                f"(文件可能改了列名),该列对应的字段本次没有读取"))
    for d in match.proposals:
        notices.append(Notice("warning", owner,
                              f"{label}:列「{d.raw}」可能是「{fields[d.field].label}」({d.how}),"
                              f"没有采用;确认无误请在配置 {section}.columns 下加一行:  {d.columns_line}"))
    problems = _missing_required(table, mapped, fields, contract)
    if problems:
        hint = "、".join(problems)
        text = (f"{label} 文件 {spec.path} 缺少必需的列 {hint};文件中的列:{'、'.join(peeked.headers)}。"
                f"如果该列的列名不同,请在配置 {section}.columns 下写明 原列名: 字段名")
        return _unusable(plan, text, f"文件「{Path(spec.path).name}」缺少必需的列 {hint}", notices, errors)
    return plan


def _unusable(plan: FilePlan, text: str, reason: str, notices: list[Notice], errors: list[str]) -> FilePlan:
    plan.usage = "excluded"
    plan.message, plan.reason = text, reason
    if plan.required:
        errors.append(text)
    else:
        notices.append(Notice("warning", plan.owner, text + ";本次核查不使用该文件,其余照常运行"))
    return plan


def head_id_stand_in(headers: list[str], mapping: dict[str, str]) -> str | None:
    """The head-ID column (户主身份证号 …) that keys a register with no member-ID column, if it has one;
    the web page's file card asks the same question of an uploaded register."""
    if "id_number" in mapping.values():
        return None
    free = [h for h in headers if h not in mapping]
    head = match_columns(free, {"head_id": HOUSEHOLD_FIELDS["head_id"]}, {}, True).mapping
    return next(iter(head), None)


def _household_register(plan: FilePlan, headers: list[str], mapping: dict[str, str], spec: FileSpec,
                        notices: list[Notice]) -> dict[str, str]:
    """A register with the head's ID but no member ID column is used at household level: its head-ID column
    serves as the ID (a head is a person of the household), and the notice says what that cannot show."""
    if spec.columns and any(t == "id_number" for t in spec.columns.values()):
        return mapping  # an explicit ID mapping whose column is missing is reported as such
    raw = head_id_stand_in(headers, mapping)
    if raw is None:
        return mapping
    if plan.what in REGISTERS_BY_HEAD:  # kept by the head's ID by nature: nothing is lost
        return {**mapping, raw: "id_number"}
    plan.usage = "household"
    plan.message = (f"{plan.label}没有成员证件号码列,按户主证件号码列「{raw}」在户一级使用:"
                    "只能核对到户主本人,不能核对其他家庭成员")
    notices.append(Notice("info", plan.owner, plan.message))
    return {**mapping, raw: "id_number"}


# ---- rules --------------------------------------------------------------------------------------------------

COLUMN_REF = re.compile(r"\b([a-z][a-z0-9_]*?)_([a-z][a-z0-9_]*)\b")


def _column_refs(sql: str, sources: list[str], fields: set[str]) -> set[tuple[str, str]]:
    """(field, source) pairs a rendered query reads as `<field>[_suffix]_<source>` columns."""
    refs = set()
    by_length = sorted(sources, key=len, reverse=True)
    for token in set(re.findall(r"[a-z][a-z0-9_]*", sql)):
        for s in by_length:
            if token.endswith("_" + s):
                name = token[: -len(s) - 1]
                for suffix in ID_SUFFIXES:
                    if name.endswith(suffix) and name[: -len(suffix)] in fields:
                        name = name[: -len(suffix)]
                if name in fields:
                    refs.add((name, s))
                break
    return refs


def _long_view_refs(view: LongView, config: Config, plan: RunPlan, universe: dict[str, set[str]],
                    all_fields: set[str]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(field, source) pairs a long-view query reads in this run, and those it would read if every file had
    every column the source's role may carry — the same two sets `_column_refs` gives for a template. Only the
    sources the rule compares count (its `level` / `roles`); one without a column of its `fields` is not read."""
    named = long_view_fields(view.query, all_fields)
    # a source that could never carry the rule's `fields` is not one it compares, whatever its file has
    scope = [s for s, spec in config.sources.items() if in_scope(view.scope, spec.role, spec.level)
             and carries(view.scope, universe[s])]
    wanted = set()
    for s in scope:
        role = config.sources[s].role
        read = declared_reads(view.scope, role, config.sources[s].level, role in REGISTERED_ROLES)
        wanted |= {(f, s) for f in (named if read is None else read) if f in universe[s]}
    carrying = {s for s in scope if s not in plan.excluded and carries(view.scope, plan.coverage.get(s, set()))}
    used = {(f, s) for f, s in wanted if s in carrying and f in plan.coverage.get(s, set())}
    for f in first_reads(view.scope):  # read from the most trusted source that has it: lost only if none has it
        if any(fld == f for fld, _ in used):
            wanted = {(fld, s) for fld, s in wanted if fld != f or (fld, s) in used}
    return used, wanted


def _universe(config: Config) -> dict[str, set[str]]:
    return {k: set(source_fields(s.role, s.level)) for k, s in config.sources.items()}  # type: ignore[attr-defined]


# what a dry check reads of a config besides its files' shapes: not where the county's files and outputs are, nor its
# name (the dry run's tables are empty, so neither reaches what it returns)
_PLACE_FIELDS = {"path", "base_dir", "output", "ledger", "region", "partition"}
_DRY_CHECKS: dict[str, tuple] = {}  # dry-check key -> its result, in this process
_DRY_CHECKS_KEPT = 8
_DRY_CHECKS_LOCK = threading.Lock()  # the API may compile plans from a caller's threads


def _shape(value: object) -> object:
    """`value` as plain data for a dry-check key: a file by its name only (a province's counties keep the same
    file names in folders of their own), a config without the place fields."""
    if isinstance(value, Path):
        return value.name
    if isinstance(value, FilePlan):
        return _shape({**asdict(value), "path": Path(value.path).name})
    if dataclasses.is_dataclass(value):
        skipped = _PLACE_FIELDS if isinstance(value, Config) else set()
        return {f.name: _shape(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in skipped}
    if isinstance(value, dict):
        return {str(k): _shape(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_shape(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, (list, tuple)):
        return [_shape(v) for v in value]
    return value


def _dry_check_key(config: Config, plan: RunPlan, rules: list) -> str:
    """Everything a dry check reads: the config's shape, the run plan's files and coverage, the rules."""
    shaped = {"config": _shape(config), "plan": _shape(plan), "rules": _shape(rules)}
    return hashlib.sha256(json.dumps(shaped, sort_keys=True, default=repr, ensure_ascii=False).encode()).hexdigest()


def _dry_check(config: Config, plan: RunPlan, rules: list) -> tuple[dict, dict[str, str], list[str], RuleContext]:
    """`_dry_run`'s result, worked out once per shape in a process: a province's preflight compiles county after
    county with the same sources, columns and rules (1.0 of a county's 1.2 s; issue 18)."""
    key = _dry_check_key(config, plan, rules)
    with _DRY_CHECKS_LOCK:
        found = _DRY_CHECKS.get(key)
    if found is None:
        found = _dry_run(config, plan, rules)
        with _DRY_CHECKS_LOCK:
            while len(_DRY_CHECKS) >= _DRY_CHECKS_KEPT:
                _DRY_CHECKS.pop(next(iter(_DRY_CHECKS)))
            _DRY_CHECKS[key] = found
    return copy.deepcopy(found)  # callers' own: nothing they change reaches the next county


def _dry_run(config: Config, plan: RunPlan, rules: list) -> tuple[dict, dict[str, str], list[str], RuleContext]:
    """Every rule run against empty tables that have this run's real columns (the run plan's coverage):
    what runs, what is skipped and why, each rule's query, and the rules whose SQL does not render or bind."""
    from .check.engine import build_context, check
    from .db import connect
    from .link import link
    from .load import write_empty_raw_tables
    from .normalize.stage import normalize
    from .validate import validate

    con = connect(None)
    try:
        write_empty_raw_tables(con, config)
        plan.write(con)
        validate(con)
        normalize(con)
        link(con, config)
        sqls: dict[str, str] = {}
        # binding is what can fail; optimising plans for empty tables is wasted work (most of the dry run's time)
        con.execute("pragma disable_optimizer")
        result = check(con, config, rules, sqls)
        ctx = build_context(con, config)
    finally:
        con.close()
    runs = {r.rule_id: r for r in result.runs}
    errors = [f"规则 {r.rule_id}({r.title}): {r.reason}" for r in result.runs if r.status == "error"]
    return runs, sqls, errors, ctx


def _rules_plan(config: Config, plan: RunPlan, rules: list) -> tuple[list[RulePlan], list[str]]:
    """Run every rule against empty tables with the run's real columns; compare what each reads with what
    it would read if every file carried every field, to say what this run cannot check."""
    from .check.engine import full_context
    from .check.types import RULE_TYPES, long_view_of

    runs, contexts, sql_errors, ctx = _dry_check(config, plan, rules)
    full = full_context(config)
    universe = _universe(config)
    all_fields = set().union(*universe.values()) if universe else set()
    field_order = {f: i for i, f in enumerate([*HOUSEHOLD_FIELDS, *SURVEY_FIELDS, *PERSON_FIELDS])}
    out = []
    for rule in rules:
        run = runs[rule.id]
        if run.status == "error":
            out.append(RulePlan(rule.id, rule.title, rule.kind, rule.pack, "skipped", "", run.reason))
            continue
        if run.status == "skipped":
            out.append(RulePlan(rule.id, rule.title, rule.kind, rule.pack, "skipped", "", run.reason))
            continue
        used_sql = contexts.get(rule.id, "")
        try:
            full_sql = RULE_TYPES[rule.type].build(rule, full)
        except Exception:  # noqa: BLE001 - a rule that renders only with real columns: nothing to compare
            full_sql = used_sql
        sources = list(config.sources)
        view = long_view_of(rule)
        if view:
            used, wanted = _long_view_refs(view, config, plan, full.coverage, all_fields)
        else:
            used = _column_refs(used_sql, sources, all_fields)
            wanted = _column_refs(full_sql, sources, all_fields)
        lost = {fs for fs in wanted - used if fs[0] not in plan.coverage.get(fs[1], set())}
        lost |= _required_absent(rule, config, plan)
        declared = (view.scope.get("fields") or []) if view else (rule.spec.get("fields") or [] if rule.type == "sql" else [])
        for src in {s for _, s in lost}:
            gaps = [f for f in declared if f not in plan.coverage.get(src, set())]
            if gaps:  # the source was left out for want of these columns: name them, not every column it lost
                lost = {fs for fs in lost if fs[1] != src} | {(f, src) for f in gaps}
        read_sources = [s for s in config.sources_by_trust() if any(s == x for _, x in used)]
        unchecked = _unchecked_text(lost, plan, field_order)
        own = getattr(RULE_TYPES[rule.type], "unchecked", None)
        gaps = ((own(rule, ctx) if own else []) + _registers_not_read(rule, config, plan)
                + _household_register_gaps(rule, config, plan))
        if gaps:
            unchecked = ";".join(filter(None, [unchecked, "未核查:" + ";".join(gaps)]))
        out.append(RulePlan(rule.id, rule.title, rule.kind, rule.pack, "partial" if unchecked else "run",
                            ",".join(read_sources), "", unchecked))
    return out, sql_errors


def _register_kinds_read(rule) -> set[str]:
    """Register kinds a rule reads: its `needs: register:…`, a register_hit's `kinds`, `register_fields`."""
    kinds = {k for n in rule.needs if n.startswith("register:") for k in n.split(":", 1)[1].split("|")}
    kinds |= set(rule.spec.get("kinds") or []) if rule.type == "register_hit" else set()
    kinds |= {str(w).split(".", 1)[0] for w in rule.spec.get("register_fields") or []}
    return kinds


def _registers_not_read(rule, config: Config, plan: RunPlan) -> list[str]:
    """Register kinds a running rule would read that this run lacks (not given, or given but left out):
    the rule ran on the others, so what those would have shown is unchecked."""
    left_out = {spec.kind: plan.files[key].reason for key, spec in config.registers.items()
                if plan.files[key].usage == "excluded"}
    gaps = []
    for kind in sorted(_register_kinds_read(rule) - plan.register_kinds, key=REGISTER_KINDS.index):
        label = REGISTER_KIND_LABELS.get(kind, kind)
        gaps.append(f"部门数据「{label}」" + (f"(本次提供的{left_out[kind]},没有使用)" if left_out.get(kind)
                                              else "(本次没有提供)"))
    return gaps


def _household_register_gaps(rule, config: Config, plan: RunPlan) -> list[str]:
    """A register used by its head-ID column shows the rule heads only: the other members are not checked."""
    kinds = _register_kinds_read(rule)
    return [f"{plan.files[key].label}只有户主证件号码(按户使用),其他家庭成员未核对"
            for key, spec in config.registers.items()
            if spec.kind in kinds and plan.files[key].usage == "household"]  # type: ignore[attr-defined]


def _unchecked_text(lost: set[tuple[str, str]], plan: RunPlan, field_order: dict[str, int]) -> str:
    """「帮扶责任人证件号码」(村级档案、扶贫手册没有该列): one clause per field, in schema order."""
    by_field: dict[str, list[str]] = {}
    order = list(plan.files)
    for f, s in sorted(lost, key=lambda fs: (field_order.get(fs[0], 999), order.index(fs[1]) if fs[1] in order else 0)):
        by_field.setdefault(f, []).append(plan.files[s].label if s in plan.files else s)
    if not by_field:
        return ""
    return "未核查:" + ";".join(f"「{_label_of(f)}」({'、'.join(v)}没有该列)" for f, v in by_field.items())


def _required_absent(rule, config: Config, plan: RunPlan) -> set[tuple[str, str]]:
    """A `required` rule's listed fields that a file of a judged role has no column for: one notice about
    the file, never a finding on each row."""
    if rule.type != "required":
        return set()
    lists = config.params.get(rule.spec["param"]) or {}
    out = set()
    for key, spec in config.sources.items():
        if spec.role in rule.spec["roles"] and key in plan.coverage:  # type: ignore[attr-defined]
            derived = {r["field"] for r in plan.files[key].fields if r["status"] == "derived"}
            out |= {(f, key) for f in lists.get(spec.role, [])  # type: ignore[attr-defined]
                    if f not in plan.coverage[key] or f in derived}
    return out


def _label_of(name: str) -> str:
    for table in (HOUSEHOLD_FIELDS, SURVEY_FIELDS, PERSON_FIELDS, VISIT_FIELDS, REGISTER_FIELDS):
        if name in table:
            return table[name].label
    return name


# ---- the plan ---------------------------------------------------------------------------------------------

def compile_plan(config: Config, rules: list | None = None, *, check_rules: bool = True) -> RunPlan:
    """The run plan of `config`; raises ConfigError with every problem found when the run cannot start."""
    from .check.packs import select_rules
    from .preflight import unknown_rule_params

    contract = load_contract()
    notices: list[Notice] = []
    errors: list[str] = []
    files: dict[str, FilePlan] = {}
    specs = list(_file_specs(config))
    for _, _, spec, *_ in specs:
        prefetch_workbook(spec.path, spec.format, spec.sheet)
    for owner, section, spec, what, label, fields, table, required in specs:
        files[owner] = _plan_file(owner, section, spec, what, label, fields, table, required, contract, notices,
                                  errors)
    coverage = {k: {r["field"] for r in files[k].fields if r["status"] in PROVIDED}
                for k in config.sources if files[k].usage != "excluded"}
    register_attrs: dict[str, set[str]] = {}
    for key, spec in config.registers.items():
        if files[key].usage != "excluded":
            register_attrs.setdefault(spec.kind, set()).update(
                r["field"] for r in files[key].fields if r["status"] in PROVIDED)
    has_visits = config.visits is not None and files["visits"].usage != "excluded"
    plan = RunPlan(files, [], notices, coverage, register_attrs, has_visits)
    if check_rules:
        rules = rules if rules is not None else select_rules(config)
        param_errors = unknown_rule_params(rules, config.params)
        plan.rules, sql_errors = _rules_plan(config, plan, rules)
        named = {p.split("(", 1)[0] for p in param_errors}  # "规则 ID": its unknown $param is said once
        errors += param_errors + [e for e in sql_errors if e.split("(", 1)[0] not in named]
    if errors:
        raise ConfigError(errors, str(config.path) if config.path else None)
    return plan


