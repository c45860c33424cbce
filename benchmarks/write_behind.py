"""The plain mode with a large Jacobian written behind the calls or in line,
for a function that is itself multi-threaded or not.

From ``engine.WRITE_BEHIND_BYTES`` of result, a second thread differences the
outputs into the Jacobian while the calls go on. A function whose own work
runs on every core (OpenBLAS's product of larger matrices) competes with that
thread. This times, in one process per thread count (OpenBLAS reads its count
when NumPy loads), the floor (2n plain calls), fdcheck written behind and
fdcheck in line, on tanh(A @ W) with A and W p x p, and prints ratios to the
floor: best of the rounds, the three interleaved in each round (speed.py's
floor and timing).

    python benchmarks/write_behind.py [--side 96] [--rounds 4] [--threads 1,2]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys


def measure(side: int, rounds: int) -> dict[str, float]:
    import numpy as np

    import fdcheck
    from fdcheck import engine
    from speed import best_of, floor  # this script's directory is on sys.path

    rng = np.random.default_rng(0)
    A = rng.standard_normal((side, side)) / side
    W = rng.standard_normal((side, side))

    def f(W: np.ndarray) -> np.ndarray:
        return np.tanh(A @ W)

    def plain(threshold: float) -> None:
        engine.WRITE_BEHIND_BYTES = threshold
        fdcheck.numeric(f, W)

    best = best_of({"floor": lambda: floor(f, W), "behind": lambda: plain(0),
                    "in line": lambda: plain(float("inf"))}, rounds)
    return {name: t / best["floor"] for name, t in best.items()} | {"floor s": best["floor"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", default="1,2", help="OpenBLAS thread counts, one process each")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        r = measure(args.side, args.rounds)
        print(f"{os.environ.get('OPENBLAS_NUM_THREADS', '?'):>8s} {r['floor s']:9.2f} "
              f"{r['behind']:7.2f} {r['in line']:8.2f}", flush=True)
        return
    n = args.side * args.side
    print(f"tanh(A @ W), n = {n}, Jacobian {n * n * 8 / 2**20:.0f} MB; ratios to the floor")
    print(f"{'threads':>8s} {'floor s':>9s} {'behind':>7s} {'in line':>8s}", flush=True)
    for count in args.threads.split(","):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=count)
        subprocess.run([sys.executable, __file__, "--child", "--side", str(args.side),
                        "--rounds", str(args.rounds)], env=env, check=True)


if __name__ == "__main__":
    main()
