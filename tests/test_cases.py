"""Case files: format, defaults, generators, YAML numbers, errors that locate."""
import numpy as np
import pytest

from fdcheck.casefile import load_text
from fdcheck.values import generate
from fdcheck.errors import CaseError
from fdcheck.expr import Expression


def one(text):
    (item,) = load_text(text, "f.yaml")
    return item


def test_single_case_file_and_line():
    case = one("name: c\ninputs: {A: [[1, 2], [3, 4]]}\nfunction: sum(A)\n")
    assert case.name == "c" and case.line == 1 and case.file == "f.yaml"
    assert case.inputs["A"].dtype == np.float64 and case.wrt == ("A",)
    assert case.output == "f" and not case.is_chain


@pytest.mark.parametrize("text, atol", [
    ("atol: 1e-6", 1e-6), ("atol: 1E-6", 1e-6), ("atol: 1.5e+3", 1500.0), ("atol: '1e-6'", 1e-6),
    ("atol: .5", 0.5), ("atol: 2", 2.0),
])
def test_yaml_numbers_written_as_people_write_them(text, atol):
    case = one(f"name: c\ninputs: {{A: 1}}\nfunction: A\ntolerance: {{{text}}}\n")
    assert case.tolerance == {"atol": atol}


def test_defaults_merge_one_level_and_lines_are_kept():
    items = load_text("""
defaults:
  inputs: {A: [1, 2], B: {random: normal, shape: [2], seed: 3}}
  tolerance: {atol: 1e-6, rtol: 1e-6}
cases:
  - name: first
    function: A @ B
  - name: second
    inputs: {B: {ones: [2]}}
    tolerance: {rtol: 1e-3}
    function: A @ B
""", "f.yaml")
    first, second = items
    assert (first.line, second.line) == (6, 8)
    assert second.inputs["B"].tolist() == [1.0, 1.0]           # replaced whole, not mixed
    assert second.inputs["A"].tolist() == [1.0, 2.0]           # inherited
    assert second.tolerance == {"atol": 1e-6, "rtol": 1e-3}


@pytest.mark.parametrize("spec, expected", [
    ({"eye": 2}, np.eye(2)), ({"zeros": [2, 3]}, np.zeros((2, 3))), ({"ones": 2}, np.ones(2)),
    ({"full": [2], "value": 0.5}, np.full(2, 0.5)), ({"arange": [2, 2]}, np.array([[1.0, 2], [3, 4]])),
])
def test_generators(spec, expected):
    assert np.array_equal(generate(spec, "inputs.X"), expected)


def test_random_generators_are_seeded_and_shaped():
    a = generate({"random": "normal", "shape": [3, 2], "seed": 1}, "k")
    assert a.shape == (3, 2) and np.array_equal(a, generate({"random": "normal", "shape": [3, 2], "seed": 1}, "k"))
    s = generate({"random": "spd", "shape": [4, 4], "seed": 0}, "k")
    assert np.allclose(s, s.T) and np.linalg.eigvalsh(s).min() > 0
    q = generate({"random": "orthogonal", "shape": [3, 3], "seed": 0}, "k")
    assert np.allclose(q @ q.T, np.eye(3))


def test_chain_expect_and_references():
    case = one("""
name: chain
inputs: {A: [[1, 2]], W: [[1], [2]]}
function: {Z: A @ W, S: sum(Z)}
wrt: W
expect:
  value: 5
  gradient: A.T
  stages: {Z: {jacobian: [[1, 2]]}, S: {gradient: {Z: [[1]]}}}
""")
    assert case.is_chain and case.output == "S"
    assert [s.reads for s in case.stages] == [("A", "W"), ("Z",)]
    assert isinstance(case.expect.gradient["W"], Expression)
    assert set(case.stage_expect) == {"Z", "S"}


@pytest.mark.parametrize("text, tolerance", [
    ("tolerance: auto", {"auto": 10.0}),
    ("tolerance: {auto: 3}", {"auto": 3.0}),
    ("tolerance: {auto: true}", {"auto": 10.0}),
    ("tolerance: {atol: 1e-9, auto: false}", {"atol": 1e-9}),
    ("method: richardson", None),
])
def test_tolerance_auto_and_new_methods(text, tolerance):
    case = one(f"name: c\ninputs: {{A: 1}}\nfunction: A\n{text}")
    assert not isinstance(case, CaseError), case
    assert case.tolerance == tolerance


