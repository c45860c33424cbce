"""Mutation testing of the modules that decide verdicts: does some test fail
when a rule changes?

    python benchmarks/mutate.py [--per-module N] [--seed S] [--modules compare verify ...]
                                [--suite module|fast|both] [--workers W]

Each mutant changes one place of one module's syntax tree: an arithmetic
operator swapped (+ -, * /), a comparison flipped (< <=, > >=, == !=), a
number scaled by 10, ``and``/``or`` swapped, a ``not`` dropped, a statement
deleted. ``--per-module`` mutants are drawn (seeded) per module; each is
written into a copy of the package and the module's own tests are run
against it (``--suite fast``: every test but the slow ones). A mutant is
killed when a test fails (or the run passes its time); it survives when every
test passes. ``--suite both`` (the default) runs the module's own tests first
and the fast suite only on the mutants they leave alive.

Some mutants are equivalent: they change nothing a result can show (a bound
that only a float of one exact value could tell apart, a cache). Those read
and judged so are listed in ``benchmarks/equivalent_mutants.txt``, each with
its reason, keyed by module, function, change and the changed source (not
the line, which moves); they are left out of the score and counted apart.
The table gives the score per module; the survivors follow, each with its
line, function and change, to be read: a survivor that is not equivalent
wants a test.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {  # module -> its own tests
    "compare": ["tests/test_compare.py", "tests/test_columns.py"],
    "columns": ["tests/test_columns.py", "tests/test_compare.py"],
    "tolerances": ["tests/test_compare.py"],
    "verify": ["tests/test_verify.py", "tests/test_trust.py"],
    "diagnose": ["tests/test_diagnose.py"],
    "expr": ["tests/test_expr.py"],
    "stencils": ["tests/test_stencils.py", "tests/test_engine.py"],
    "step": ["tests/test_step.py", "tests/test_engine.py"],
}
FAST = ["tests", "--ignore=tests/test_pool.py", "--ignore=tests/test_fuzz.py",
        "--ignore=tests/backends"]
EQUIVALENT = ROOT / "benchmarks" / "equivalent_mutants.txt"

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
    function: str = ""  # the enclosing function, or "" at module level
    source: str = ""    # the changed node's source, one line

    @property
    def key(self) -> str:
        """What identifies the mutant across edits that move lines."""
        return f"{self.module} | {self.function} | {self.what} | {self.source}"


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _functions(tree: ast.AST) -> dict[int, str]:
    """The enclosing function (``Class.method`` or ``name``) of every node."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{name}.{child.name}" if name else child.name
            owner[id(child)] = inner
            visit(child, inner)
    visit(tree, "")
    return owner


def _source(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 100 else text[:97] + "..."


def sites(module: str, tree: ast.AST) -> list[Mutant]:
    """Every place of ``tree`` a mutant can change."""
    skip = _docstring_ids(tree)
    owner = _functions(tree)
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
    nodes = list(ast.walk(tree))
    statement = _statements(tree)
    return [Mutant(m.module, m.index, m.kind, m.line, m.what, owner.get(id(nodes[m.index]), ""),
                   # A number is known by the statement it is in (2 alone names many).
                   _source(statement[id(nodes[m.index])]) if m.kind == "constant"
                   else _source(nodes[m.index])) for m in out]


def _statements(tree: ast.AST) -> dict[int, ast.AST]:
    """The innermost statement around every node."""
    around: dict[int, ast.AST] = {}

    def visit(node: ast.AST, stmt: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.stmt) else stmt
            around[id(child)] = inner
            visit(child, inner)
    visit(tree, tree)
    return around


def equivalent() -> dict[str, str]:
    """The mutants judged equivalent: key -> reason."""
    if not EQUIVALENT.exists():
        return {}
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, reason = line.partition(" || ")
            out[key.strip()] = reason.strip()
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


def _copy(tmp: Path, k: int) -> Path:
    root = tmp / f"project{k}"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
        "__pycache__", ".git", ".venv", ".mypy_cache", ".hypothesis", "*.egg-info"))
    check = subprocess.run([sys.executable, "-c", "import fdcheck; print(fdcheck.__file__)"],
                           cwd=root, capture_output=True, text=True)
    assert check.stdout.strip().startswith(str(root / "fdcheck")), "the copy is not imported"
    return root


