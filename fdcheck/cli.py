"""The command line: click commands that translate the library's results and
errors into output and exit codes (0 every check passed, 1 a check failed,
2 a case could not be run). Nothing here computes."""
from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import time
from typing import Any

import click

from . import __version__
from .errors import CaseError, FdcheckError
from .options import MAX_TIMEOUT

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
_METHOD = re.compile(r"^(central|forward|backward|richardson|complex-step)(\d)?$")


def _method(value: str | None) -> Any:
    if value is None:
        return None
    m = _METHOD.match(value)
    if not m:
        raise click.BadParameter("expected central, central4, central6, central8, forward, "
                                 "forward2, backward, backward2, richardson or complex-step")
    from .stencils import Method
    try:
        return Method(m.group(1), None if m.group(2) is None else int(m.group(2)))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _finite(param: Any, value: float | None) -> float | None:
    # FloatRange lets nan through: every comparison with it is false.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", param=param)
    return value


def _auto(value: str | None) -> float | None:
    from .tolerances import auto_factor
    try:
        return auto_factor(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tolerance") from None


def _workers(workers: int | None, scheduler: str | None) -> Any:
    from .errors import BackendUnavailable
    from .workers import dask_workers, process_pool
    if scheduler:
        try:
            return dask_workers(scheduler)
        except BackendUnavailable as exc:
            raise click.UsageError(str(exc)) from None
        except (OSError, TimeoutError, ValueError) as exc:
            raise click.UsageError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    if not workers or workers <= 1:
        return None
    # More processes than cores only add their start-up and memory.
    return process_pool(min(workers, os.cpu_count() or 1))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fdcheck")
def main() -> None:
    """Check derivatives of functions of matrices by finite differences.

    \b
    Examples:
      fdcheck run cases/                  check every case file under cases/
      fdcheck run cases/ --format json    the same, as one JSON document
      fdcheck jacobian cases/teaching.yaml --case "linear layer, dZ/dW"
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True, help="Report for people (text), tools (json) or CI systems "
                                      "(junit: JUnit XML).")
@click.option("--atol", type=click.FloatRange(min=0), callback=lambda c, p, v: _finite(p, v),
              help="Absolute tolerance, over every case's own.")
@click.option("--rtol", type=click.FloatRange(min=0), callback=lambda c, p, v: _finite(p, v),
              help="Relative tolerance, over every case's own.")
@click.option("--method", "method", metavar="NAME",
              help="Method over every case's own: central, central4..8, forward, forward2, "
                   "backward, backward2, richardson (error estimate per entry), complex-step.")
@click.option("--tolerance", "tolerance", metavar="auto",
              help="auto: fail an entry only beyond 10x the engine's own error estimate "
                   "(a number: that multiple) plus a floor. --atol/--rtol take precedence.")
@click.option("--no-refine", is_flag=True,
              help="Do not derive mismatched columns again by Richardson extrapolation "
                   "before calling them wrong.")
@click.option("--refine-all", is_flag=True,
              help="Derive every mismatched column again, even where the furthest few "
                   "already confirm a mismatch far beyond any error estimate.")
@click.option("--step", type=click.FloatRange(min=0, min_open=True),
              callback=lambda c, p, v: _finite(p, v),
              help="Relative step h = STEP * max(1, |x|), over the cases'.")
@click.option("-k", "--case", "select", metavar="TEXT",
              help="Run only the cases whose name contains TEXT.")
@click.option("--allow-python", is_flag=True,
              help="Allow {python: module:callable} references (importing them runs code).")
@click.option("--mode", type=click.Choice(["auto", "serial", "vectorized"]), default="auto",
              show_default=True, help="Evaluate points one by one or many per call.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Evaluate on a pool of N processes (at most one per core).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=MAX_TIMEOUT),
              metavar="SECONDS",
              callback=lambda c, p, v: _finite(p, v),
              help="A case that runs longer is a case error; the others still run.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Evaluate on a Dask cluster (tcp://host:8786); needs the dask extra.")
@click.option("--save", "save", metavar="DIR", type=click.Path(file_okay=False),
              help="Write every check's numeric and reference matrices (.npz, with labels).")
@click.option("--plot", "plot", metavar="DIR", type=click.Path(file_okay=False),
              help="Write a PNG heatmap per failing check (needs the plot extra).")
@click.option("--plot-all", is_flag=True, help="With --plot: a heatmap of every check.")
@click.option("--locate/--no-locate", default=None,
              help="Check each custom rule (a torch Function, a JAX custom_vjp) a function "
                   "calls on its own, in call order; by default where a check of the whole "
                   "fails.")
@click.option("--explore", type=click.IntRange(min=1, max=100_000), metavar="N",
              help="For each case with an explore: key, draw N inputs, run every check at "
                   "each, and shrink the first failure to its smallest case (needs the "
                   "explore extra).")
@click.option("--explore-seed", type=int, default=0, show_default=True, metavar="S",
              help="The seed of --explore's draws.")
@click.option("--explore-dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Write a shrunk failure's case file here (default: beside its case file).")
@click.option("-v", "--verbose", is_flag=True,
              help="Show every check, not only failures, and the files skipped in folders.")
def run(paths: tuple[str, ...], fmt: str, atol: float | None, rtol: float | None,
        method: str | None, tolerance: str | None, no_refine: bool, refine_all: bool,
        step: float | None,
        select: str | None, allow_python: bool, mode: str, workers: int | None,
        scheduler: str | None, timeout: float | None, save: str | None, plot: str | None,
        plot_all: bool, locate: bool | None, explore: int | None, explore_seed: int,
        explore_dir: str | None, verbose: bool) -> None:
    """Check every case in PATHS (files, or folders searched for *.yaml / *.yml).

    Every case runs, whatever happens to the others. Exit status: 0 when every
    check passed, 1 when a check failed, 2 when a case could not be run.

    \b
    Examples:
      fdcheck run cases/
      fdcheck run cases/teaching.yaml -k "linear layer" -v
      fdcheck run cases/ --format json --atol 1e-8
      fdcheck run cases/ --method richardson --tolerance auto
      fdcheck run cases/ --workers 2
      fdcheck run cases/ --scheduler tcp://scheduler:8786
      fdcheck run cases/ --format junit > results.xml
      fdcheck run cases/ --plot heatmaps/ --save matrices/
      fdcheck run cases/matrix_functions.yaml --allow-python --explore 200
    """
    from . import report
    from .runner import RunOptions, run_paths

    pool = _workers(workers, scheduler)
    progress = report.ProgressLine() if fmt == "text" and sys.stderr.isatty() else None
    refine: bool | str = False if no_refine else "all" if refine_all else True
    options = RunOptions(atol=atol, rtol=rtol, auto=_auto(tolerance), refine=refine,
                         method=_method(method), step=step,
                         allow_python=allow_python, mode=mode,
                         executor=None if pool is None else pool.executor,
                         workers=None if pool is None else pool.count, progress=progress,
                         timeout=timeout, explore=explore or 0, explore_seed=explore_seed,
                         explore_dir=explore_dir, locate=locate)
    if plot is not None:
        _need_matplotlib()
    chooser = (lambda c: select in c.name) if select else None
    start = time.perf_counter()
    results = []
    skipped: list[Any] = []
    interrupted = False
    # What user code prints goes to standard error, so that a JSON or XML
    # document on standard output stays one document.
    quiet = contextlib.redirect_stdout(sys.stderr) if fmt != "text" else contextlib.nullcontext()
    try:
        with quiet:
            for result in run_paths(list(paths), options, chooser, skipped):
                results.append(result)
                if fmt == "text":
                    click.echo(report.case_text(result, verbose))
    except KeyboardInterrupt:
        interrupted = True
        click.echo(f"interrupted: {len(results)} case(s) finished", err=True)
    finally:
        if pool is not None:
            pool.close(not interrupted)  # after Ctrl-C, queued work is dropped, not waited for
    if verbose:
        for path in skipped:
            click.echo(f"skipped {path}: not a case file", err=True)
    if not results and not interrupted:
        what = f"no case matches -k {select!r}" if select else "no case files found"
        click.echo(f"{what} in {', '.join(paths)}", err=True)
    _finish(results, fmt, time.perf_counter() - start, interrupted, save, plot, plot_all)


def _finish(results: list[Any], fmt: str, seconds: float, interrupted: bool, save: str | None,
            plot: str | None, plot_all: bool) -> None:
    """The report, whole, then the side files (one that cannot be written
    loses nothing of the report), then the exit status."""
    from . import report
    if fmt == "json":
        click.echo(report.results_json(results))
    elif fmt == "junit":
        click.echo(report.results_junit(results))
    else:
        click.echo(report.summary_text(results, seconds))
    _, failed = report.write_files(results, save, plot, plot_all)
    for line in failed:
        click.echo(line, err=True)
    code = EXIT_INTERRUPTED if interrupted else _exit_code(results)
    sys.exit(EXIT_ERROR if failed and code in (EXIT_OK, EXIT_FAILED) else code)


def _need_matplotlib() -> None:
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError("--plot needs matplotlib: pip install 'fdcheck[plot]'")


def _exit_code(results: list[Any]) -> int:
    if any(r.status == "error" for r in results) or not results:
        return EXIT_ERROR
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


@main.command()
@click.argument("file", type=click.Path())
@click.option("--case", "name", metavar="TEXT",
              help="The cases whose name contains TEXT (default: every case of FILE).")
@click.option("--digits", type=click.IntRange(1, 17), default=6, show_default=True,
              help="Significant digits (1 to 17).")
@click.option("--allow-python", is_flag=True, help="Allow {python: ...} references.")
def jacobian(file: str, name: str | None, digits: int, allow_python: bool) -> None:
    """Print the numeric Jacobian of the cases in FILE, rows and columns
    labelled by element (z11, z12, ... / w11, w12, ...), in the case's order.

    \b
    Example:
      fdcheck jacobian cases/teaching.yaml --case "linear layer, dZ/dW"
    """
    import numpy as np

    from . import report, structure
    from .casefile import load_file
    from .runner import RunOptions, case_jacobians

    items = load_file(file)
    # --case matches as run -k does, the cases whose name contains it; a case
    # named exactly so is the only one chosen.
    def label(c: Any) -> str:
        return str((c.case if isinstance(c, CaseError) else getattr(c, "name", None)) or "")
    exact = [c for c in items if name is not None and label(c) == name]
    chosen = exact or [c for c in items if name is None or name in label(c)]
    if name is not None and not chosen:
        names = ", ".join(repr(c.name) for c in items if not isinstance(c, CaseError))
        click.echo(f"{file}: no case name contains {name!r}; cases: {names}", err=True)
        sys.exit(EXIT_ERROR)
    code = EXIT_OK
    for item in chosen:
        if isinstance(item, CaseError):
            click.echo(str(item), err=True)
            code = EXIT_ERROR
            continue
        try:
            results = case_jacobians(item, RunOptions(allow_python=allow_python))
        except FdcheckError as exc:
            click.echo(str(exc), err=True)
            code = EXIT_ERROR
            continue
        for wrt, res in results.items():
            order = "row-major" if res.order == "C" else "column-major"
            click.echo(f"{item.name}: d{item.output}/d{wrt}, {res.jacobian.shape[0]} x "
                       f"{res.jacobian.shape[1]}, {order}, {res.method.label}, "
                       f"{res.evaluations} evaluations")
            kind = item.structure.get(wrt)
            labels = None if kind is None else structure.coordinate_labels(
                kind, np.shape(item.inputs[wrt]), wrt)
            click.echo(report.jacobian_table(res.jacobian, item.output, res.out_shape, wrt,
                                             res.in_shape, res.order, digits, labels))
            click.echo("")
    sys.exit(code)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the schema to this file instead of standard output.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of a case file, for editors that complete and
    check YAML keys as you type (the same declaration fdcheck validates with).

    \b
    Example:
      fdcheck schema -o fdcheck-schema.json
    and, as the first line of a case file (VS Code's YAML extension and other
    editors built on yaml-language-server read it):
      # yaml-language-server: $schema=fdcheck-schema.json
    """
    import json

    from .schema import json_schema
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        click.echo(f"fdcheck: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_ERROR)


def entry() -> None:
    """The ``fdcheck`` command: :func:`main`, with a report that cannot be
    written (a full disk, a closed pipe) said in one line instead of a traceback."""
    try:
        main(prog_name="fdcheck")
    except OSError as exc:
        try:
            sys.stderr.write(f"fdcheck: cannot write the report: {exc.strerror or exc}\n")
        except OSError:
            pass
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    entry()
