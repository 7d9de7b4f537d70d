"""Wall time and peak memory of `reconcile run` on a synthetic county, and accuracy against its truth.

    python benchmarks/county.py --households 20000 --seed 7
    python benchmarks/county.py --households 20000 --seed 7 --year 2024   # a monitoring-era county

Generates the county (once, under benchmarks/.data/), runs the CLI under `/usr/bin/time -v` so peak
RSS is the operating system's own accounting, and prints per-stage seconds, peak MiB and the per-kind
recall/precision table as Markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"


def generate(households: int, seed: int, corruption: str, year: int = 2020) -> Path:
    target = DATA / (f"county-{households}-{seed}-{corruption}" + ("" if year == 2020 else f"-{year}"))
    config = target / "reconcile.yaml"
    if not config.exists():
        from reconcile_synth import generate as synth

        started = time.perf_counter()
        synth(target, households=households, seed=seed, corruption=corruption, year=year)
        print(f"generated {households} households in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return config


def measure(config: Path, output: Path) -> dict:
    reconcile = Path(sys.executable).with_name("reconcile")
    cmd = ["/usr/bin/time", "-v", str(reconcile), "run", str(config), "--output", str(output), "--json"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    summary = json.loads(proc.stdout)
    return {"wall": wall, "peak_mib": peak_kib / 1024, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--corruption", default="low")
    parser.add_argument("--year", type=int, default=2020, help="assessment year; from 2021 a monitoring-era county")
    args = parser.parse_args()
    config = generate(args.households, args.seed, args.corruption, args.year)
    output = DATA / (f"out-{args.households}-{args.seed}-{args.corruption}" + ("" if args.year == 2020 else f"-{args.year}"))
    result = measure(config, output)
    from reconcile.evaluate import findings_on_clean, read_truth, score

    truth, households = read_truth(config.parent / "truth")
    findings = pl.read_parquet(output / "findings.parquet")
    table = score(findings, truth)
    clean_hits = findings_on_clean(findings, households).height
    stages = result["summary"]["seconds"]
    print(f"## county {args.households} households, seed {args.seed}, corruption {args.corruption}\n")
    print(f"machine: {platform.processor() or platform.machine()}, {subprocess.getoutput('nproc')} cores, "
          f"Python {platform.python_version()}\n")
    print(f"command: `python benchmarks/county.py --households {args.households} --seed {args.seed} "
          f"--corruption {args.corruption}" + ("" if args.year == 2020 else f" --year {args.year}") + "`\n")
    print("| stage | seconds |\n|---|---|")
    for name, seconds in stages.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"| **total (wall, incl. start-up)** | {result['wall']:.2f} |\n")
    print(f"peak RSS: {result['peak_mib']:.0f} MiB; findings {result['summary']['findings']}, "
          f"input issues {result['summary']['input_issues']}, findings on clean households: {clean_hits}\n")
    print("| kind | truth | found | recall | findings | correct | precision |\n|---|---|---|---|---|---|---|")
    for row in table.iter_rows(named=True):
        recall = f"{row['recall']:.3f}" if row["truth"] else "-"
        precision = f"{row['precision']:.3f}" if row["findings"] else "-"
        print(f"| {row['kind']} | {row['truth']} | {row['found']} | {recall} | {row['findings']} | "
              f"{row['correct']} | {precision} |")


if __name__ == "__main__":
    main()
