"""The rules of the house, as tests: no import circle, and the derivative
entry point a table (a method's builder found from one place)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fdcheck"


def _module(path: Path) -> str:
    parts = path.with_suffix("").relative_to(PACKAGE.parent).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """fdcheck's modules and the fdcheck modules each imports, at any depth
    (an import inside a function closes a circle as surely as one at the top)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists()
                    deps.add(candidate if is_module else target)
        graph[module] = deps - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                found.add(tuple(stack[stack.index(dep):]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2
    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_circle():
    assert _cycles(_imports()) == set()


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}


@pytest.mark.parametrize("scheme", ["central", "forward", "backward", "richardson", "complex-step"])
def test_every_method_has_its_builder_in_the_table(scheme):
    from fdcheck import derive
    from fdcheck.stencils import ALL_SCHEMES
    assert set(derive.JACOBIANS) == set(ALL_SCHEMES)
    assert callable(derive.JACOBIANS[scheme])


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_above_600_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 600


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_above_a_cyclomatic_complexity_of_20(path):
    radon = pytest.importorskip("radon.complexity")
    blocks = radon.cc_visit(path.read_text(encoding="utf-8"))
    assert [(b.name, b.complexity) for b in blocks if b.complexity > 20] == []
