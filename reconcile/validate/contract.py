"""The input contract (contract.yaml), declared once and read by both validation engines."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

CONTRACT_PATH = Path(__file__).resolve().parent / "contract.yaml"


@cache
def load_contract() -> dict:
    with open(CONTRACT_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)
