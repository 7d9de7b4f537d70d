"""One exception base for every error the CLI reports to a person (DESIGN §12.7)."""

from __future__ import annotations

import difflib
import importlib


class ReconcileError(Exception):
    """An error a user can act on; its message is in Chinese and names where the problem is."""

    exit_code = 2


class ConfigError(ReconcileError):
    """The run configuration (reconcile.yaml) is invalid; carries every problem found at once."""

    def __init__(self, problems: list[str], path: str | None = None):
        self.problems = problems
        self.path = path
        where = f"配置文件 {path} " if path else "配置"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}有 {len(problems)} 处问题:\n{lines}")


class InputError(ReconcileError):
    """A file cannot be read, or lacks a required column: the run stops with one clear message."""


def nearest(word: object, candidates) -> str | None:
    """The closest valid name, for "did you mean" in messages."""
    matches = difflib.get_close_matches(str(word), sorted(map(str, candidates)), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(word: object, candidates) -> str:
    best = nearest(word, candidates)
    return f",是否应为 `{best}`?" if best else ""


def require_extra(module: str, extra: str, what: str, note: str = "") -> None:
    """Import `module` now, or stop with one Chinese line naming the pip extra that provides it (not a
    traceback from deep inside the run)."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ReconcileError(f'{what}需要另外安装依赖(缺少 {exc.name or module}):pip install "reconcile[{extra}]"'
                             f"{note}") from exc
