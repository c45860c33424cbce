"""The Python API on plain callables over NumPy arrays."""
import numpy as np
import pytest

import fdcheck

from .conftest import ROOT
from .seed import A, B, DS_DW, DZ_DW, W


def layer(A, W, B):
    return A @ W + B


def test_jacobian_and_gradient_give_the_seed_numbers():
    assert np.allclose(fdcheck.jacobian(layer, A, W, B, wrt=1), DZ_DW, atol=1e-8)
    assert np.allclose(fdcheck.gradient(lambda A, W, B: layer(A, W, B).sum(), A, W, B, wrt=1), DS_DW, atol=1e-8)
    assert fdcheck.jacobian(layer, A, W, B, wrt=1, tensor=True).shape == (2, 2, 3, 2)


def test_check_passes_a_correct_jacobian_and_names_inputs_from_the_signature():
    result = fdcheck.check(layer, A, W, B, wrt=1, jacobian=lambda A, W, B: np.kron(A, np.eye(2)), output="Z")
    assert result.passed
    (c,) = result.checks
    assert (c.against, c.wrt, c.out_name) == ("analytic", "W", "Z")


@pytest.mark.parametrize("wrong", [
    lambda A, W, B: 2 * np.kron(A, np.eye(2)),                 # a factor of 2
    lambda A, W, B: -np.kron(A, np.eye(2)),                    # a sign
    lambda A, W, B: np.kron(np.eye(2), A),                    # the column-major matrix
])
def test_check_catches_mistakes_and_assert_check_raises(wrong):
    result = fdcheck.check(layer, A, W, B, wrt=1, jacobian=wrong, output="Z")
    assert not result.passed
    with pytest.raises(AssertionError, match=r"FAIL .*analytic dZ/dW: dz\d\d/dw\d\d: numeric"):
        fdcheck.assert_check(layer, A, W, B, wrt=1, jacobian=wrong, output="Z")


def test_a_missing_transpose_is_caught():
    X, Y = np.arange(9.0).reshape(3, 3), np.arange(9.0).reshape(3, 3) ** 0.5
    f = lambda X, Y: np.trace(X @ Y)  # noqa: E731
    assert fdcheck.check(f, X, Y, wrt=0, gradient=Y.T).passed
    result = fdcheck.check(f, X, Y, wrt=0, gradient=Y)
    assert not result.passed and result.checks[0].mismatches == 6


def test_one_wrong_entry_is_located():
    def jac(A, W, B):
        j = np.kron(A, np.eye(2))
        j[2, 4] = 5.0
        return j
    (c,) = fdcheck.check(layer, A, W, B, wrt=1, jacobian=jac, output="Z").checks
    assert (c.worst.output, c.worst.input) == ((1, 0), (2, 0))
    assert c.worst.numeric == pytest.approx(6.0) and c.worst.reference == 5.0


def test_gradient_reference_for_several_inputs():
    f = lambda A, W: (A @ W).sum()  # noqa: E731
    res = fdcheck.check(f, A, W, gradient={"A": np.ones((2, 2)) @ W.T, "W": A.T @ np.ones((2, 2))})
    assert res.passed and [c.wrt for c in res.checks] == ["A", "W"]
    res = fdcheck.check(f, A, W, gradient=lambda A, W: (np.ones((2, 2)) @ W.T, A.T @ np.ones((2, 2))))
    assert res.passed


def test_tolerances_and_order_in_the_api():
    j = np.kron(A, np.eye(2))
    assert not fdcheck.check(layer, A, W, B, wrt=1, jacobian=j + 1e-3).passed
    assert fdcheck.check(layer, A, W, B, wrt=1, jacobian=j + 1e-3, atol=1e-2).passed
    assert fdcheck.check(layer, A, W, B, wrt=1, order="F", jacobian=np.kron(np.eye(2), A)).passed


def test_bad_references_are_clear():
    with pytest.raises(ValueError, match="expected \\(4, 6\\) or the tensor form"):
        fdcheck.check(layer, A, W, B, wrt=1, jacobian=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="scalar-valued"):
        fdcheck.check(layer, A, W, B, wrt=1, gradient=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="nothing to compare"):
        fdcheck.check(layer, A, W, B, wrt=1)


def test_run_case_files_from_the_library(tmp_path):
    from .conftest import ROOT
    results = fdcheck.run(str(ROOT / "cases" / "teaching.yaml"))
    assert results and all(r.passed for r in results)


