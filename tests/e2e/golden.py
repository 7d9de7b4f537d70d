"""The end-to-end tests' golden files (tests/e2e/golden/), checked and regenerated as the report's are."""

from __future__ import annotations

from pathlib import Path

from tests.report import golden


def check_golden(name: str, text: str) -> None:
    golden.check_golden_in(Path(__file__).parent / "golden", name, text)
