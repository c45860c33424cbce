"""The vectorized mode's points per call: the cache-sized stack fdcheck uses
against fixed stack budgets, on speed.py's functions and sizes.

Each figure is the vectorized mode's time with the stack of one call bounded
at that many bytes (``evaluate.VECTOR_CACHE_BYTES``, at least
``VECTOR_MIN_POINTS`` points where the 4 MB ``CHUNK_BYTES`` allows), as a
ratio to the 4 MB stack it used before: below 1 is faster. The budgets of a
row are interleaved in each round (speed.py's best_of).

    python benchmarks/chunks.py [--sizes 64,256,1024,4096] [--budgets 256,512,1024,4096] [--repeat 5]
"""
from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

import fdcheck
from fdcheck import evaluate
from speed import best_of, problems  # this script's directory is on sys.path

REFERENCE_KB = 4096


def at_budget(f: Callable[..., Any], x: np.ndarray, kb: int) -> Callable[[], None]:
    def run() -> None:
        old = evaluate.VECTOR_CACHE_BYTES
        evaluate.VECTOR_CACHE_BYTES = kb * 1024
        try:
            fdcheck.numeric(f, x, vectorized=True)
        finally:
            evaluate.VECTOR_CACHE_BYTES = old
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024,4096")
    parser.add_argument("--budgets", default="256,512,1024,4096", help="KB per call's stack")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    budgets = sorted({int(b) for b in args.budgets.split(",")} | {REFERENCE_KB})
    used = evaluate.VECTOR_CACHE_BYTES // 1024
    print(f"# vectorized time / time with a {REFERENCE_KB} KB stack; fdcheck uses {used} KB")
    print(f"{'function':24s} {'n':>6s} " + " ".join(f"{str(b) + ' KB':>8s}" for b in budgets)
          + f" {'ms at ' + str(REFERENCE_KB) + ' KB':>14s}")
    for n in (int(s) for s in args.sizes.split(",")):
        for label, f, _, x in problems(n):
            t = best_of({b: at_budget(f, x, b) for b in budgets}, args.repeat)
            ref = t[REFERENCE_KB]
            print(f"{label:24s} {n:6d} " + " ".join(f"{t[b] / ref:8.2f}" for b in budgets)
                  + f" {ref * 1e3:14.2f}", flush=True)


if __name__ == "__main__":
    main()
