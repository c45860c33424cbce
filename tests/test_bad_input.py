"""Nothing accepted and ignored: every key that carries a reference is
compared (a wrong value fails) in every combination with the others, or
refused with a named error."""
import pytest

from fdcheck.casefile import load_text
from fdcheck.errors import CaseError
from fdcheck.runner import run_case

# S = sum(Z) for Z = A x x^T (x a vector): dS/dx = (A + A^T) x, d2S/dx2 = A + A^T.
CHAIN = """
name: c
inputs: {A: [[2, 1], [0, 3]], x: [0.5, -1.5]}
function: {Z: "A * outer(x, x)", S: sum(Z)}
wrt: x
"""
GRADIENT = "[0.5, -8.5]"         # (A + A^T) x
HESSIAN = "[[4, 1], [1, 6]]"     # A + A^T
WRONG_GRADIENT = "[0.5, -8.0]"
WRONG_HESSIAN = "[[4, 1], [1, 7]]"
ZX = "[[1, 0], [1, 0], [0, 1], [0, 1]]"  # a wrong dZ/dx (4 x 2): the right one depends on x

# (a label, the expect block, and whether the case must pass)
TABLE = [
    ("value", "expect: {value: 6.5}", True),
    ("value wrong", "expect: {value: 6.4}", False),
    ("gradient", f"expect: {{gradient: {GRADIENT}}}", True),
    ("gradient wrong", f"expect: {{gradient: {WRONG_GRADIENT}}}", False),
    ("jacobian wrong", f"expect: {{jacobian: [{WRONG_GRADIENT}]}}", False),
    ("hessian", f"expect: {{hessian: {HESSIAN}}}", True),
    ("hessian wrong", f"expect: {{hessian: {WRONG_HESSIAN}}}", False),
    ("directions, gradient wrong", f"directions: 2\nexpect: {{gradient: {WRONG_GRADIENT}}}",
     False),
    ("directions, hessian", f"directions: 2\nexpect: {{hessian: {HESSIAN}}}", True),
    ("directions, hessian wrong", f"directions: 2\nexpect: {{hessian: {WRONG_HESSIAN}}}", False),
    ("stage value wrong", "expect: {stages: {S: {value: 6.4}}}", False),
    ("stage gradient wrong", f"expect: {{stages: {{S: {{gradient: {WRONG_GRADIENT}}}}}}}", False),
    ("stage jacobian wrong", f"expect: {{stages: {{Z: {{jacobian: {ZX}}}}}}}", False),
    ("stage hessian", f"expect: {{stages: {{S: {{hessian: {HESSIAN}}}}}}}", True),
    ("stage hessian wrong", f"expect: {{stages: {{S: {{hessian: {WRONG_HESSIAN}}}}}}}", False),
    ("stage hessian of a stage it reads",
     "expect: {stages: {S: {hessian: {Z: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], "
     "[0, 0, 0, 0]]}}}}", True),
    ("stage hessian of a stage it reads, wrong",
     "expect: {stages: {S: {hessian: {Z: [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], "
     "[0, 0, 0, 0]]}}}}", False),
]


@pytest.mark.parametrize("expect, passes", [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_every_reference_key_is_compared(expect, passes):
    (case,) = load_text(CHAIN + expect)
    assert not isinstance(case, CaseError), case
    result = run_case(case)
    assert result.error is None, result.error
    assert result.passed is passes, str(result)


@pytest.mark.parametrize("expect, key", [
    ("expect: {stages: {Z: {hessian: [[1, 0], [0, 1]]}}}", "expect.stages.Z.hessian"),
    ("expect: {hessian: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}", "expect.hessian"),
])
def test_a_reference_that_cannot_be_compared_is_a_named_error(expect, key):
    (case,) = load_text(CHAIN + expect)
    result = run_case(case)
    assert result.error is not None and result.error_key == key, result.error


@pytest.mark.parametrize("function, gradient, passes", [
    ('{Z: A - A.T, S: sum(Z)}', '"zeros([4, 4])"', True),
    ('{Z: A - A.T, S: sum(Z)}', '"1e-3 * ones([4, 4])"', False),
    ('{Z: A @ A.T, S: sum(Z)}', '"(ones([4, 4]) @ A) * 2"', True),
])
def test_a_chain_whose_derivative_is_zero_passes_where_it_is_zero(function, gradient, passes):
    (case,) = load_text(f"name: z\ninputs: {{A: {{random: normal, shape: [4, 4], seed: 1, "
                        f"scale: 10}}}}\nfunction: {function}\nexpect: {{gradient: {gradient}}}")
    result = run_case(case)
    chain = [c for c in result.checks if c.against == "chain"]
    assert chain and chain[0].passed, str(result)
    assert result.passed is passes, str(result)


import numpy as np  # noqa: E402

import fdcheck  # noqa: E402


@pytest.mark.parametrize("function", [
    lambda x: (10 * x).astype(np.int64), lambda x: x > 0, lambda x: np.round(x).astype(np.int8)])
def test_an_integer_or_boolean_output_is_refused_at_the_boundary(function):
    x = np.array([0.3, 1.7, 2.2])
    with pytest.raises(fdcheck.EvaluationError, match="integer or boolean output has no derivative"):
        fdcheck.check(function, x, gradient=np.zeros(3))
    with pytest.raises(fdcheck.EvaluationError, match="integer or boolean output"):
        fdcheck.jacobian(function, x)


def test_an_integer_valued_tensor_output_is_refused_not_passed():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.3, 1.7, 2.2], dtype=torch.float64, requires_grad=True)
    with pytest.raises(fdcheck.EvaluationError, match="int64 values"):
        fdcheck.check(lambda x: (x * 10).long(), x)


