"""Peak memory and time of one large failing check: the Jacobian of x ** 2
(diagonal, n x n) against the derivative of x ** 3, so that every column
fails and is refined and probed before it is called wrong.

    python benchmarks/memory.py [n ...]      (default: 1000 3000)

Each n runs in a process of its own, whose peak resident memory is read from
``resource.getrusage``.
"""
from __future__ import annotations

import resource
import subprocess
import sys
import time


def one(n: int) -> None:
    import numpy as np

    import fdcheck
    x = np.linspace(0.1, 2.0, n)
    start = time.perf_counter()
    result = fdcheck.check(lambda x: x ** 2, x, jacobian=np.diag(3 * x))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jac = n * n * 8 / 2 ** 20
    print(f"{n:>6} {jac:>10.0f} {peak:>12.0f} {peak / jac:>8.1f} {seconds:>9.1f}  "
          f"{result.checks[0].verdict}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        one(int(sys.argv[2]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 3000]
    print(f"# {time.strftime('%Y-%m-%d')}; one failing check of a diagonal Jacobian, a process each")
    print(f"{'n':>6} {'J MB':>10} {'peak RSS MB':>12} {'peak/J':>8} {'seconds':>9}  verdict")
    for n in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(n)], check=True)


if __name__ == "__main__":
    main()
