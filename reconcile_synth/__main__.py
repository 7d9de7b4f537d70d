"""python -m reconcile_synth --households N --seed S --out DIR [--corruption low|medium|high]
[--format xlsx|csv|parquet] [--county-index K]"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CORRUPTION_LEVELS, CountySpec, generate
from .place import MAX_INDEX
from .specs import FORMATS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reconcile_synth", description="生成模拟县数据及真值")
    ap.add_argument("--households", type=int, default=400, help="建档立卡户数")
    ap.add_argument("--seed", type=int, default=1, help="随机种子（同一种子输出相同）")
    ap.add_argument("--out", type=Path, required=True, help="输出目录")
    ap.add_argument("--corruption", choices=sorted(CORRUPTION_LEVELS), default="low", help="背景噪声强度")
    ap.add_argument("--year", type=int, default=2020, help="考核年度")
    ap.add_argument("--problem-share", type=float, default=0.35, help="注入问题的户占比")
    ap.add_argument("--format", choices=FORMATS, default="xlsx",
                    help="xlsx: 系统导出和手册为 xlsx（默认）；csv: 也写成 CSV；parquet: 全部文件为 Parquet")
    ap.add_argument("--county-index", type=int, default=0, metavar="K",
                    help=f"0: 示例县湘阴县（默认）；1..{MAX_INDEX}: 模拟省第 K 个县（独有的行政区划代码）")
    args = ap.parse_args(argv)
    if not 0 <= args.county_index <= MAX_INDEX:
        ap.error(f"--county-index 应在 0..{MAX_INDEX} 之间")
    path = generate(args.out, households=args.households, seed=args.seed, corruption=args.corruption,
                    year=args.year, problem_share=args.problem_share, county=CountySpec.of(args.county_index),
                    fmt=args.format)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