@pytest.mark.parametrize("call, message", [
    (lambda: fdcheck.check(lambda x: (x * x).sum(), np.array([1, 2, 3]),
                           gradient=np.array([2., 4, 6])), "no input is floating .x is int64"),
    (lambda: fdcheck.check(lambda x: (x * x).sum(), np.array([1., 2, 3]),
                           gradient=np.array([2., 4, 6]), dtype="int8"), "dtype: 'int8' is not one"),
    (lambda: fdcheck.check(lambda x, y: x.sum(), np.ones(2), np.ones(2), names=["x", "x"],
                           gradient=np.ones(2)), "names has an entry twice"),
])
def test_what_cannot_carry_a_derivative_is_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_an_integer_input_named_in_wrt_is_taken_as_float64():
    result = fdcheck.check(lambda x: (x * x).sum(), np.array([1, 2, 3]), wrt=0,
                           gradient=np.array([2., 4, 6]))
    assert result.passed


def test_a_bfloat16_numpy_input_is_floating():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([1, 2, 3], dtype=ml_dtypes.bfloat16)
    result = fdcheck.check(lambda x: (x * x).sum(), x, gradient=np.array([2., 4, 6]))
    assert [c.wrt for c in result.checks] == ["x"] and result.passed


def test_a_nan_input_is_one_error_on_every_face(tmp_path):
    with pytest.raises(ValueError, match=r"the input x is not finite \(x\[1\] = nan\)"):
        fdcheck.check(lambda x: x.sum(), np.array([1.0, np.nan]), gradient=np.ones(2))
    path = tmp_path / "n.yaml"
    path.write_text("name: n\ninputs: {x: [1, .nan]}\nfunction: sum(x)\nexpect: {gradient: [1, 1]}\n")
    (result,) = fdcheck.run(str(path))
    assert result.status == "error" and result.error_key == "inputs.x"


def test_an_input_that_is_not_differentiated_may_be_infinite():
    mask = np.array([0.0, -np.inf, 0.0])
    f = lambda x, m: np.sum(np.exp(x + m))  # noqa: E731
    x = np.array([0.1, 0.2, 0.3])
    assert fdcheck.check(f, x, mask, wrt=0, gradient=np.exp(x + mask)).passed


def _numpy_setflags(x, a):
    a.setflags(write=True)
    a += 1
    return x * a


def _numpy_setflags_own(x, a):
    x.setflags(write=True)
    x += 1
    return x * a


@pytest.mark.parametrize("function, which", [(_numpy_setflags, "input 1"),
                                             (_numpy_setflags_own, "input 0")])
def test_a_write_no_guard_sees_is_named_not_called_noise(function, which):
    a = np.array([1.0, 2.0, 3.0])
    with pytest.raises(fdcheck.EvaluationError, match=f"writes to its input in place .{which}"):
        fdcheck.check(function, np.array([1.0, 2.0, 3.0]), a, wrt=0, jacobian=np.diag(a))


@pytest.mark.parametrize("write", ["data", "numpy"])
def test_a_tensor_written_through_data_or_numpy_is_named(write):
    torch = pytest.importorskip("torch")

    def f(x, t):
        if write == "data":
            t.data.add_(1)
        else:
            t.numpy()[0] += 1
        return x * t
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    with pytest.raises(fdcheck.EvaluationError, match="input 1 changed during a call"):
        fdcheck.check(f, x, t, wrt=0)


