"""Mutation testing of the modules that decide verdicts: does some test fail
when a rule changes?

    python benchmarks/mutate.py [--per-module N] [--seed S] [--modules compare verify ...]
                                [--suite module|fast]

Each mutant changes one place of one module's syntax tree: an arithmetic
operator swapped (+ -, * /), a comparison flipped (< <=, > >=, == !=), a
number scaled by 10, ``and``/``or`` swapped, a ``not`` dropped, a statement
deleted. ``--per-module`` mutants are drawn (seeded) per module; each is
written into a copy of the package and the module's own tests are run
against it (``--suite fast``: every test but the slow ones). A mutant is
killed when a test fails (or the run passes its time); it survives when every
test passes. The table gives the score per module; the survivors follow, each
with its line and change, to be read: some are equivalent (they change
nothing a result can show), the others want a test.
"""
from __future__ import annotations

import argparse
import ast
import copy
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {  # module -> its own tests
    "compare": ["tests/test_compare.py"],
    "verify": ["tests/test_verify.py", "tests/test_trust.py"],
    "diagnose": ["tests/test_diagnose.py"],
    "expr": ["tests/test_expr.py"],
    "stencils": ["tests/test_stencils.py", "tests/test_engine.py"],
    "step": ["tests/test_step.py", "tests/test_engine.py"],
}
FAST = ["tests", "--ignore=tests/test_pool.py", "--ignore=tests/test_fuzz.py",
        "--ignore=tests/backends"]

SWAPS: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div,
                           ast.Div: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
                           ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                           ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int      # the index of the node in the module's walk
    kind: str
    line: int
    what: str


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def sites(module: str, tree: ast.AST) -> list[Mutant]:
    """Every place of ``tree`` a mutant can change."""
    skip = _docstring_ids(tree)
    out = []
    for k, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            out.append(Mutant(module, k, "operator", line,
                              f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            out.append(Mutant(module, k, "compare", line,
                              f"{type(node.ops[0]).__name__} -> "
                              f"{SWAPS[type(node.ops[0])].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append(Mutant(module, k, "boolean", line, f"{type(node.op).__name__} swapped"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append(Mutant(module, k, "not", line, "not dropped"))
        elif isinstance(node, ast.Constant) and id(node) not in skip \
                and isinstance(node.value, (int, float)) and not isinstance(node.value, bool) \
                and node.value not in (0, 1, -1):
            out.append(Mutant(module, k, "constant", line, f"{node.value!r} x 10"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr, ast.Return, ast.If)) \
                and not (isinstance(node, ast.Expr) and id(getattr(node, "value", None)) in skip):
            out.append(Mutant(module, k, "delete", line, f"{type(node).__name__} deleted"))
    return out


def apply(tree: ast.AST, mutant: Mutant) -> ast.AST:
    """A copy of ``tree`` with ``mutant`` made."""
    new = copy.deepcopy(tree)
    node = list(ast.walk(new))[mutant.index]
    if mutant.kind == "operator":
        node.op = SWAPS[type(node.op)]()
    elif mutant.kind == "compare":
        node.ops[0] = SWAPS[type(node.ops[0])]()
    elif mutant.kind == "boolean":
        node.op = SWAPS[type(node.op)]()
    elif mutant.kind == "constant":
        node.value = node.value * 10
    elif mutant.kind in ("not", "delete"):
        done = False
        for parent in ast.walk(new):
            for field, value in ast.iter_fields(parent):
                if done:
                    break
                if isinstance(value, list) and any(v is node for v in value):
                    k = next(i for i, v in enumerate(value) if v is node)
                    value[k] = node.operand if mutant.kind == "not" else ast.Pass()
                    done = True
                elif mutant.kind == "not" and value is node:
                    setattr(parent, field, node.operand)
                    done = True
    return ast.fix_missing_locations(new)


def run(tests: list[str], copy_root: Path, seconds: float) -> bool:
    """Whether the tests pass in the copy of the project at ``copy_root``
    (run from there, so that its package is the one imported)."""
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                              *tests], cwd=copy_root, capture_output=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modules", nargs="*", default=list(MODULES))
    parser.add_argument("--suite", choices=["module", "fast"], default="module")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, survivors = [], []
    with tempfile.TemporaryDirectory() as tmp:
        copy_root = Path(tmp) / "project"
        shutil.copytree(ROOT, copy_root, ignore=shutil.ignore_patterns(
            "__pycache__", ".git", ".venv", ".mypy_cache", ".hypothesis", "*.egg-info"))
        package = copy_root / "fdcheck"
        check = subprocess.run([sys.executable, "-c", "import fdcheck; print(fdcheck.__file__)"],
                               cwd=copy_root, capture_output=True, text=True)
        assert check.stdout.strip().startswith(str(package)), "the copy is not the one imported"
        for module in args.modules:
            source = (ROOT / "fdcheck" / f"{module}.py").read_text()
            tree = ast.parse(source)
            every = sites(module, tree)
            chosen = random.Random(f"{args.seed}-{module}").sample(
                every, min(args.per_module, len(every)))
            tests = MODULES[module] if args.suite == "module" else FAST
            baseline = time.perf_counter()
            assert run(tests, copy_root, 600), f"the tests of {module} fail unmutated"
            limit = 10 * (time.perf_counter() - baseline) + 10
            killed = 0
            same = ast.unparse(tree)
            for mutant in chosen:
                try:
                    text = ast.unparse(apply(tree, mutant))
                except Exception:  # a change that makes no program: killed by construction
                    killed += 1
                    continue
                if text == same:
                    raise AssertionError(f"{mutant} changes nothing: a bug of this script")
                (package / f"{module}.py").write_text(text)
                if run(tests, copy_root, limit):
                    survivors.append(mutant)
                else:
                    killed += 1
            (package / f"{module}.py").write_text(source)
            rows.append((module, len(every), len(chosen), killed))
            print(f"{module}: {killed}/{len(chosen)}", file=sys.stderr, flush=True)
    print(f"# {time.strftime('%Y-%m-%d')}; {args.per_module} mutants a module (seed {args.seed}),"
          f" {args.suite} tests; {time.perf_counter() - start:.0f} s")
    print(f"{'module':12} {'sites':>6} {'mutants':>8} {'killed':>7} {'score':>7}")
    for module, every, chosen, killed in rows:
        print(f"{module:12} {every:>6} {chosen:>8} {killed:>7} {killed / max(chosen, 1):>7.0%}")
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  fdcheck/{m.module}.py:{m.line}: {m.what}")


if __name__ == "__main__":
    main()
