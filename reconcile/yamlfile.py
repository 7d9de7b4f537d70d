"""Reading a YAML file a person wrote (config, province file, rule pack, parameters), strictly and within bounds.

- A key written twice in one mapping is an error naming both lines (PyYAML keeps the last one silently: a
  config with two `year:` would run the wrong year).
- The document's size and its size once every alias is expanded are bounded: a few hundred bytes of nested
  aliases ("billion laughs") would otherwise become gigabytes in whatever walks or saves the result. Aliases
  themselves stay allowed (`<<: *defaults`), a self-referencing one is refused.

Every refusal is a `yaml.YAMLError` with a Chinese `problem` and, where it has one, a `problem_mark`, so callers
report it the way they report any YAML syntax error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_YAML_BYTES = 2 * 2**20  # a county config is a few KB; a province with 100 counties far less than this
MAX_EXPANDED_NODES = 200_000  # nodes once aliases are expanded: default.yaml has ~1,500


class YamlRefused(yaml.YAMLError):
    def __init__(self, problem: str, mark: yaml.Mark | None = None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark

    def __str__(self) -> str:
        where = f"第 {self.problem_mark.line + 1} 行: " if self.problem_mark else ""
        return f"{where}{self.problem}"


# libyaml's parser when PyYAML was built with it (the wheels are): the rule packs, parsed by every county of a
# province in its preflight and again in its worker, took 0.35 s a county with the pure-Python one (issue 18)
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:  # type: ignore[override]
        # the keys written in this mapping, before `<<` merges are flattened in (overriding a merged key is fine)
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base constructor reports it
                break
            if first is not None:
                raise YamlRefused(f"键 “{key}” 在同一层写了两次(第 {first.line + 1} 行和第 {key_node.start_mark.line + 1} 行):"
                                  "请只保留一个", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: Node) -> int:
    """Nodes in the document once every alias is expanded, counted without expanding (a shared node's size
    is computed once); stops as soon as the bound is passed. A node inside itself is refused."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = size
            in_progress.discard(key)
            if size > MAX_EXPANDED_NODES:
                return size
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise YamlRefused("别名引用了包含它自己的内容(循环引用),无法读取", node.start_mark)
        in_progress.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in in_progress:
                raise YamlRefused("别名引用了包含它自己的内容(循环引用),无法读取", child.start_mark)
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes.get(id(root), 1)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml_text(text: str) -> Any:
    """The document in `text`, or a YamlRefused / yaml.YAMLError saying why not."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlRefused(f"文件过大({len(text.encode('utf-8')) / 2**20:.1f} MB):配置和规则文件不应超过 "
                          f"{MAX_YAML_BYTES // 2**20} MB")
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size > MAX_EXPANDED_NODES:
            raise YamlRefused(f"别名(&/*)展开后超过 {MAX_EXPANDED_NODES:,} 个元素(疑似“YAML 炸弹”),已拒绝读取",
                              node.start_mark)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path, encoding: str = "utf-8-sig") -> Any:
    """The document in file `path` (size checked before it is read)."""
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise YamlRefused(f"文件过大({size / 2**20:.1f} MB):配置和规则文件不应超过 {MAX_YAML_BYTES // 2**20} MB")
    return load_yaml_text(path.read_text(encoding=encoding))