@pytest.mark.parametrize("make", ["fifo", "device", "missing"])
def test_a_path_that_is_no_regular_file_is_an_error_naming_it(cli, tmp_path, make):
    import os
    path = tmp_path / "x.yaml"
    if make == "fifo":
        os.mkfifo(path)
    elif make == "device":
        path.symlink_to("/dev/zero")
    for command in (["run", str(path)], ["jacobian", str(path)]):
        code, out, err = cli(*command)
        assert code == 2 and str(path) in out + err
        assert ("not a regular file" if make != "missing" else "no such file") in out + err


def test_a_fifo_in_a_folder_is_passed_over_and_listed(cli, tmp_path):
    import os
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "c.yaml").write_text("name: c\ninputs: {x: [1.0]}\nfunction: sum(x)\n"
                                     "expect: {gradient: [1]}\n")
    code, out, err = cli("run", str(tmp_path), "-v")
    assert code == 0 and "pipe.yaml: not a case file" in err


@pytest.mark.parametrize("option", [["--digits", "-1"], ["--digits", "0"]])
def test_jacobian_options_are_validated(cli, option):
    from .conftest import ROOT
    code, out, err = cli("jacobian", str(ROOT / "cases" / "teaching.yaml"), *option)
    assert code == 2 and "--digits" in err


@pytest.mark.parametrize("value", ["1e10", "inf"])
def test_a_timeout_beyond_the_system_timers_is_refused_by_name(cli, value):
    from .conftest import ROOT
    code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), "--timeout", value)
    assert code == 2 and "--timeout" in err
    with pytest.raises(ValueError, match="timeout"):
        fdcheck.run(str(ROOT / "cases" / "teaching.yaml"), timeout=float(value))


def test_a_reduction_of_constants_is_refused_by_name_in_the_expression():
    (case,) = load_text('name: s\ninputs: {x: [1.0, 2.0]}\nfunction: {Z: "sum(2)", S: sum(Z)}\n'
                        'expect: {gradient: [0, 0]}\n')
    assert isinstance(case, CaseError) and case.key == "function.Z"
    assert "sum() of constants: write the number instead" in case.message


def test_deeply_nested_calls_compile_once_each(monkeypatch):
    from fdcheck import expr
    source = "x"
    for _ in range(12):
        source = f"sum(exp({source}), axis=0) + x"
    visits = []
    original = expr._Compiler.visit
    monkeypatch.setattr(expr._Compiler, "visit",
                        lambda self, node: visits.append(node) or original(self, node))
    expr.Expression(source, {"x"})
    # Each node once (a node visited twice per level would be 2^12 visits).
    assert len(visits) == len({id(n) for n in visits})


@pytest.mark.parametrize("wrt", [1.0, {"x": 1}, None.__class__])
def test_a_wrt_that_is_no_position_or_name_is_a_named_error(wrt):
    with pytest.raises(ValueError, match="wrt="):
        fdcheck.check(lambda a: a.sum(), np.ones(2), wrt=wrt, gradient=np.ones(2))


def test_a_dict_returning_function_takes_a_tuple_reference_in_its_outputs_order():
    A = np.ones((2, 2))
    result = fdcheck.check(lambda a: {"p": a * 2, "q": a.sum()}, A,
                           jacobian=(2 * np.eye(4), np.ones((1, 4))))
    assert result.passed and len(result.checks) == 2


# Found by tests/test_fuzz.py: each was an AttributeError or TypeError inside fdcheck.
@pytest.mark.parametrize("source, message", [
    ("0.5.T", "'.T' of a number"), ("x @ 0", "'@' needs arrays on both sides"),
    ("2[0]", "indexing of a number"), ("sum(reshape(0, 0)[1:][0], axis=0)", "reshape.. of a number"),
    ("outer(x, 2)", "outer.. takes arrays")])
def test_what_a_number_cannot_do_is_refused_when_compiled(source, message):
    from fdcheck.errors import ExpressionError
    from fdcheck.expr import Expression
    with pytest.raises(ExpressionError, match=message):
        Expression(source, {"x"})


@pytest.mark.parametrize("names", [[[]], False, "x", [1]])
def test_names_that_are_not_identifiers_are_a_named_error(names):
    with pytest.raises(ValueError, match="names is a list of identifiers"):
        fdcheck.check(lambda x: np.sum(x ** 2), np.ones(2), gradient=2 * np.ones(2), names=names)


SORTED_CASE = ("expect:\n  gradient: [2, 4]\nfunction: sum(x ** 2)\ninputs:\n  x: [1.0, 2.0]\n"
               "name: sorted keys\n")
