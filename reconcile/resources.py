"""Where the files shipped with the package live: rule packs, parameters, the sample county.

In a wheel they are inside the package (`reconcile/_rules`, `reconcile/_sample`); in a source
checkout they are the repository's `rules/` and `data/sample/`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for path in candidates:
        if path.exists():
            return path
    return candidates[-1]


def rules_dir() -> Path:
    return _first_existing(_PACKAGE / "_rules", _PACKAGE.parent / "rules")


def params_dir() -> Path:
    return rules_dir() / "params"


def sample_dir() -> Path:
    return _first_existing(_PACKAGE / "_sample", _PACKAGE.parent / "data" / "sample")


def kinds_csv() -> Path:
    return _PACKAGE / "kinds.csv"


@cache
def default_params() -> dict:
    with open(params_dir() / "default.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def config_template() -> str:
    return (_PACKAGE / "templates" / "reconcile.yaml").read_text(encoding="utf-8")
