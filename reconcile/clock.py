"""The run's clock: `now()` is the wall clock unless `RECONCILE_NOW` fixes it (golden tests, reproducible reports)."""

from __future__ import annotations

import os
from datetime import datetime

ENV = "RECONCILE_NOW"


def now() -> datetime:
    """Local time without microseconds; `RECONCILE_NOW=2021-03-01T09:00:00` pins it."""
    fixed = os.environ.get(ENV)
    if fixed:
        return datetime.fromisoformat(fixed)
    return datetime.now().replace(microsecond=0)
