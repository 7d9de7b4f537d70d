"""A synthetic province: many independent counties, for scale benchmarks and the distributed engine.

`generate_province` writes `out_dir/<code>_<name>/` for counties 1..N of the simulated province (each a
complete county folder with its reconcile.yaml and truth/, see `reconcile_synth.generate`) and
`out_dir/province.yaml` listing them. County k has its own region codes (place.CountySpec), so no ID
number, 户编号 or 户号 is shared between counties, and its seed is derived from the province seed and k.

Counties are independent: with `workers` > 1 they are generated in separate processes (one county
per process, so memory stays that of one county per worker), and a county whose folder already has a
reconcile.yaml — written last, atomically — is skipped, so an interrupted run resumes.

    python -m reconcile_synth.province --counties 50 --households 20000 --seed 1 --out DIR --format csv --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import CORRUPTION_LEVELS, generate
from .place import MAX_INDEX, CountySpec
from .specs import FORMATS

PROVINCE_NAME = "模拟省"


def county_seed(seed: int, index: int) -> int:
    """The seed of county `index` of the province generated with `seed` (stable across Python versions)."""
    digest = hashlib.sha256(f"province:{seed}:county:{index}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def county_specs(counties: int) -> list[CountySpec]:
    if not 1 <= counties <= MAX_INDEX:
        raise ValueError(f"counties must be 1..{MAX_INDEX}, got {counties}")
    return [CountySpec.of(k) for k in range(1, counties + 1)]


def _one(folder: str, index: int, households: int, seed: int, corruption: str, year: int, fmt: str) -> tuple[int, float]:
    started = time.perf_counter()
    generate(Path(folder), households=households, seed=seed, corruption=corruption, year=year,
             county=CountySpec.of(index), fmt=fmt)
    return index, time.perf_counter() - started


def province_yaml(specs: list[CountySpec], year: int) -> str:
    lines = [
        "# 模拟省份:由 reconcile_synth.province 生成",
        f"region: {PROVINCE_NAME}",
        f"year: {year}",
        "province: default",
        "output: out/",
        "counties:",
    ]
    lines += [f"  - {spec.folder}/reconcile.yaml" for spec in specs]
    return "\n".join(lines) + "\n"


def generate_province(out_dir: Path, counties: int, households_per_county: int, seed: int,
                      corruption: str = "low", fmt: str = "csv", workers: int = 1, year: int = 2020,
                      log=None) -> Path:
    """Write `counties` counties of `households_per_county` registered households each under `out_dir`,
    then `out_dir/province.yaml`; returns the path of province.yaml."""
    if corruption not in CORRUPTION_LEVELS:
        raise ValueError(f"corruption must be one of {', '.join(CORRUPTION_LEVELS)}, got {corruption!r}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = county_specs(counties)
    todo = [s for s in specs if not (out_dir / s.folder / "reconcile.yaml").exists()]
    if log and len(todo) < len(specs):
        log(f"{len(specs) - len(todo)} counties already generated, skipped")
    jobs = [(str(out_dir / s.folder), s.index, households_per_county, county_seed(seed, s.index), corruption, year,
             fmt) for s in todo]
    names = {s.index: s.folder for s in specs}

    def done(index: int, seconds: float) -> None:
        if log:
            log(f"{names[index]}: {seconds:.1f}s")

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done(*_one(*job))
    else:
        # spawned workers (a fork can inherit held locks); no max_tasks_per_child, which can deadlock on
        # Python 3.11 (gh-115634)
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_one, *job) for job in jobs]
            for future in as_completed(futures):
                done(*future.result())
    path = out_dir / "province.yaml"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(province_yaml(specs, year), encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reconcile_synth.province", description="生成模拟省份（多个模拟县）及真值")
    ap.add_argument("--counties", type=int, required=True, help=f"县数（1..{MAX_INDEX}）")
    ap.add_argument("--households", type=int, default=400, help="每县建档立卡户数")
    ap.add_argument("--seed", type=int, default=1, help="随机种子（各县种子由它和县序号导出）")
    ap.add_argument("--out", type=Path, required=True, help="输出目录")
    ap.add_argument("--corruption", choices=sorted(CORRUPTION_LEVELS), default="low", help="背景噪声强度")
    ap.add_argument("--format", choices=FORMATS, default="csv", help="文件格式")
    ap.add_argument("--workers", type=int, default=1, help="并行进程数（每进程一次生成一个县）")
    ap.add_argument("--year", type=int, default=2020, help="考核年度")
    args = ap.parse_args(argv)
    if not 1 <= args.counties <= MAX_INDEX:
        ap.error(f"--counties 应在 1..{MAX_INDEX} 之间")
    path = generate_province(args.out, args.counties, args.households, args.seed, args.corruption, args.format,
                             args.workers, args.year, log=lambda text: print(text, file=sys.stderr, flush=True))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
