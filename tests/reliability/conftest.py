"""The tiny county, generated once per session; each case works on its own copy (fresh_county)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import generate_tiny


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory) -> Path:
    return generate_tiny(tmp_path_factory.mktemp("tiny") / "county")
