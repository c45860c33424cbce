"""--explore on planted mistakes: does it find, within N draws, a mistake that
holds only for non-square inputs and one that holds only for ill-conditioned
ones, and to what does it shrink them?

    python benchmarks/explore.py [--draws 200] [--seeds 20]

Two gradients written as people write them: a column mean's gradient dividing
by the number of rows (right for every square input, and at the written 2x2
point), and log|det X|'s gradient through inv(X + 1e-6 I) (right unless X is
ill-conditioned). Each is explored with seeds 0..S-1; the table gives how many
seeds found it, at which draw (median and worst), the shapes and condition
numbers it was shrunk to, and the time of one exploration. Right gradients are
explored too: no seed may find a failure there.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import fdcheck

PLANTED = '''import numpy as np


def mean_cols(X):
    return np.sum(X) / X.shape[1]


def grad_mean_cols(X):
    return np.ones_like(X) / X.shape[1]


def grad_mean_rows(X):
    return np.ones_like(X) / X.shape[0]


def logdet(X):
    return np.linalg.slogdet(X)[1]


def grad_logdet(X):
    return np.linalg.inv(X).T


def grad_logdet_regularized(X):
    return np.linalg.inv(X + 1e-6 * np.eye(len(X))).T
'''

CASE = '''- name: {name}
  inputs: {{X: {point}}}
  function: {{python: "planted:{f}"}}
  expect: {{gradient: {{python: "planted:{grad}"}}}}
  explore:
    dims: {{m: [1, 5], n: [1, 5]}}
    inputs: {{X: {{shape: {shape}, condition: [1, 1e10]}}}}
'''

ROWS = [  # label, function, gradient, shape, mistake planted
    ("column mean, rows for columns", "mean_cols", "grad_mean_rows", "[m, n]", True),
    ("log|det|, inv(X + 1e-6 I)", "logdet", "grad_logdet_regularized", "[n, n]", True),
    ("column mean, right", "mean_cols", "grad_mean_cols", "[m, n]", False),
    ("log|det|, right", "logdet", "grad_logdet", "[n, n]", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "planted.py").write_text(PLANTED)
        sys.path.insert(0, tmp)
        text = "".join(CASE.format(name=label, f=f, grad=g, shape=shape,
                                   point="[[2.0, 0.5], [0.3, 3.0]]")
                       for label, f, g, shape, _ in ROWS)
        (folder / "planted.yaml").write_text(text)
        print(f"# {time.strftime('%Y-%m-%d')}; {args.draws} draws a seed, seeds 0..{args.seeds - 1}")
        print(f"{'case':32} {'planted':>7} {'found':>7} {'draw med':>8} {'worst':>6} "
              f"{'shrunk to':>14} {'condition':>10} {'s med':>6}")
        runs: dict[str, list] = {label: [] for label, *_ in ROWS}
        for seed in range(args.seeds):
            for r in fdcheck.run(str(folder / "planted.yaml"), allow_python=True,
                                 explore=args.draws, explore_seed=seed,
                                 explore_dir=str(folder / "found")):
                runs[r.name].append(r.exploration)
        for label, _, _, _, planted in ROWS:
            found = [e for e in runs[label] if e.failed]
            draws = [e.drawn for e in found]
            shapes = Counter("x".join(map(str, e.shapes["X"])) for e in found)
            conds = [e.conditions.get("X", float("nan")) for e in found]
            seconds = statistics.median(e.seconds for e in runs[label])
            print(f"{label:32} {'yes' if planted else 'no':>7} {len(found):>3}/{len(runs[label]):<3} "
                  f"{statistics.median(draws) if draws else '-':>8} {max(draws) if draws else '-':>6} "
                  f"{', '.join(f'{s} ({k})' for s, k in shapes.most_common(2)) or '-':>14} "
                  f"{f'{min(conds):.3g}-{max(conds):.3g}' if conds else '-':>10} {seconds:>6.2f}")
    print(f"# {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