def test_python_references_need_permission(tmp_path, monkeypatch):
    (tmp_path / "mymod.py").write_text("def f(A):\n    return 3 * A.sum()\n")
    (tmp_path / "c.yaml").write_text("name: py\ninputs: {A: [1, 2]}\nfunction: {python: 'mymod:f'}\n"
                                     "expect: {gradient: [3, 3]}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (refused,) = fdcheck.run("c.yaml")
    assert "--allow-python" in refused.error and refused.error_key == "function"
    (allowed,) = fdcheck.run("c.yaml", allow_python=True)
    assert allowed.passed, allowed.error


@pytest.mark.parametrize("reference, passes", [("grad", True), ("wrong", False)])
def test_a_python_reference_takes_only_the_inputs_its_signature_names(tmp_path, monkeypatch,
                                                                       reference, passes):
    # The defaults give every case an input Y that neither function takes: as for a
    # stage's function, the reference is called with A alone.
    (tmp_path / "refmod.py").write_text("def f(A):\n    return (A ** 2).sum()\n\n"
                                        "def grad(A):\n    return 2 * A\n\n"
                                        "def wrong(A):\n    return 3 * A\n")
    (tmp_path / "c.yaml").write_text(
        f"defaults: {{inputs: {{Y: [5, 6]}}}}\ncases:\n- name: r\n  inputs: {{A: [1, 2]}}\n"
        f"  wrt: A\n  function: {{python: 'refmod:f'}}\n"
        f"  expect: {{gradient: {{python: 'refmod:{reference}'}}}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (result,) = fdcheck.run("c.yaml", allow_python=True)
    assert result.status != "error", result.error
    assert result.passed is passes


def test_a_case_whose_function_writes_to_its_input_is_an_error_and_the_others_run(tmp_path,
                                                                                   monkeypatch):
    (tmp_path / "inplace.py").write_text("def f(A):\n    A -= A.mean()\n    return (A ** 2).sum()\n\n"
                                         "def g(A):\n    return 3 * A.sum()\n")
    (tmp_path / "c.yaml").write_text(
        "- name: writes\n  inputs: {A: [1, 2, 4]}\n  function: {python: 'inplace:f'}\n"
        "  expect: {gradient: [-2.667, -0.667, 3.333]}\n"
        "- name: reads\n  inputs: {A: [1, 2]}\n  function: {python: 'inplace:g'}\n"
        "  expect: {gradient: [3, 3]}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    writes, reads = fdcheck.run("c.yaml", allow_python=True)
    assert writes.status == "error" and "writes to its input in place" in writes.error
    assert reads.passed, reads.error


def test_every_public_name_stays_what_it_is_whatever_is_imported():
    """Importing every submodule (as a test suite or a tool may) changes
    nothing that ``fdcheck.NAME`` gives: ``fdcheck.stencil`` stays the function."""
    import importlib
    import pkgutil

    import fdcheck
    before = {name: getattr(fdcheck, name) for name in fdcheck.__all__}
    for info in pkgutil.walk_packages(fdcheck.__path__, "fdcheck."):
        if info.name.endswith(("torch_backend", "jax_backend", "pytest_plugin", "__main__")):
            continue  # optional frameworks; their names are not fdcheck's
        importlib.import_module(info.name)
    assert {name: getattr(fdcheck, name) for name in fdcheck.__all__} == before
    assert fdcheck.stencil("central", 4).offsets == (-2, -1, 1, 2)


def test_every_exception_a_user_can_catch_lives_in_errors_and_is_exported():
    import fdcheck
    from fdcheck import errors
    for name in ("FdcheckError", "CaseError", "ExpressionError", "BackendUnavailable",
                 "EvaluationError", "SparsityError", "ComplexStepError"):
        cls = getattr(fdcheck, name)
        assert cls is getattr(errors, name) and cls.__module__ == "fdcheck.errors"
        assert issubclass(cls, errors.FdcheckError)


def test_the_api_on_numpy_loads_neither_yaml_nor_scipy_nor_a_framework():
    import subprocess
    import sys
    code = ("import sys, numpy as np, fdcheck; "
            "fdcheck.jacobian(lambda a: a * a, np.ones(3)); "
            "fdcheck.hessian(lambda a: (a ** 3).sum(), np.ones(2)); "
            "assert fdcheck.check(lambda a: (a * a).sum(), np.ones(3), gradient=2 * np.ones(3)).passed; "
            "print(sorted(m for m in ('yaml', 'scipy', 'torch', 'jax', 'matplotlib', 'click') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_jacobian_takes_a_function_returning_several_outputs_as_check_does():
    J = fdcheck.jacobian(lambda A, W: (A @ W, (A @ W).sum()), A, W, wrt=1)
    dZ = fdcheck.jacobian(lambda A, W: A @ W, A, W, wrt=1)
    dS = fdcheck.jacobian(lambda A, W: (A @ W).sum(), A, W, wrt="W")
    np.testing.assert_allclose(J, np.vstack([dZ, dS]), atol=1e-8)
    np.testing.assert_allclose(dS.reshape(3, 2), [[5, 5], [7, 7], [9, 9]], atol=1e-8)
    result = fdcheck.check(lambda A, W: (A @ W, (A @ W).sum()), A, W, wrt=1,
                           jacobian=(dZ, dS))
    assert result.passed and len(result.checks) == 2


@pytest.mark.parametrize("method", ["forward", "backward", "complex-step"])
def test_one_method_policy_for_hessians_on_every_face(method):
    f = lambda x: (x ** 3).sum()  # noqa: E731
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="a Hessian is taken by central second differences"):
        fdcheck.hessian(f, x, method=method)
    with pytest.raises(ValueError, match="a Hessian is taken by central second differences"):
        fdcheck.check(f, x, hessian=np.diag(6 * x), method=method)


@pytest.mark.parametrize("method", ["central", {"scheme": "central", "order": 4}, "richardson"])
def test_a_hessian_by_any_central_or_richardson_method_on_every_face(method):
    f = lambda x: (x ** 3).sum()  # noqa: E731
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(fdcheck.hessian(f, x, method=method), np.diag(6 * x), rtol=1e-5)
    assert fdcheck.check(f, x, hessian=np.diag(6 * x), method=method).passed


@pytest.mark.parametrize("options", [{"tolerance": "auto"}, {"atol": 1e-6, "rtol": 1e-6},
                                     {"method": "richardson"}, {"select": "linear layer"}])
def test_run_takes_the_options_of_the_command_line(options):
    results = fdcheck.run(str(ROOT / "cases" / "teaching.yaml"), **options)
    assert results and all(r.passed for r in results)
    if "select" in options:
        assert all("linear layer" in r.name for r in results)


@pytest.mark.parametrize("kwargs, message", [
    ({"tolerance": "sometimes"}, "tolerance"), ({"atol": -1}, "atol: must be a finite"),
    ({"mode": "fast"}, "mode is auto, serial or vectorized"), ({"method": "centrel"}, "method")])
def test_run_refuses_bad_options_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fdcheck.run(str(ROOT / "cases" / "teaching.yaml"), **kwargs)
