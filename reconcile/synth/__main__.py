"""python -m reconcile.synth --households N --seed S --out DIR [--corruption low|medium|high]"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CORRUPTION_LEVELS, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reconcile.synth", description="生成模拟县数据及真值")
    ap.add_argument("--households", type=int, default=400, help="建档立卡户数")
    ap.add_argument("--seed", type=int, default=1, help="随机种子（同一种子输出相同）")
    ap.add_argument("--out", type=Path, required=True, help="输出目录")
    ap.add_argument("--corruption", choices=sorted(CORRUPTION_LEVELS), default="low", help="背景噪声强度")
    ap.add_argument("--year", type=int, default=2020, help="考核年度")
    ap.add_argument("--problem-share", type=float, default=0.35, help="注入问题的户占比")
    args = ap.parse_args(argv)
    path = generate(args.out, households=args.households, seed=args.seed, corruption=args.corruption,
                    year=args.year, problem_share=args.problem_share)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
