"""How the whole pipeline's cost grows with size: wall time per stage and peak memory, one machine and Spark.

    python benchmarks/scale.py province --households 20000 200000 1000000 --format csv
    python benchmarks/scale.py county --households 50000            # real formats: xlsx + GB18030 CSV
    python benchmarks/scale.py spark --counties 3 --households 20000 --master "local[2]"
    python benchmarks/scale.py chart                                  # benchmarks/scale.png from the results

A province of N households is N / 20,000 synthetic counties of 20,000 registered households each
(reconcile_synth.province; each county has 1.5× as many non-registered households in its registers and
survey). Data are generated once under benchmarks/.data/ (git-ignored). Each run is `reconcile run` under
`/usr/bin/time -v`, so the peak RSS of the largest process is the OS's own accounting; the script also
samples /proc every 0.2 s for the peak of the whole process tree (the parent plus its county workers).
Results are kept in benchmarks/results/scale.json, keyed by what was run, and printed as Markdown for
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
RESULTS = ROOT / "results" / "scale.json"
CHART = ROOT / "scale.png"
COUNTY_SIZE = 20_000


def machine() -> str:
    mem = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine())
    return f"{cpu}, {os.cpu_count()} cores, {mem / 1024:.0f} GiB, Python {platform.python_version()}"


def _tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(cmd: list[str]) -> dict:
    """Run `cmd` under /usr/bin/time -v; wall seconds, peak RSS of the largest process and of the whole tree."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.wait(0.2):
            peak_tree = max(peak_tree, _tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    return {"wall": wall, "peak_mib": peak / 1024, "peak_tree_mib": peak_tree / 1024, "summary": json.loads(stdout),
            "load_before": round(load_before, 2)}


def _reconcile() -> str:
    return str(Path(sys.executable).with_name("reconcile"))


def province_data(households: int, fmt: str, workers: int) -> Path:
    """province-<N>.yaml over the first N / 20,000 counties of one generated province (county k is the same
    county whatever the size, so the sizes share their data)."""
    from reconcile_synth.province import generate_province

    counties = max(1, households // COUNTY_SIZE)
    target = DATA / f"province-{fmt}"
    started = time.perf_counter()
    config = generate_province(target, counties=counties, households_per_county=households // counties, seed=1,
                               fmt=fmt, workers=workers, log=lambda line: print(line, file=sys.stderr))
    sized = config.with_name(f"province-{households}.yaml")
    sized.write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"data for {households} households: {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return sized


def county_data(households: int, fmt: str) -> Path:
    """County 1 of the simulated province: its townships and villages grow with its size (about one township
    per 1,000 households), as real counties' do; the sample county's few large villages would make every
    linkage block of a 50,000-household county hold ~1,700 households."""
    from reconcile_synth import generate
    from reconcile_synth.place import CountySpec

    target = DATA / f"county-{households}-7-low-{fmt}-k1"
    config = target / "reconcile.yaml"
    if not config.exists():
        generate(target, households=households, seed=7, corruption="low", fmt=fmt, county=CountySpec.of(1))
    return config


def _stages(summary: dict) -> dict[str, float]:
    """Wall seconds per stage; for a province, each county stage summed over counties (worker seconds)."""
    stages = dict(summary["seconds"])
    for part in summary.get("partitions", []):
        for name, seconds in part["seconds"].items():
            stages[f"county:{name}"] = stages.get(f"county:{name}", 0.0) + seconds
    return stages


def _save(key: str, record: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[key] = record
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


def run_province(sizes: list[int], fmt: str, workers: int, engine: str, master: str | None) -> None:
    for households in sizes:
        config = province_data(households, fmt, workers)
        output = DATA / f"out-province-{households}-{fmt}-{engine}"
        cmd = [_reconcile(), "run", str(config), "--output", str(output), "--json", "--engine", engine]
        if engine == "local":
            cmd += ["--workers", str(workers)]
        if master:
            cmd += ["--master", master]
        result = measure(cmd)
        summary = result["summary"]
        record = {"households": households, "format": fmt, "engine": engine, "workers": workers,
                  "counties": len(summary.get("partitions", [])) or 1, "wall": round(result["wall"], 2),
                  "peak_mib": round(result["peak_mib"]), "peak_tree_mib": round(result["peak_tree_mib"]),
                  "stages": {k: round(v, 2) for k, v in _stages(summary).items()},
                  "findings": summary["findings"], "input_issues": summary["input_issues"],
                  "load_average_before": result["load_before"], "machine": machine(), "command": " ".join(["python benchmarks/scale.py province", "--households",
                                                             str(households), "--format", fmt, "--engine", engine])}
        _save(f"province-{households}-{fmt}-{engine}", record)
        print(json.dumps(record, ensure_ascii=False, indent=1))


def run_county(households: int, fmt: str) -> None:
    config = county_data(households, fmt)
    output = DATA / f"out-county-{households}-{fmt}"
    result = measure([_reconcile(), "run", str(config), "--output", str(output), "--json"])
    summary = result["summary"]
    record = {"households": households, "format": fmt, "engine": "local", "wall": round(result["wall"], 2),
              "peak_mib": round(result["peak_mib"]), "stages": {k: round(v, 2) for k, v in summary["seconds"].items()},
              "findings": summary["findings"], "input_issues": summary["input_issues"], "machine": machine(),
              "command": f"python benchmarks/scale.py county --households {households} --format {fmt}"}
    _save(f"county-{households}-{fmt}-k1", record)
    print(json.dumps(record, ensure_ascii=False, indent=1))


def run_spark(counties: int, households: int, master: str) -> None:
    """The same province by the local engine and by Spark: seconds, and whether the findings are the same."""
    import polars as pl

    from reconcile_synth.province import generate_province

    config = province_data(counties * households, "csv", 2) if households == COUNTY_SIZE else \
        generate_province(DATA / f"spark-{counties}x{households}", counties=counties,
                          households_per_county=households, seed=3, fmt="csv", workers=2)
    outputs, record = {}, {"counties": counties, "households": counties * households, "master": master,
                           "machine": machine(),
                           "command": f"python benchmarks/scale.py spark --counties {counties} --households "
                                      f"{households} --master {master}"}
    for engine in ("local", "spark"):
        outputs[engine] = DATA / f"out-spark-{counties}x{households}-{engine}"
        cmd = [_reconcile(), "run", str(config), "--output", str(outputs[engine]), "--json", "--engine", engine]
        cmd += ["--master", master] if engine == "spark" else ["--workers", "2"]
        result = measure(cmd)
        record[engine] = {"wall": round(result["wall"], 2), "peak_mib": round(result["peak_mib"]),
                          "peak_tree_mib": round(result["peak_tree_mib"]),
                          "stages": {k: round(v, 2) for k, v in _stages(result["summary"]).items()}}
    ids = {e: set(pl.read_parquet(o / "findings.parquet")["finding_id"].to_list()) for e, o in outputs.items()}
    record["same_findings"] = ids["local"] == ids["spark"]
    record["findings"] = len(ids["local"])
    _save(f"spark-{counties}x{households}-{master}", record)
    print(json.dumps(record, ensure_ascii=False, indent=1))


def chart() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(RESULTS.read_text())
    rows = sorted((r for k, r in results.items() if k.startswith("province-") and r["engine"] == "local"),
                  key=lambda r: r["households"])
    if not rows:
        raise SystemExit("no province results yet: run `python benchmarks/scale.py province` first")
    sizes = [r["households"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(sizes, [r["wall"] for r in rows], "o-", label="measured wall time")
    per_household = rows[0]["wall"] / rows[0]["households"]
    left.plot(sizes, [per_household * s for s in sizes], "--", color="grey", label="linear from the smallest")
    left.axhline(600, color="red", lw=0.8, ls=":", label="target at 1M: 600 s")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("registered households")
    left.set_ylabel("seconds (end to end, reports included)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    right.plot(sizes, [r["peak_tree_mib"] / 1024 for r in rows], "o-", label="peak RSS, whole process tree")
    right.plot(sizes, [r["peak_mib"] / 1024 for r in rows], "s--", label="peak RSS, largest process")
    right.axhline(12, color="red", lw=0.8, ls=":", label="limit: 12 GiB")
    right.set_xscale("log")
    right.set_xlabel("registered households")
    right.set_ylabel("GiB")
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.suptitle(f"reconcile run, province of 20,000-household counties ({rows[0]['format']}); {rows[0]['machine']}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)
    print(f"wrote {CHART}")


STAGE_ORDER = ["county:load", "county:validate", "county:normalize", "county:link", "county:check", "county:export",
               "counties", "merge", "province", "province_rules", "ledger", "report"]


def markdown() -> None:
    """The recorded results as Markdown tables for benchmarks/RESULTS.md."""
    results = json.loads(RESULTS.read_text())
    provinces = sorted((r for k, r in results.items() if k.startswith("province-")),
                       key=lambda r: (r["engine"], r["format"], r["households"]))
    if provinces:
        print("| households | counties | format | engine | " + " | ".join(STAGE_ORDER) +
              " | wall s | peak MiB (largest process) | peak MiB (process tree) | findings |")
        print("|" + "---|" * (len(STAGE_ORDER) + 8))
        for r in provinces:
            cells = [f"{r['stages'][s]:.1f}" if s in r["stages"] else "–" for s in STAGE_ORDER]
            print(f"| {r['households']:,} | {r['counties']} | {r['format']} | {r['engine']} | " + " | ".join(cells) +
                  f" | **{r['wall']:.0f}** | {r['peak_mib']:,} | {r['peak_tree_mib']:,} | {r['findings']:,} |")
        print("\n(county:* = seconds summed over the counties, i.e. worker seconds; the other stages are wall seconds "
              "of the parent process.)\n")
    for key, r in sorted(results.items()):
        if key.startswith("county-"):
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            print(f"- `{r['command']}`: **{r['wall']:.1f} s** wall, peak {r['peak_mib']:,} MiB; {stages}; "
                  f"{r['findings']:,} findings")
        if key.startswith("spark-"):
            print(f"- `{r['command']}`: local engine {r['local']['wall']:.1f} s (peak tree {r['local']['peak_tree_mib']:,} MiB), "
                  f"Spark {r['master']} {r['spark']['wall']:.1f} s (peak tree {r['spark']['peak_tree_mib']:,} MiB); "
                  f"same findings: {r['same_findings']} ({r['findings']:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("province")
    p.add_argument("--households", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    p.add_argument("--format", default="csv", choices=["csv", "parquet"])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--engine", default="local", choices=["local", "spark"])
    p.add_argument("--master", default=None)
    c = sub.add_parser("county")
    c.add_argument("--households", type=int, default=50_000)
    c.add_argument("--format", default="xlsx", choices=["xlsx", "csv", "parquet"])
    s = sub.add_parser("spark")
    s.add_argument("--counties", type=int, default=3)
    s.add_argument("--households", type=int, default=20_000)
    s.add_argument("--master", default="local[2]")
    sub.add_parser("chart")
    sub.add_parser("markdown")
    args = parser.parse_args()
    if args.what == "province":
        run_province(args.households, args.format, args.workers, args.engine, args.master)
    elif args.what == "county":
        run_county(args.households, args.format)
    elif args.what == "spark":
        run_spark(args.counties, args.households, args.master)
    elif args.what == "markdown":
        markdown()
    else:
        chart()


if __name__ == "__main__":
    main()
