"""Shared by the end-to-end tests that transform the sample county (tests/variants.py)."""

from __future__ import annotations

import pytest

from tests.variants import Outcome, copy_sample, run_checks


@pytest.fixture(scope="session")
def sample_baseline(tmp_path_factory) -> Outcome:
    """The unmodified sample county run up to the check stage, once per session: what every variant is
    compared with. It goes through the same copy and config round trip as the variants do."""
    outcome = run_checks(copy_sample(tmp_path_factory.mktemp("baseline") / "county"))
    assert outcome.error is None, f"the sample county itself does not run: {outcome.error}"
    return outcome
