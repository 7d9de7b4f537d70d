"""Code lists: labels, synonyms and numeric codes mapped onto one canonical label.

The lists are data (codelists.yaml), loaded once at import. Exports carry labels, extracts carry
numbers in several numberings (domain.md §2.4), so labels are matched first and codes second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

import yaml

from ._text import as_text, clean_cell, clean_code
from .result import EMPTY, Normalized


@dataclass(frozen=True)
class CodeList:
    name: str
    labels: tuple[str, ...]
    lookup: Mapping[str, str]  # match key (see _key) -> canonical label
    broader: Mapping[str, str] = field(default_factory=dict)  # specific label -> coarse label

    def __contains__(self, label: object) -> bool:
        return label in self.labels


_CODE_THEN_LABEL = re.compile(r"(\d+)[-_.:、)]*(\D.*)")
_LIST_SEPARATORS = re.compile(r"[,、;/|\s]+")
_SPACE_IN_BRACKETS = re.compile(r"\s*(\()\s*|\s*(\))")


def _key(text: str) -> str:
    return clean_code(text).casefold()


def _build(raw_lists: dict) -> dict[str, CodeList]:
    def own_aliases(name: str) -> dict[str, str]:
        lookup: dict[str, str] = {}
        for label, aliases in raw_lists[name]["labels"].items():
            for alias in (label, *aliases):
                if not isinstance(alias, str) or not isinstance(label, str):
                    raise ValueError(f"代码表 {name} 中的 {alias!r} 必须加引号写成文本")
                key = _key(alias)
                if lookup.get(key, label) != label:
                    raise ValueError(f"代码表 {name} 中 {alias!r} 同时对应 {lookup[key]} 和 {label}")
                lookup[key] = label
        return lookup

    lists: dict[str, CodeList] = {}
    for name, spec in raw_lists.items():
        lookup = own_aliases(name)
        labels = list(spec["labels"])
        parent = spec.get("labels_from")
        if parent:
            # Borrow words, never numbers: the numberings of two code sets disagree ("02").
            for key, label in own_aliases(parent).items():
                if not key.isdigit() and key not in lookup:
                    lookup[key] = label
                    if label not in labels:
                        labels.append(label)
        broader = {
            specific: coarse
            for coarse, specifics in (spec.get("broader") or {}).items()
            for specific in specifics
        }
        lists[name] = CodeList(name, tuple(labels), MappingProxyType(lookup), MappingProxyType(broader))
    return lists


def _load() -> dict[str, CodeList]:
    text = resources.files(__package__).joinpath("codelists.yaml").read_text(encoding="utf-8")
    return _build(yaml.safe_load(text))


CODE_LISTS: dict[str, CodeList] = _load()


def _codelist(name: str) -> CodeList:
    try:
        return CODE_LISTS[name]
    except KeyError:
        raise KeyError(f"未知的代码表:{name}(可用:{'、'.join(CODE_LISTS)})") from None


def _lookup_key(key: str, codes: CodeList) -> str | None:
    label = codes.lookup.get(key)
    if label is not None or not key.isdigit():
        return label
    # A numeric cell loses leading zeros ("01" -> 1) and a text cell may add some ("001").
    stripped = key.lstrip("0") or "0"
    return codes.lookup.get(stripped) or codes.lookup.get(stripped.zfill(2))


@lru_cache(maxsize=1 << 16)
def _lookup(raw: str, codelist: str) -> str | None:
    codes = _codelist(codelist)
    key = _key(raw)
    label = _lookup_key(key, codes)
    if label is None:
        # "01户主", "1-因病": code and label written together; the label decides.
        match = _CODE_THEN_LABEL.fullmatch(key)
        if match:
            label = _lookup_key(match.group(2), codes) or _lookup_key(match.group(1), codes)
    return label


def normalize_code(raw: str | None, codelist: str) -> Normalized:
    """The canonical label of one code cell; ``code_unknown`` when the list does not know it."""
    _codelist(codelist)
    if raw is None:
        return EMPTY
    text = as_text(raw)
    if not _key(text):
        return EMPTY
    label = _lookup(text, codelist)
    return Normalized(label, None if label is not None else "code_unknown")


@lru_cache(maxsize=1 << 16)
def _normalize_code_list(raw: str, codelist: str) -> Normalized:
    # Spaces separate items here, so only the spaces around brackets ("教育资助 (雨露计划)") go first.
    text = _SPACE_IN_BRACKETS.sub(lambda m: m.group(1) or m.group(2), clean_cell(raw))
    items = [item for item in _LIST_SEPARATORS.split(text) if item]
    if not items:
        return EMPTY  # only separators: nothing was listed
    found = {_lookup(item, codelist) for item in items}
    known = tuple(sorted(label for label in found if label is not None))
    problem = "code_unknown" if None in found else None
    return Normalized(known or None, problem)


def normalize_code_list(raw: str | None, codelist: str) -> Normalized:
    """A set of labels (sorted tuple) from a cell listing several codes separated by , ，、 ; ； / |
    or spaces; ``code_unknown`` if any item is unknown (the known ones are kept)."""
    _codelist(codelist)
    if raw is None:
        return EMPTY
    return _normalize_code_list(as_text(raw), codelist)


def code_labels(codelist: str) -> tuple[str, ...]:
    """The canonical labels of a list, in the order of codelists.yaml."""
    return _codelist(codelist).labels


def codes_compatible(a: str | None, b: str | None, codelist: str) -> bool:
    """Whether two canonical labels can describe the same fact: equal, or one is the coarse label of
    the other (GB/T 4761 "之父母" covers "之父")."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    broader = _codelist(codelist).broader
    return broader.get(a) == b or broader.get(b) == a
