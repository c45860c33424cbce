"""Side files: each check's matrices (``--save``) and heatmaps (``--plot``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..compare import Comparison, Matrices
from ..layout import as_order, element_labels
from .common import NAMES, _one_line, check_title


def check_slug(r: Any, index: int, c: Comparison) -> str:
    """A file name for one check of one case: ``case-name.2.analytic-dZ-dW``."""
    title = check_title(c)
    raw = f"{r.name or 'case'}.{index}.{title}"
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in raw).strip("-")[:150]


def _matrices(c: Comparison) -> Matrices:
    if c.matrices is None:
        raise ValueError(f"the check {check_title(c)} keeps no matrices")
    return c.matrices


SMALL_CELLS = 144    # up to 12 x 12: the values themselves are drawn beside the map


def _labels(c: Comparison) -> tuple[list[str], list[str]]:
    mat = _matrices(c)
    rows = element_labels(c.out_name if c.derivative == 1 else str(c.of or c.wrt),
                          mat.out_shape, mat.order)
    cols = element_labels(str(c.wrt), mat.in_shape, mat.order) if mat.in_shape is not None else []
    return rows, cols


def save_check(path: Any, c: Comparison) -> None:
    """The matrices of a check as ``.npz``: numeric, reference, bound, estimate
    (where the method gives one), unreliable, and the row and column labels."""
    mat = _matrices(c)
    rows, cols = _labels(c)
    arrays: dict[str, Any] = {"numeric": mat.numeric, "reference": mat.reference, "bound": mat.bound,
              "unreliable": mat.unreliable, "row_labels": np.array(rows, dtype=str),
              "column_labels": np.array(cols, dtype=str)}
    if mat.estimate is not None:
        arrays["estimate"] = mat.estimate
    np.savez(path, **arrays)


def _grid(c: Comparison, ratio: np.ndarray) -> tuple[np.ndarray, list[str], list[str],
                                                      tuple[int, int] | None]:
    """What is drawn: the (m, n) map with its row and column labels, or, for
    a gradient of a matrix (one output), the map in the input's own shape
    with the worst entry's place in it."""
    mat = _matrices(c)
    rows, cols = _labels(c)
    worst = c.worst
    if ratio.shape[0] == 1 and mat.in_shape is not None and len(mat.in_shape) == 2:
        grid = ratio[0].reshape(mat.in_shape, order=as_order(mat.order))
        place = None
        if worst is not None and worst.input is not None and len(worst.input) == 2:
            place = (int(worst.input[0]), int(worst.input[1]))
        return (grid, [f"{c.wrt} row {i + 1}" for i in range(grid.shape[0])],
                [f"col {j + 1}" for j in range(grid.shape[1])], place)
    spot = None
    if worst is not None and worst.input is not None and mat.in_shape is not None:
        order = as_order(mat.order)
        r = int(np.ravel_multi_index(worst.output, mat.out_shape, order=order)) \
            if worst.output else 0
        k = int(np.ravel_multi_index(worst.input, mat.in_shape, order=order)) if worst.input else 0
        spot = (r, k)
    return ratio, rows, cols, spot