def _survives(mutant: Mutant, text: str, suites: list[tuple[list[str], float]],
              root: Path) -> bool:
    """Whether every suite passes with ``text`` as the mutant's module in ``root``."""
    path = root / "fdcheck" / f"{mutant.module}.py"
    source = path.read_text()
    path.write_text(text)
    try:
        return all(run(tests, root, limit) for tests, limit in suites)
    finally:
        path.write_text(source)


def _limit(tests: list[str], root: Path) -> float:
    """Ten times the unmutated run's time (a mutant that loops is killed)."""
    began = time.perf_counter()
    assert run(tests, root, 1200), f"the tests {tests} fail unmutated"
    return 10 * (time.perf_counter() - began) + 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modules", nargs="*", default=list(MODULES))
    parser.add_argument("--suite", choices=["module", "fast", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    judged = equivalent()
    rows, survivors, excluded = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        roots = [_copy(Path(tmp), k) for k in range(args.workers)]
        fast_limit = _limit(FAST, roots[0]) if args.suite != "module" else 0.0
        for module in args.modules:
            tree = ast.parse((ROOT / "fdcheck" / f"{module}.py").read_text())
            every = sites(module, tree)
            chosen = random.Random(f"{args.seed}-{module}").sample(
                every, min(args.per_module, len(every)))
            suites = []
            if args.suite != "fast":
                suites.append((MODULES[module], _limit(MODULES[module], roots[0])))
            if args.suite != "module":
                suites.append((FAST, fast_limit))
            same = ast.unparse(tree)
            texts: dict[Mutant, str] = {}
            for mutant in chosen:
                try:
                    texts[mutant] = ast.unparse(apply(tree, mutant))
                except Exception:  # a change that makes no program: killed by construction
                    continue
                if texts[mutant] == same:
                    raise AssertionError(f"{mutant} changes nothing: a bug of this script")
            free = list(roots)

            def judge(mutant: Mutant) -> bool:
                root = free.pop()
                try:
                    return _survives(mutant, texts[mutant], suites, root)
                finally:
                    free.append(root)
            with ThreadPoolExecutor(args.workers) as pool:
                alive = dict(zip(texts, pool.map(judge, texts)))
            out = [m for m, live in alive.items() if live and m.key not in judged]
            for m in out:  # as they are found: a long run stopped early keeps them
                print(f"  survivor fdcheck/{m.module}.py:{m.line} {m.function}: {m.what}: "
                      f"{m.source}", file=sys.stderr, flush=True)
            same_kind = [m for m, live in alive.items() if live and m.key in judged]
            survivors += out
            excluded += same_kind
            scored = len(chosen) - len(same_kind)
            rows.append((module, len(every), len(chosen), len(same_kind), scored - len(out),
                         scored))
            print(f"{module}: {scored - len(out)}/{scored} killed, {len(same_kind)} equivalent",
                  file=sys.stderr, flush=True)
    print(f"# {time.strftime('%Y-%m-%d')}; {args.per_module} mutants a module (seed {args.seed}),"
          f" {args.suite} tests; {time.perf_counter() - start:.0f} s")
    print(f"{'module':12} {'sites':>6} {'mutants':>8} {'equiv':>6} {'killed':>7} {'score':>7}")
    for module, every, chosen, same_kind, killed, scored in rows:
        print(f"{module:12} {every:>6} {chosen:>8} {same_kind:>6} {killed:>7}"
              f" {killed / max(scored, 1):>7.0%}")
    if excluded:
        print("\nequivalent (left out of the score):")
        for m in excluded:
            print(f"  fdcheck/{m.module}.py:{m.line} {m.function}: {m.what}: {judged[m.key]}")
    if survivors:
        print("\nsurvivors (key for equivalent_mutants.txt after the line):")
        for m in survivors:
            print(f"  fdcheck/{m.module}.py:{m.line} {m.function}: {m.what}: {m.source}")
            print(f"      {m.key}")


if __name__ == "__main__":
    main()
