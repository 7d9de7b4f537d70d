"""Accuracy and time of `reconcile run` on a synthetic county in the shapes other counties' files come in.

    python benchmarks/other_counties.py --households 2000 --seed 11

Generates the county (once, under benchmarks/.data/), then runs the CLI on copies of it transformed the way
tests/variants.py transforms the sample county: as generated (hand-written `columns:`), without `columns:`,
every header respelled without `columns:`, respelled with `columns:` keys in full-width brackets, the system
export as a `="…"`-wrapped GB18030 CSV with a title row (with and without `columns:`). Each run is scored
against the county's ground truth: micro precision and recall over all finding kinds, and the largest drop in
one kind's recall against the run as generated. Prints Markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))  # tests/variants.py: the transformations the tests apply

from benchmarks.county import DATA, generate, measure  # noqa: E402
from tests.variants import copy_sample, renamed, wrapped_system_csv  # noqa: E402

VARIANTS = {
    "as generated (columns:)": lambda c: c,
    "no columns:": lambda c: renamed(c, "remove", renames={}),
    "respelled headers, no columns:": lambda c: renamed(c, "remove"),
    "respelled headers, full-width columns:": lambda c: renamed(c, "full_width"),
    "wrapped GB18030 system CSV (columns:)": wrapped_system_csv,
    "wrapped GB18030 system CSV, no columns:": lambda c: renamed(wrapped_system_csv(c), "remove", renames={}),
}


def micro(table: pl.DataFrame) -> tuple[float, float]:
    findings, truth = table["findings"].sum(), table["truth"].sum()
    return (table["correct"].sum() / findings if findings else 1.0, table["found"].sum() / truth if truth else 1.0)


def _rule_counts(rules: dict) -> str:
    """run / partial / skipped counts of the run plan in `reconcile run --json`."""
    statuses = [r.get("status") for r in rules.values()]
    return " / ".join(str(statuses.count(s)) for s in ("run", "partial", "skipped"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--corruption", default="low")
    args = parser.parse_args()
    from reconcile.evaluate import read_truth, score

    config = generate(args.households, args.seed, args.corruption)
    truth, _ = read_truth(config.parent / "truth")
    work = DATA / f"variants-{args.households}-{args.seed}-{args.corruption}"
    rows, baseline = [], None
    for name, transform in VARIANTS.items():
        folder = work / str(len(rows))
        shutil.rmtree(folder, ignore_errors=True)
        county = transform(copy_sample(folder, config.parent))
        path = county.write_config()
        try:
            result = measure(path, folder / "out")
        except subprocess.CalledProcessError as exc:
            rows.append((name, f"exit {exc.returncode}", "", "", "", "", "", ""))
            continue
        findings = pl.read_parquet(folder / "out" / "findings.parquet")
        table = score(findings, truth)
        recall = dict(zip(table["kind"], table["recall"], strict=True))
        baseline = baseline or recall
        worst = max(((baseline[k] - recall.get(k, 0.0), k) for k in baseline if table.filter(
            pl.col("kind") == k)["truth"].sum()), default=(0.0, "-"))
        precision, overall = micro(table)
        plan = result["summary"].get("plan") or {}
        rules = plan.get("rules") or {}
        rows.append((name, "0", str(findings.height), f"{precision:.4f}", f"{overall:.4f}",
                     f"{worst[0]:+.3f} ({worst[1]})" if worst[0] > 0 else "0",
                     f"{result['wall']:.1f} s / {result['peak_mib']:.0f} MiB", _rule_counts(rules)))
    print(f"## Other counties' files: county {args.households} households, seed {args.seed}, "
          f"corruption {args.corruption}\n")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"machine: {platform.machine()}, {subprocess.getoutput('nproc')} cores, load average after the runs "
          f"{load}, Python {platform.python_version()}\n")
    print(f"command: `python benchmarks/other_counties.py --households {args.households} --seed {args.seed} "
          f"--corruption {args.corruption}`\n")
    print("| files | exit | findings | micro precision | micro recall | worst kind recall drop | wall / peak RSS "
          "| rules run / partial / skipped |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
