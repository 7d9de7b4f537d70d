"""Rules over the long per-source views (`hh_source`, `person_source`: one row per cluster × source).

Such a rule is plain SQL — no template — so it reads the same whatever the run's files are. What it compares
is said in its YAML, in one place that both the check and the run plan read:

- `level: person` — only member lists (person-level sources);
- `roles: [...]` — only sources of these roles;
- `fields: [...]` — only sources that carry every one of these columns (an absent column is not an empty cell);
- `reads:` — what the plan counts as read, where naming the fields in the query says too much: a list of
  fields, or `{who: [fields]}` for a query that reads a field from some sources only; `who` is a role, a level
  (`person`: member lists, `household`: household-level files), `registered` (the roles that hold registered
  households) or `all`; `first: [fields]` are read from the most trusted source that has them, so a file
  without the column loses nothing while another has it.

The check runs the query with the views narrowed to those sources (bound, never pasted); the run plan says
which of the fields the query names (`long_view_fields`) a file of those sources lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import RuleContext

LONG_VIEWS = ("hh_source", "person_source")
RULE_SOURCES = "rule_sources"  # the bound list a narrowed query reads (never a config parameter)


@dataclass(frozen=True)
class LongView:
    """A rule's query over the long views, the same for every config, and which sources it compares:
    `scope` holds `level` / `roles` / `fields` / `reads` as a sql rule's YAML does."""

    query: str
    scope: dict


def scoped_sources(scope: dict, ctx: RuleContext) -> list[str]:
    """The sources of this run the rule compares (its level, roles, and the columns its `fields` need)."""
    return [s for s in ctx.sources if in_scope(scope, ctx.roles[s], ctx.levels[s])
            and carries(scope, ctx.coverage.get(s, set()))]


def carries(scope: dict, columns: set[str]) -> bool:
    """Whether a source with these columns is one the rule compares: every one of its `fields`, and one at least
    of its `any_fields` (a procedure's steps: a file with any step date)."""
    wanted, any_of = scope.get("fields") or [], scope.get("any_fields") or []
    return all(f in columns for f in wanted) and (not any_of or any(f in columns for f in any_of))


def build_view(view: LongView, ctx: RuleContext) -> str:
    """The query as it runs: as written when it compares every source of the run, else narrowed."""
    return view.query if scoped_sources(view.scope, ctx) == ctx.sources else narrowed(view.query)
ID_SUFFIXES = ("_raw", "_valid", "_birth", "_sex", "_problem")  # columns normalisation adds beside an ID field
# columns the long views derive from fields (link/wide.py): a query naming one reads these fields
DERIVED_READS = {"known_birth": ("birth_date", "id_number")}
_SQL_NOISE = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\b(?:group|order|partition)\s+by\b", re.IGNORECASE)
_ALIAS = re.compile(r"\bas\s+\"?[a-z_][a-z0-9_]*\"?", re.IGNORECASE)
_VIEW_NAMES = re.compile(r"\b(" + "|".join(LONG_VIEWS) + r")\b")


def is_template(sql: str) -> bool:
    """A query written as a Jinja template (a pack's own rule over the wide views)."""
    return "{%" in sql or "{{" in sql


def reads_long_views(sql: str) -> bool:
    """A plain query (no template) over at least one long view."""
    return not is_template(sql) and bool(_VIEW_NAMES.search(_SQL_NOISE.sub(" ", sql)))


def long_view_fields(sql: str, fields: Iterable[str]) -> set[str]:
    """Fields the query names as columns (comments, quoted text, `group by`-like keywords and the names it gives
    with `as` left aside; `head_id_valid` reads `head_id`, `known_birth` reads `birth_date` and `id_number`)."""
    known = set(fields)
    text = _ALIAS.sub(" ", _SQL_NOISE.sub(" ", sql))
    out = set()
    for token in set(re.findall(r"[a-z_][a-z0-9_]*", text)):
        for suffix in ID_SUFFIXES:
            if token.endswith(suffix) and token[: -len(suffix)] in known:
                token = token[: -len(suffix)]
        if token in known:
            out.add(token)
        out.update(f for f in DERIVED_READS.get(token, ()) if f in known)
    return out


def in_scope(spec: dict, role: str, level: str) -> bool:
    """Whether a source of this role and level is one the rule compares (its `level` and `roles`)."""
    roles = spec.get("roles")
    return (not roles or role in roles) and (spec.get("level") in (None, level))


def scope_problems(spec: dict, roles: Iterable[str]) -> list[str]:
    """What is wrong with a rule's `level` / `roles` (checked with the pack, before any data)."""
    problems = []
    if spec.get("level") not in (None, "person"):
        problems.append("level 只能是 person(只比对有成员名单的来源)")
    wanted = spec.get("roles")
    if wanted is not None:
        known = set(roles)
        if not isinstance(wanted, list) or not wanted:
            problems.append("roles 应为来源角色列表(如 [system, archive])")
        else:
            problems += [f"roles 中的 `{r}` 不是来源角色({'、'.join(sorted(known))})" for r in wanted if r not in known]
    if (wanted or spec.get("level")) and not reads_long_views(spec.get("sql", "")):
        problems.append("level / roles 只用于直接查询 hh_source、person_source 的规则(不含模板)")
    return problems


