"""Synthetic county generator: realistic messy source files plus the ground truth they imply.

`generate` builds one true county (world, attrs), records it in every source and register (views),
injects one problem into each chosen household plus background noise (inject, recipes), draws the
inspection sample, and writes the files the way they arrive (writers) with truth/ and reconcile.yaml.

A county is the sample county (湘阴县) unless a `CountySpec` says otherwise (place); counties of a
simulated province (province.generate_province) have region codes of their own, so their IDs and
household numbers never collide. `fmt` chooses xlsx (as the files arrive), csv or parquet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from .place import DEFAULT_COUNTY, CountySpec

# The rule parameters the county is drawn against (poverty line, thresholds …), read as data from the
# repository: the generator shares no code with the engine it is meant to judge (tests/unit/test_synth.py).
DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "rules" / "params" / "default.yaml"


def default_params() -> dict:
    return yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Corruption:
    """Background noise; every finding it implies is in the truth too (those households are not clean)."""

    typo_rate: float  # persons whose name is misspelt in the manual (homophone or look-alike)
    missing_id_rate: float  # persons whose ID is empty in the manual
    mangled_id_rate: float  # IDs mangled: Excel number in the system, one-digit typo or 17 digits in the manual
    missing_hh_code_rate: float  # archive rows with an empty 户编号
    split_rate: float  # households where an adult child set up a new household and only some sources know


CORRUPTION_LEVELS = {
    "low": Corruption(0.01, 0.01, 0.005, 0.03, 0.01),
    "medium": Corruption(0.03, 0.03, 0.015, 0.08, 0.03),
    "high": Corruption(0.08, 0.06, 0.04, 0.15, 0.06),
}

NONREGISTERED_RATIO = 1.5  # non-registered households per registered one (registers and survey only)
SURVEY_SHARE = 0.25


def build(households: int = 400, seed: int = 1, corruption: str | Corruption = "low", year: int = 2020,
          problem_share: float = 0.35, county: CountySpec | None = None):
    """The county with every source, register and injection in memory (an `inject.Ctx`), unwritten."""
    from . import attrs, catalogue, inject, views
    from . import county as world

    corr = CORRUPTION_LEVELS[corruption] if isinstance(corruption, str) else corruption
    rng = random.Random(seed)
    true = world.build(rng, default_params(), year, households, NONREGISTERED_RATIO, county or DEFAULT_COUNTY)
    attrs.complete(true, rng)
    ctx = inject.Ctx(true, views.build(true, rng), rng)
    inject.problems(ctx, problem_share, catalogue.recipes_for(true.monitoring))
    inject.missed(ctx, catalogue.MISSED, max(2, households // 200))
    inject.background(ctx, corr)
    inject.survey(ctx, SURVEY_SHARE)
    inject.register_leads(ctx)
    return ctx


def generate(out_dir: Path, households: int = 400, seed: int = 1, corruption: str | Corruption = "low",
             year: int = 2020, problem_share: float = 0.35, county: CountySpec | None = None,
             fmt: str = "xlsx") -> Path:
    """Write a synthetic county to `out_dir`; returns the path of its reconcile.yaml (written last).

    `county` None is the sample county; `fmt` is "xlsx" (workbooks and CSV, as the files arrive),
    "csv" (the workbooks as CSV too) or "parquet" (every file Parquet, all columns strings). The same
    seed gives the same county, injections and cells in every format.
    """
    from . import docs, specs, truth, writers

    specs.file_name(specs.SYSTEM_FILE, fmt)  # an unknown format fails before the county is built
    out_dir = Path(out_dir)
    ctx = build(households, seed, corruption, year, problem_share, county)
    links, plinks = writers.write_all(out_dir, ctx.county, ctx.v, seed, fmt)
    counts = truth.write(out_dir, ctx, links, plinks)
    (out_dir / "README.md").write_text(docs.sample_readme(ctx.county, households, seed, corruption, counts, fmt),
                                       encoding="utf-8")
    return truth.config(out_dir, year, ctx.county.name, fmt, ctx.county.monitoring)


__all__ = ["CORRUPTION_LEVELS", "DEFAULT_COUNTY", "Corruption", "CountySpec", "build", "generate"]