FOREIGN = {
    "workflow.yml": "name: CI\non:\n  workflow_dispatch:\n    inputs:\n      level: {default: 1}\n"
                    "jobs:\n  test: {runs-on: ubuntu-latest}\n",
    "action.yml": "name: my action\ndescription: does things\ninputs:\n  who: {default: me}\n"
                  "runs: {using: node20, main: index.js}\n",
    "deploy.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n",
    "config.yaml": "model: {layers: 3}\noptimizer: {lr: 0.001}\n",
}


def test_a_case_file_is_found_whatever_the_order_of_its_keys_and_foreign_yaml_is_passed_over(
        cli, tmp_path):
    (tmp_path / "sorted.yaml").write_text(SORTED_CASE + "#" + " " * 70000 + "\n")
    for name, text in FOREIGN.items():
        (tmp_path / name).write_text(text)
    code, out, err = cli("run", str(tmp_path), "-v")
    assert code == 0 and "PASS  sorted keys" in out and "1 passed" in out
    for name in FOREIGN:
        assert f"{name}: not a case file" in err


def test_a_case_file_with_case_keys_that_does_not_validate_is_an_error_not_a_skip(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nfunction: sum(x)\ninputs: {x: [1.0]}\n"
                                       "expect: {gradeint: [1]}\n")
    code, out, _ = cli("run", str(tmp_path))
    assert code == 2 and "gradeint" in out


@pytest.mark.parametrize("tolerance", ["{atol: .inf}", "{rtol: .inf}", "{atol: .nan}"])
def test_a_tolerance_that_is_not_finite_is_refused_by_key(tolerance):
    (case,) = load_text(f"name: t\ninputs: {{x: [1.0]}}\nfunction: sum(x)\n"
                        f"expect: {{gradient: [5]}}\ntolerance: {tolerance}\n")
    assert isinstance(case, CaseError) and case.key.startswith("tolerance.")


def test_a_large_failing_check_holds_a_bounded_multiple_of_its_jacobian():
    import tracemalloc
    n = 800
    x = np.linspace(0.1, 2.0, n)
    tracemalloc.start()
    try:
        result = fdcheck.check(lambda x: x ** 2, x, jacobian=np.diag(3 * x))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.checks[0].verdict == "mismatch"
    # The kink probes of every failing column held 8 slopes per entry at once
    # (56 times the Jacobian); in groups, the comparison's own arrays dominate.
    assert peak < 35 * n * n * 8


def test_a_folder_that_cannot_be_read_is_an_error_naming_it_and_the_others_run(cli, tmp_path,
                                                                               monkeypatch):
    from pathlib import Path
    locked, good = tmp_path / "locked", tmp_path / "good"
    locked.mkdir()
    good.mkdir()
    (good / "c.yaml").write_text(SORTED_CASE)
    original = Path.rglob

    def rglob(self, pattern):
        if self.name == "locked":
            raise PermissionError(13, "Permission denied")
        return original(self, pattern)
    monkeypatch.setattr(Path, "rglob", rglob)
    code, out, _ = cli("run", str(locked), str(good))
    assert code == 2 and "cannot read the folder: Permission denied" in out
    assert "PASS  sorted keys" in out


def test_an_error_of_fdchecks_own_code_is_named_as_fdchecks_never_the_functions(monkeypatch):
    from fdcheck import engine
    # A bug inside the engine's own file (as a mutant of it would be), called
    # inside the stencil's plan.
    scope: dict = {}
    exec(compile("def broken(rows):\n    raise KeyError(\"a bug of fdcheck's own\")\n",
                 engine.__file__, "exec"), scope)
    monkeypatch.setattr(engine, "nonfinite_rows", scope["broken"])
    (case,) = load_text("name: b\ninputs: {x: [1.0, 2.0]}\nfunction: sum(x ** 2)\n"
                        "expect: {gradient: [2, 4]}\n")
    result = run_case(case)
    assert result.status == "error"
    assert "internal error in fdcheck" in result.error and "KeyError" in result.error
    assert "the function raises" not in result.error


def test_what_the_function_itself_raises_is_still_the_functions():
    def picky(x):
        if x[0] > 1.0:
            raise KeyError("outside my domain")
        return np.sum(x ** 2)
    with pytest.raises(KeyError, match="outside my domain"):
        fdcheck.check(picky, np.array([1.5, 2.0]), gradient=np.array([3.0, 4.0]))
    # Beside its domain's edge it is retried with smaller steps, as before.
    result = fdcheck.check(picky, np.array([1.0 - 1e-9, 2.0]), gradient=np.array([2.0, 4.0]))
    assert result.passed