def narrowed(sql: str) -> str:
    """The query with both long views narrowed to the bound list `$rule_sources`."""
    views = ", ".join(f"{v} as (select * from main.{v} where list_contains(${RULE_SOURCES}, source))"
                      for v in LONG_VIEWS)
    return f"with {views}\nselect * from (\n{sql}\n)"


def declared_reads(spec: dict, role: str, level: str, registered: bool) -> set[str] | None:
    """The fields a rule's `reads:` says it reads from a source of this role (None: not declared)."""
    reads = spec.get("reads")
    if reads is None:
        return None
    if isinstance(reads, list):
        return set(reads)
    out: set[str] = set()
    for who, fields in reads.items():
        if who in ("all", "first", role, level) or (who == "registered" and registered):
            out |= set(fields)
    return out


def reads_problems(spec: dict, roles: Iterable[str], fields: Iterable[str]) -> list[str]:
    reads = spec.get("reads")
    if reads is None:
        return []
    known, allowed = set(fields), {*roles, "registered", "all", "first", "person", "household"}
    if isinstance(reads, list):
        groups = {"all": reads}
    elif isinstance(reads, dict):
        groups = reads
    else:
        return ["reads 应为字段列表,或 {来源角色: 字段列表}"]
    problems = [f"reads 中的 `{who}` 不是来源角色(或 person、household、registered、all、first)" for who in groups if who not in allowed]
    for fs in groups.values():
        if not isinstance(fs, list):
            return problems + ["reads 的每一项应为字段列表"]
        problems += [f"reads 中的 `{f}` 不是标准字段" for f in fs if f not in known]
    return problems


def first_reads(spec: dict) -> set[str]:
    """The fields a rule reads from the most trusted source that has them (`reads: {first: [...]}`)."""
    reads = spec.get("reads")
    return set(reads.get("first") or []) if isinstance(reads, dict) else set()


def restricts(scope: dict) -> bool:
    """Whether the scope leaves some sources out (a rule with none of its sources in a run cannot run)."""
    return any(scope.get(k) for k in ("level", "roles", "fields", "any_fields"))


def scope_text(scope: dict) -> str:
    """Which sources a rule compares, as a person reads it."""
    from ..schema import FIELD_LABELS, ROLE_LABELS

    parts = ["有成员名单的来源" if scope.get("level") == "person" else "本次使用的全部来源"]
    if scope.get("roles"):
        parts.append("角色为" + "、".join(ROLE_LABELS.get(r, r) for r in scope["roles"]))
    if scope.get("fields"):
        parts.append("须有列" + "、".join(f"「{FIELD_LABELS.get(f, f)}」" for f in scope["fields"]))
    if scope.get("any_fields"):
        parts.append("至少有列" + "、".join(f"「{FIELD_LABELS.get(f, f)}」" for f in scope["any_fields"]) + "之一")
    return ";".join(parts)


def unmet_scope(scope: dict, ctx: RuleContext) -> str:
    """Why no source of this run is one the rule compares, naming the files and the columns they lack."""
    from ..schema import FIELD_LABELS, ROLE_LABELS

    def named(fields: list[str]) -> str:
        return "、".join(f"「{FIELD_LABELS.get(f, f)}」" for f in fields)

    candidates = [s for s in ctx.sources if in_scope(scope, ctx.roles[s], ctx.levels[s])]
    if not candidates:
        roles = "或".join(f"「{ROLE_LABELS.get(r, r)}」" for r in scope.get("roles") or []) or "有成员名单的"
        return f"需要{roles}文件" + ("(有成员名单)" if scope.get("level") == "person" and scope.get("roles") else "") \
            + ",本次没有"
    lacks = []
    for s in candidates:
        columns = ctx.coverage.get(s, set())
        missing = [f for f in scope.get("fields") or [] if f not in columns]
        any_of = scope.get("any_fields") or []
        parts = [named(missing)] if missing else []
        if any_of and not any(f in columns for f in any_of):
            parts.append(named(any_of) + "中任一")
        lacks.append(f"{ctx.label(s)}没有" + "和".join(parts) + "列")
    fields, any_fields = scope.get("fields") or [], scope.get("any_fields") or []
    wanted = [named(fields) + "列"] if fields else []
    if any_fields:
        wanted.append(named(any_fields) + "中任一列")
    together = "同时有" if len(fields) > 1 or len(wanted) > 1 else "有"
    return f"需要一个来源{together}{'和'.join(wanted)},本次的文件缺少:" + ";".join(lacks)
