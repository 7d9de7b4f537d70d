"""reconcile — 扶贫/防返贫监测数据“四个一致”比对引擎.

The public Python API (README “Python API”; walk-throughs in notebooks/). Every function takes a
config as a path to reconcile.yaml or a loaded `Config`; the ones that read a finished run also take
the `RunResult` of `run`. Frames are polars and carry full values (ID numbers unmasked): pass them
through `mask_ids` before showing them to people.

    result = reconcile.run("reconcile.yaml", output="out/")      # RunResult
    reconcile.mask_ids(result.findings)                          # findings fit to display
    reconcile.draw_sample(result, per_village=10, seed=1)        # SampleResult (reconcile sample)
    reconcile.read_ledger(result)                                # every finding ever seen, with its status
    reconcile.compare_system_exports(old, new, config="reconcile.yaml", output="cmp/")  # CompareResult
    reconcile.list_rules(), reconcile.explain_rule("FC-HH-SIZE")
    reconcile.evaluate_rule("FC-HH-SIZE", {"sources": {...}})       # one rule on a tiny case, check stage only
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import polars as pl

    from .compare_exports import CompareResult
    from .config import Config
    from .pipeline import RunResult
    from .sample import SampleResult

__all__ = ["CompareResult", "Config", "RunResult", "SampleResult", "compare_system_exports", "draw_sample",
           "evaluate_rule", "explain_rule", "list_rules", "load_config", "mask_ids", "read_ledger", "run"]

# re-exported classes, imported on first use so that `import reconcile` (and the CLI) stays fast
_LAZY = {"RunResult": "pipeline", "Config": "config", "SampleResult": "sample", "CompareResult": "compare_exports"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _config(config: Any) -> Config:
    """A Config from a path, a Config, or the RunResult of a finished run."""
    from .config import Config, load_config
    from .pipeline import RunResult

    if isinstance(config, RunResult):
        return config.config
    if isinstance(config, Config):
        return config
    return load_config(Path(config))


def load_config(path: str | Path) -> Config:
    """Read and validate reconcile.yaml (paths in it are relative to the file).

    Every problem is reported at once in a `ConfigError` (`reconcile.errors`), each with its line.
    """
    from .config import load_config as _load

    return _load(Path(path))


def run(config: str | Path | Config, output: str | Path | None = None, *, show_ids: bool = False,
        split_by: str | None = None) -> RunResult:
    """Run the whole pipeline (load → validate → normalize → link → check → ledger → report).

    `config`: path to reconcile.yaml or a loaded Config; `output`: folder for the run (default: the
    config's `output:`), where reconcile.duckdb, findings.*, 核查报告.xlsx and report.html are written;
    a previous run's database there carries the ledger over. `show_ids` writes full ID numbers into
    the workbook and page (masked by default); `split_by="township"` adds one workbook per township.
    Returns a RunResult whose frames (findings, input_issues, links, …) are polars with full values.
    """
    from .pipeline import run as run_pipeline

    cfg = _config(config)
    return run_pipeline(cfg, output=Path(output) if output else None, show_ids=show_ids, split_by=split_by)


def draw_sample(config: str | Path | Config | RunResult, per_village: int | None = None, seed: int = 1,
                weight: str | None = None, output: str | Path | None = None, show_ids: bool = False,
                forms: bool = True) -> SampleResult:
    """Draw the inspection sample (入户核查抽样, command `reconcile sample`).

    Reads the database of the run in the config's output folder (pass the RunResult to use the folder
    of that run; a config whose folder has no run yet is run first, as `run(config)`). Per village `per_village`
    households (default: `sampling.per_village` of the config, else 10) with quotas by category;
    `seed` makes the draw reproducible; `weight="findings"` favours households with findings.
    Writes the sample list and, with `forms`, pre-filled survey forms (农户调查表) into `output`
    (default `<run output>/抽样`), IDs masked unless `show_ids`. Returns a SampleResult:
    `sample` (one row per drawn household), `quotas` (quota, candidates, drawn, shortfall per village
    and category), `shortfalls`, `files`.
    """
    from .pipeline import run as run_pipeline
    from .sample import run_database, sample
    from .sample_forms import write_sample

    cfg = _config(config)
    if not run_database(cfg).exists():
        run_pipeline(cfg)
    result = sample(cfg, per_village=per_village, seed=seed, weight=weight, output=Path(output) if output else None)
    write_sample(result, cfg, show_ids=show_ids, forms=forms)
    return result


def compare_system_exports(old: str | Path, new: str | Path, config: str | Path | Config | None = None, *,
                           source: str | None = None, output: str | Path | None = None,
                           old_date: str | None = None, new_date: str | None = None,
                           show_ids: bool = False) -> CompareResult:
    """Compare two exports of the national system (command `reconcile compare-exports`).

    Both files are read like the `system` source of `config` (path to reconcile.yaml, or a loaded `Config`; `source` picks
    another source key), whose death and household (户籍) registers are also checked. `old_date` /
    `new_date` (YYYY-MM-DD) bound births and deaths. Writes Parquet files and 导出比对.xlsx into
    `output` (default `<config output>/导出比对`). Returns a CompareResult: `households` and `persons`
    (added / removed / moved, with a 动态调整 `type`), `fields` (before → after per changed field),
    `checks` (死亡未减员, 出生未增员), `counts`, `summary()`.
    """
    from .compare_exports import compare_exports
    from .compare_exports_report import write_comparison
    from .config import Config

    result = compare_exports(Path(old), Path(new), config=config if isinstance(config, Config) or config is None
                             else Path(config), source=source,
                             output=Path(output) if output else None, old_date=old_date, new_date=new_date)
    write_comparison(result, show_ids)
    return result


def read_ledger(config: str | Path | Config | RunResult, output: str | Path | None = None) -> pl.DataFrame:
    """The ledger (问题台账): one row per finding ever seen in the runs of this config's output folder
    (or its `ledger:` file), with `status` new / open / reopened while present and `resolved` (销号)
    once gone, `first_run`, `last_run`, `run_count`, `resolved_run`, `resolved_at` and the finding's
    last description (rule_id, kind, township, village, hh_code, message …)."""
    from .ledger import open_ledger
    from .ledger import read_ledger as _read

    cfg = _config(config)
    if output is not None:
        cfg = cfg.with_output(Path(output))
    con = open_ledger(cfg.ledger)
    try:
        return _read(con)
    finally:
        con.close()


def list_rules(config: str | Path | Config | None = None) -> pl.DataFrame:
    """The rule catalogue (`reconcile rules list`): one row per rule with id, pack, type, kind, title,
    severity, needs and the pack file; with a config, the packs its `rules: {extra: …}` adds too."""
    import polars as pl

    from .check.packs import load_rules

    extra = _config(config).rule_files if config is not None else []
    rows = [{"rule_id": r.id, "pack": r.pack, "type": r.type, "kind": r.kind, "title": r.title,
             "severity": r.severity, "needs": ", ".join(r.needs), "file": r.source_file}
            for r in load_rules(extra=extra)]
    return pl.DataFrame(rows, schema={k: pl.String for k in
                                      ("rule_id", "pack", "type", "kind", "title", "severity", "needs", "file")})


def explain_rule(rule_id: str, config: str | Path | Config | None = None) -> str:
    """What `reconcile rules explain RULE [-c CONFIG]` prints, as plain text: the rule's kind, needs,
    message and advice templates, the parameters it reads and the SQL it runs (expanded for the
    config's sources when a config is given)."""
    import io

    from rich.console import Console

    from .check.catalogue import explain_rule as _explain

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, force_terminal=False, force_jupyter=False,
                      highlight=False)
    _explain(rule_id, _config(config) if config is not None else None, console)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def mask_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with ID numbers masked as in the workbook (first 6 + last 4 digits shown): ID columns
    (head_id, person_id, id_number, cadre_id) whole, and ID numbers inside every other text column."""
    from .report.common import mask_frame

    return mask_frame(frame)


def evaluate_rule(rule_id: str, case: dict, folder: str | Path | None = None) -> Any:
    """Run one rule on a tiny input described as data (the format of tests/rules/cases/*.yaml: sources,
    registers and visits as lists of rows, optional params and year), up to the check stage only — no
    ledger, workbook or page. Returns a `reconcile.check.cases.RuleEvaluation` (findings, rule_runs, the
    run plan, links). `folder` keeps the case's files; by default they go to a temporary folder."""
    from .check.cases import evaluate_rule as _evaluate

    return _evaluate(rule_id, case, Path(folder) if folder is not None else None)