@pytest.mark.parametrize("text, key, message", [
    ("name: c\ninputs: {A: [[1, 2], [3]]}\nfunction: A", "inputs.A", "ragged array"),
    ("name: c\ninputs: {A: 1}\nfunction: A\ntolerence: {atol: 1}", "tolerence", "did you mean 'tolerance'"),
    ("name: c\ninputs: {A: 1}\nfunction: foo(A)", "function", "unknown function 'foo'"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nwrt: B", "wrt", "'B' is not an input"),
    ("name: c\ninputs: {A: 1}\nfunction: A\norder: X", "order", "row-major"),
    ("name: c\ninputs: {A: 1}\nfunction: A\ndtype: float16", "dtype", "not one of float64, float32"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nautograd: [tf]", "autograd", "not one of torch, jax"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nmethod: {scheme: central, order: 3}", "method", "order 2, 4, 6 or 8"),
    ("name: c\ninputs: {A: {random: gauss, shape: [2]}}\nfunction: A", "inputs.A.random", "unknown random kind"),
    ("name: c\ninputs: {A: [1, x]}\nfunction: A", "inputs.A", "expected a number"),
    ("name: c\ninputs: {A: 1}\nfunction: A\ntolerance: {atol: -1}", "tolerance.atol", ">= 0"),
    ("name: c\ninputs: {A: 1, B: 2}\nfunction: A\nexpect: {gradient: 1}", "expect.gradient", "give a mapping"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nexpect: {gradeint: 1}", "expect.gradeint", "did you mean 'gradient'"),
    ("inputs: {A: 1}\nfunction: A", "name", "needs a 'name'"),
    ("name: c\nfunction: A", "inputs", "'inputs' must be a mapping"),
    ("name: c\ninputs: {A: 1}\nfunction: A\ntolerance: strict", "tolerance", "auto or a mapping"),
    ("name: c\ninputs: {A: 1}\nfunction: A\ntolerance: {auto: -2}", "tolerance.auto", ">= 0"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nmethod: {scheme: richardson, order: 4}", "method",
     "takes no order"),
    ("name: c\ninputs: {A: 1}\nfunction: A\nmethod: complex", "method", "complex-step"),
])
def test_bad_cases_name_file_case_and_key(text, key, message):
    err = one(text)
    assert isinstance(err, CaseError)
    assert err.key == key and message in err.message
    assert str(err).startswith("f.yaml:")


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("cases: [\n  - name: x", "malformed YAML"),
    ("- 1\n- 2", "a case must be a mapping"),
    ("cases: []", "non-empty list"),
    ("cases: [{name: a}]\nextra: 1", "unknown top-level key 'extra'"),
])
def test_bad_files(text, message):
    items = load_text(text, "f.yaml")
    assert any(isinstance(i, CaseError) and message in i.message for i in items)


def test_one_broken_case_does_not_hide_the_others():
    items = load_text("""
cases:
  - {name: good, inputs: {A: 1}, function: A}
  - {name: bad, inputs: {A: 1}, function: nope(A)}
  - {name: good, inputs: {A: 1}, function: A}
  - {name: last, inputs: {A: 1}, function: A}
""", "f.yaml")
    kinds = [(type(i).__name__, getattr(i, "name", None) or i.case) for i in items]
    assert kinds == [("Case", "good"), ("CaseError", "bad"), ("CaseError", "good"), ("Case", "last")]
    assert "duplicate name" in items[2].message


def test_reading_a_case_file_loads_no_numeric_stack():
    import subprocess
    import sys
    from .conftest import ROOT
    code = ("import sys; from fdcheck.casefile import load_file; "
            f"load_file({str(ROOT / 'cases' / 'teaching.yaml')!r}); "
            "print(sorted(m for m in ('fdcheck.engine', 'fdcheck.evaluate', 'scipy', 'torch', 'jax',"
            " 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("text, value", [
    ("[1+2j, 3-1j]", [1 + 2j, 3 - 1j]),
    ("[[0.5j, -2], [1e-3+1e3j, 2J]]", [[0.5j, -2], [1e-3 + 1e3j, 2j]]),
    ("['1 + 2j', 1e-6]", [1 + 2j, 1e-6]),
])
def test_complex_literals_are_read_as_python_writes_them_and_held_in_real_form(text, value):
    case = one(f"name: c\ninputs: {{z: {text}}}\nfunction: sum(real(z * conj(z)))\n")
    z = np.asarray(value, dtype=complex)
    assert case.complex_inputs == ("z",)
    assert case.inputs["z"].dtype == np.float64 and case.inputs["z"].shape == z.shape + (2,)
    assert np.array_equal(case.inputs["z"][..., 0], z.real)
    assert np.array_equal(case.inputs["z"][..., 1], z.imag)


@pytest.mark.parametrize("text", ["[1+2k]", "[1+j2]", "[1+2i]", "['2jj']"])
def test_a_complex_literal_that_is_not_one_is_a_named_error(text):
    error = one(f"name: c\ninputs: {{z: {text}}}\nfunction: sum(real(z))\n")
    assert isinstance(error, CaseError) and error.key == "inputs.z"
    assert "expected a number" in str(error) and "case 'c'" in str(error)


def test_a_real_case_has_no_complex_inputs():
    case = one("name: c\ninputs: {A: [1e-6, 2]}\nfunction: sum(A)\n")
    assert case.complex_inputs == () and case.inputs["A"].shape == (2,)