def plot_check(c: Comparison, ax: Any = None) -> Any:
    """A heatmap of |numeric - reference| / bound: rows the outputs, columns the
    input elements (labels thinned to about 20 a side), a gradient of a matrix
    in the matrix's own shape; the worst entry circled, the verdict and the
    first diagnosis in the title. The palette (blue agrees, red fails) is read
    by colour-blind readers too. Where the map has at most SMALL_CELLS cells
    (and no ``ax`` is given), the numeric and reference matrices are drawn
    beside it, each value written; the map is the figure's last axes.

    Raises
    ------
    ImportError
        Without matplotlib, naming the ``plot`` extra.
    """
    try:
        import matplotlib
        if ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'fdcheck[plot]'") from None
    mat = _matrices(c)
    num, ref = np.atleast_2d(mat.numeric), np.atleast_2d(mat.reference)
    with np.errstate(all="ignore"):
        ratio = np.abs(num - ref) / np.where(mat.bound > 0, np.atleast_2d(mat.bound), np.nan)
    ratio, rows, cols, spot = _grid(c, ratio)
    values: list[tuple[str, np.ndarray]] = []
    if ax is None and ratio.size <= SMALL_CELLS:
        # Small enough to read: the numeric and reference matrices beside the map.
        values = [("numeric", _grid(c, num)[0]),
                  (NAMES.get(c.against, c.against), _grid(c, ref)[0])]
    if ax is None:
        width = min(12, 3.5 + 0.4 * ratio.shape[1]) * (1 + 0.8 * len(values))
        fig, axes = plt.subplots(1, 1 + len(values), figsize=(
            width, min(10, 2.5 + 0.4 * ratio.shape[0])), layout="constrained", squeeze=False)
        ax = axes[0, -1]
        _values(fig, axes[0, :-1], values, rows, cols)
    else:
        fig = ax.figure
    shown = np.log10(np.clip(np.nan_to_num(ratio, nan=1e3, posinf=1e3), 1e-3, 1e3))
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-3, vmax=3, aspect="auto",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="log10 |error| / bound\n(> 0 fails)")
    for labels, axis, size in ((rows, "y", ratio.shape[0]), (cols, "x", ratio.shape[1])):
        if labels:
            step = max(1, size // 20)
            ticks = list(range(0, size, step))
            getattr(ax, f"set_{axis}ticks")(ticks)
            getattr(ax, f"set_{axis}ticklabels")([labels[t] for t in ticks],
                                                 rotation=90 if axis == "x" else 0, fontsize=8)
    if spot is not None:
        ax.plot([spot[1]], [spot[0]], marker="o", markersize=14, markerfacecolor="none",
                markeredgecolor="black", markeredgewidth=2)
    title = f"{'PASS' if c.passed else 'FAIL'} {check_title(c)}"
    if c.diagnosis:
        title += "\n" + c.diagnosis[0].message
    ax.set_title(title, fontsize=9, wrap=True)
    return fig


def _values(fig: Any, axes: Any, values: list[tuple[str, np.ndarray]], rows: list[str],
            cols: list[str]) -> None:
    """The numeric and reference matrices, on one symmetric scale, each cell written."""
    if not values:
        return
    finite = [np.abs(v[np.isfinite(v)]) for _, v in values]
    top = max([float(f.max()) for f in finite if f.size] + [1e-300])
    for ax, (name, grid) in zip(axes, values):
        image = ax.imshow(grid, cmap="PuOr_r", vmin=-top, vmax=top, aspect="auto",
                          interpolation="nearest")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(grid.shape[1]), [cols[j] if j < len(cols) else str(j)
                                             for j in range(grid.shape[1])],
                      rotation=90, fontsize=8)
        ax.set_yticks(range(grid.shape[0]), [rows[i] if i < len(rows) else str(i)
                                             for i in range(grid.shape[0])], fontsize=8)
    fig.colorbar(image, ax=list(axes), label="value", location="left")


def _unique(slug: str, used: set[str]) -> str:
    """``slug``, or ``slug-2``, ``slug-3``... where a file of that name was
    written already (the same case name in two files, ``a/b`` and ``a-b``)."""
    name, k = slug, 1
    while name.lower() in used:  # case-insensitive file systems too
        k += 1
        name = f"{slug}-{k}"
    used.add(name.lower())
    return name


def write_files(results: Sequence[Any], save: Any = None, plot: Any = None,
                plot_all: bool = False) -> tuple[list[str], list[str]]:
    """``--save DIR``: every check's matrices; ``--plot DIR``: a PNG per failing
    check (every check with ``plot_all``). Each file has a name of its own. A
    file that cannot be written is said, and the others are still written.

    Returns
    -------
    written : list of str
        The paths written.
    failed : list of str
        One line per file that could not be written, and why.
    """
    from pathlib import Path
    written: list[str] = []
    failed: list[str] = []
    used: set[str] = set()
    for r in results:
        for index, c in enumerate(r.checks):
            if c.matrices is None:
                continue
            slug = _unique(check_slug(r, index, c), used)
            jobs = []
            if save is not None:
                jobs.append((Path(save) / f"{slug}.npz", lambda path, c=c: save_check(path, c)))
            if plot is not None and (plot_all or not c.passed) and c.matrices.numeric.ndim == 2:
                jobs.append((Path(plot) / f"{slug}.png", lambda path, c=c: _save_plot(path, c)))
            for path, write in jobs:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write(path)
                    written.append(str(path))
                except Exception as exc:  # a disk, a name, a plotting backend: say it, go on
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                    failed.append(f"cannot write {_one_line(path)}: {type(exc).__name__}: {why}")
    return written, failed


def _save_plot(path: Any, c: Comparison) -> None:
    import matplotlib.pyplot as plt
    fig = plot_check(c)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
