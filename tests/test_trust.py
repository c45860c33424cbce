"""Trust: nothing passes that was not verified, bad inputs are named errors on
every face, and one bad case or file never takes the run down."""
import json

import numpy as np
import pytest

import fdcheck
from fdcheck.report import notes_text

GOOD = "name: good case\ninputs: {A: [1, 2]}\nfunction: sum(A ** 2)\nexpect: {gradient: [2, 4]}\n"

def _alias_bomb(levels: int = 10, width: int = 12) -> str:
    """A few hundred bytes that expand to width**levels items."""
    lines = ["l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nname: bomb\ninputs: {{x: *l{levels - 1}}}\nfunction: sum(x)\n"


BAD_FILES = [
    # (label, file text, key named (None: the file), words of the message)
    ("constant overflow", "name: c\ninputs: {x: [1, 2]}\nfunction: x / (1000 * 1000) + exp(1000)\n"
     "expect: {value: 0}\n", "function", "overflows a float64"),
    ("log of a negative constant", "name: c\ninputs: {x: [1, 2]}\nfunction: x + log(-1)\n"
     "expect: {value: 0}\n", "function", "outside its domain"),
    ("a power tower", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x) + 10 ** 10 ** 10\n"
     "expect: {value: 0}\n", "function", "overflows"),
    ("a 401-digit integer", f"name: c\ninputs: {{x: [1, 2]}}\nfunction: x + {'9' * 401}\n"
     "expect: {value: 0}\n", "function", "too large for a float64"),
    ("600 chained terms", "name: c\ninputs: {x: [1, 2]}\nfunction: x" + " + x" * 600
     + "\nexpect: {value: 0}\n", "function", "nested too deeply"),
    ("600 parentheses", "name: c\ninputs: {x: [1, 2]}\nfunction: " + "(" * 600 + "x" + ")" * 600
     + "\nexpect: {value: 0}\n", "function", "nested"),
    ("autograd: 5", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\nautograd: 5\n", "autograd",
     "a name or a list"),
    ("expect.stages a list", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\n"
     "expect: {stages: [1]}\n", "expect.stages", "a mapping"),
    ("a negative seed", "name: c\ninputs: {x: {random: normal, shape: [2], seed: -1}}\n"
     "function: sum(x)\nexpect: {value: 0}\n", "inputs.x.seed", "integer >= 0"),
    ("eye of two sizes", "name: c\ninputs: {x: {eye: [2, 3]}}\nfunction: sum(x)\nexpect: {value: 0}\n",
     "inputs.x.eye", "one size"),
    ("10^10 elements", "name: c\ninputs: {x: {zeros: [100000, 100000]}}\nfunction: sum(x)\n"
     "expect: {value: 0}\n", "inputs.x.zeros", "at most 10000000"),
    ("70 dimensions", "name: c\ninputs: {x: {ones: [" + ", ".join(["1"] * 70) + "]}}\n"
     "function: sum(x)\nexpect: {value: 0}\n", "inputs.x.ones", "70 dimensions"),
    ("a NaN atol", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\nexpect: {gradient: [1, 1]}\n"
     "tolerance: {atol: .nan}\n", "tolerance.atol", ">= 0"),
    ("a fractional stencil order", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\n"
     "expect: {gradient: [1, 1]}\nmethod: {scheme: central, order: 2.5}\n", "method", "whole number"),
    ("a zero step", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\nexpect: {gradient: [1, 1]}\n"
     "method: {step: 0}\n", "method", "positive"),
    ("an unknown dtype", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\nexpect: {gradient: [1, 1]}\n"
     "dtype: float16\n", "dtype", "is not one of"),
    ("a negative band", "name: c\ninputs: {x: [1, 2]}\nfunction: x\nexpect: {jacobian: [[1, 0], [0, 1]]}\n"
     "sparsity: {band: [-1, 1]}\n", "sparsity", "sparsity is"),
    ("no expect and no autograd", "name: c\ninputs: {x: [1, 2]}\nfunction: sum(x)\n", "expect",
     "nothing to compare"),
    ("a key given twice", "name: c\ninputs: {x: [1, 2]}\nname: d\nfunction: sum(x)\n", None,
     "given twice"),
    ("an alias bomb", _alias_bomb(), None, "more than 100 aliases"),
    ("an alias bomb of few aliases", _alias_bomb(levels=8, width=12), None,
     "expand to more than 10000000 values"),
]


@pytest.mark.parametrize("label, text, key, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_case_file_is_one_named_error_and_the_others_run(cli_json, cli, write, label, text,
                                                                key, message):
    bad = write("bad.yaml", text)
    good = write("zz_good.yaml", GOOD)
    code, doc = cli_json(bad, good)
    assert code == 2
    (error,) = [c["error"] for c in doc["cases"] if c["error"]]
    assert message in error and "\n" not in error and "bad.yaml" in error
    if key:
        assert f"key '{key}'" in error
    assert any(c["name"] == "good case" and c["passed"] for c in doc["cases"])
    code, out, err = cli("run", bad, good)
    assert code == 2 and "Traceback" not in out + err


@pytest.mark.parametrize("gradient, passes", [("[.inf, 1]", False), ("[.nan, 1]", False),
                                              ("[1, 1]", True)])
def test_a_reference_that_is_not_finite_fails(cli_json, write, gradient, passes):
    code, doc = cli_json(write("r.yaml", f"name: r\ninputs: {{x: [1, 2]}}\nfunction: sum(x)\n"
                                         f"expect: {{gradient: {gradient}}}\n"))
    assert doc["cases"][0]["passed"] is passes and code == (0 if passes else 1)


@pytest.mark.parametrize("text, shape", [
    ("name: s\ninputs: {x: 0.7}\nfunction: x ** 2\nexpect: {gradient: 2 * x}\n", []),
    ("name: s\ninputs: {x: 0.7}\nfunction: x ** 2\nexpect: {gradient: 2 * x}\nbackend: torch\n"
     "autograd: [torch]\n", []),
    ("name: s\ninputs: {x: 0.7}\nfunction: x ** 2\nexpect: {gradient: 2 * x}\nbackend: jax\n"
     "autograd: [jax]\n", []),
])
def test_a_scalar_input_stays_zero_dimensional_on_every_backend(cli_json, write, text, shape):
    if "torch" in text:
        pytest.importorskip("torch")
    if "jax" in text:
        pytest.importorskip("jax")
    code, doc = cli_json(write("s.yaml", text))
    assert code == 0, doc
    assert all(c["worst"]["input"] == shape for c in doc["cases"][0]["checks"])


def test_a_zero_dimensional_api_input_keeps_its_shape():
    seen = []

    def f(x):
        seen.append(np.shape(x))
        return x ** 3
    result = fdcheck.check(f, np.array(0.5), gradient=3 * 0.25)
    assert result.passed and set(seen) == {()}


SCRIPT = "import sys\n\ndef loud(x):\n    print('hello from the function')\n    return x.sum()\n\n" \
         "def leaves(x):\n    sys.exit(3)\n"


def test_user_code_that_prints_or_exits_changes_nothing_but_its_own_case(cli, write, tmp_path):
    (tmp_path / "mine.py").write_text(SCRIPT)
    loud = write("loud.yaml", "name: loud\ninputs: {x: [1, 2]}\nfunction: {python: 'mine:loud'}\n"
                              "expect: {gradient: [1, 1]}\n")
    leaves = write("leaves.yaml", "name: leaves\ninputs: {x: [1, 2]}\n"
                                  "function: {python: 'mine:leaves'}\nexpect: {gradient: [1, 1]}\n")
    code, out, err = cli("run", leaves, loud, "--allow-python", "--format", "json")
    doc = json.loads(out)                                 # the prints went to standard error
    assert code == 2 and doc["summary"] == {"cases": 2, "passed": 1, "failed": 0, "errors": 1}
    assert "sys.exit(3)" in doc["cases"][0]["error"] and "hello" in err


def test_a_name_with_a_newline_cannot_forge_a_report_line(cli, write):
    path = write("n.yaml", 'name: "two\\nPASS  forged"\ninputs: {x: [1, 2]}\nfunction: sum(x)\n'
                           "expect: {gradient: [1, 2]}\n")
    code, out, _ = cli("run", path)
    assert code == 1 and not any(line.startswith("PASS") for line in out.splitlines())


def test_ctrl_c_reports_the_cases_finished_and_exits_130(cli, write, monkeypatch):
    import fdcheck.runner as runner
    real = runner.run_paths

    def interrupted(*args, **kwargs):
        for k, result in enumerate(real(*args, **kwargs)):
            if k == 1:
                raise KeyboardInterrupt
            yield result
    monkeypatch.setattr(runner, "run_paths", interrupted)
    first, second = write("a.yaml", GOOD), write("b.yaml", GOOD.replace("good case", "second"))
    code, out, err = cli("run", first, second)
    assert code == 130 and "PASS  good case" in out and "1 case(s) finished" in err


@pytest.mark.parametrize("call, error, message", [
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2), wrt="y", gradient=np.ones(2)),
     ValueError, "wrt='y' is not an input"),
    (lambda: fdcheck.check(lambda a, b: (a * b).sum(), np.ones(2), np.ones(2), names=["a"],
                           gradient=np.ones(2)), ValueError, "names has 1 entries for 2 inputs"),
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2), gradient=np.ones(2),
                           method={"scheme": "central", "order": 2.5}), ValueError, "whole number"),
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2), gradient=np.ones(2), derivatives=3),
     ValueError, "derivatives is 1 or 2"),
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2), gradient=np.ones(2), modes="sideways"),
     ValueError, "modes: 'sideways' is not one of reverse, forward"),
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2), autograd=True), ValueError,
     "NumPy has no autograd"),
    (lambda: fdcheck.check(lambda x: x.sum(), np.ones(2)), ValueError, "nothing to compare"),
])
def test_api_errors_in_plain_words(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_api_accepts_input_names_for_wrt():
    result = fdcheck.check(lambda a, b: (a * b).sum(), np.ones(2), np.full(2, 3.0), wrt="b",
                           gradient=np.ones(2))
    assert result.passed and [c.wrt for c in result.checks] == ["b"]


PLACES = {
    "function": "function: {python: 'evil:f'}\nexpect: {gradient: [1, 1]}\n",
    "a stage": "function: {s: {python: 'evil:f'}, t: s * 2}\nexpect: {gradient: [2, 2]}\n",
    "expect.value": "function: sum(x)\nexpect: {value: {python: 'evil:f'}}\n",
    "expect.gradient": "function: sum(x)\nexpect: {gradient: {python: 'evil:f'}}\n",
    "expect.jacobian": "function: sum(x)\nexpect: {jacobian: {python: 'evil:f'}}\n",
    "expect.hessian": "function: sum(x ** 2)\nexpect: {hessian: {python: 'evil:f'}}\n",
    "expect.stages.value": "function: {s: x * 2, t: sum(s)}\nexpect: {stages: {s: {value: {python: 'evil:f'}}}}\n",
    "expect.stages.gradient": "function: {s: sum(x), t: s * 2}\n"
                              "expect: {stages: {s: {gradient: {python: 'evil:f'}}}}\n",
    "expect.stages.jacobian": "function: {s: x * 2, t: sum(s)}\n"
                              "expect: {stages: {s: {jacobian: {python: 'evil:f'}}}}\n",
}


@pytest.mark.parametrize("place", PLACES)
def test_user_code_is_refused_without_the_flag_at_every_place_that_can_reach_it(cli_json, write,
                                                                                 tmp_path, place):
    marker = tmp_path / "imported"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                      "def f(**kw):\n    return 1.0\n")
    code, doc = cli_json(write("p.yaml", "name: p\ninputs: {x: [1, 2]}\n" + PLACES[place]))
    assert code == 2 and "--allow-python" in doc["cases"][0]["error"]
    assert not marker.exists()
    # The key named is the place of the {python: ...}, not always 'function'.
    key = {"a stage": "function.s", "expect.stages.value": "expect.stages.s.value",
           "expect.stages.gradient": "expect.stages.s.gradient",
           "expect.stages.jacobian": "expect.stages.s.jacobian"}.get(place, place)
    assert f"key '{key}'" in doc["cases"][0]["error"]


def test_a_case_over_its_time_is_an_error_and_the_others_run(cli_json, write, tmp_path):
    (tmp_path / "slow.py").write_text("import time\ndef f(x):\n    time.sleep(30)\n    return x.sum()\n")
    slow = write("slow.yaml", "name: slow\ninputs: {x: [1, 2]}\nfunction: {python: 'slow:f'}\n"
                              "expect: {gradient: [1, 1]}\n")
    code, doc = cli_json(slow, write("zz.yaml", GOOD), "--allow-python", "--timeout", "0.5")
    assert code == 2
    slow_case, good_case = doc["cases"]
    assert "ran longer than the time allowed (0.5 s)" in slow_case["error"]
    assert good_case["passed"]


@pytest.mark.parametrize("option, value", [("--atol", "-1"), ("--atol", "nan"), ("--rtol", "inf"),
                                           ("--step", "0"), ("--step", "nan"), ("--timeout", "0"),
                                           ("--workers", "0")])
def test_bad_numbers_on_the_command_line_are_named(cli, option, value):
    from .conftest import ROOT
    code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), option, value)
    assert code == 2 and option in out + err


@pytest.mark.parametrize("kwargs, message", [
    ({"atol": -1.0}, "atol: must be a finite number >= 0"),
    ({"rtol": float("nan")}, "rtol: must be a finite number >= 0"),
    ({"directions": 10 ** 9}, "directions is an integer from 1 to 10000"),
    ({"step": 0.0}, "positive"),
])
def test_bad_numbers_in_the_api_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fdcheck.check(lambda x: x.sum(), np.ones(2), gradient=np.ones(2), **kwargs)


@pytest.mark.parametrize("gradient", [[1.0, 20000.0, 1.0], [1.0, 1.0, 1.0]])
def test_a_check_that_rounding_blinds_cannot_pass(gradient):
    # At 6e23 one ulp of the sum is 7e7: no step resolves a slope of 1 there.
    x = np.array([1.0, 1e6, 6.02e23])
    result = fdcheck.check(lambda x: x.sum(), x, gradient=np.array(gradient), atol=1e-6, rtol=1e-6)
    (c,) = result.checks
    assert not c.passed and c.resolution > 1 and "unverifiable" in " ".join(notes_text(c))
    # Its differences are rounding: no hint explains them.
    assert c.verdict == "unverifiable" and not c.diagnosis and "hint:" not in str(result)


def test_a_noisy_function_cannot_pass_a_wrong_gradient():
    rng = np.random.default_rng(0)
    noisy = lambda x: np.sum(x ** 2) + 0.1 * rng.standard_normal()  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    assert not fdcheck.check(noisy, x, gradient=20 * x).passed


@pytest.mark.parametrize("size, expected", [(1.0, 1e-5), (1e-4, 1e-5)])
def test_a_passing_check_says_its_resolution(cli_json, write, size, expected):
    code, doc = cli_json(write("r.yaml", f"name: r\ninputs: {{x: [1, 2]}}\nfunction: {size} * sum(x ** 2)\n"
                                         f"expect: {{gradient: {2 * size} * x}}\n"))
    (check,) = doc["cases"][0]["checks"]
    assert code == 0 and expected <= check["resolution"] < 2 * expected


@pytest.mark.parametrize("gradient, passes", [
    ([5.0, 1.0], False),            # 5 lies outside the subdifferential [-1, 1] of |x| at 0
    ([0.3, 1.0], True), ([-1.0, 1.0], True), ([1.0, 1.0], True),
    ([0.3, 2.0], False),            # the smooth entry is checked as ever
])
def test_a_reference_at_a_kink_must_lie_between_the_one_sided_slopes(gradient, passes):
    result = fdcheck.check(lambda x: np.abs(x).sum(), np.array([0.0, 1.0]),
                           gradient=np.array(gradient))
    assert result.passed is passes, str(result)


def test_a_noisy_function_is_said_to_be_noisy():
    rng = np.random.default_rng(1)
    result = fdcheck.check(lambda x: np.sum(x ** 2) + 1e-3 * rng.standard_normal(),
                           np.array([0.5, 2.0]), gradient=np.array([1.0, 4.0]))
    assert any("the function is noisy" in n for n in notes_text(result.checks[0]))
    quiet = fdcheck.check(lambda x: np.sum(x ** 2), np.array([0.5, 2.0]), gradient=np.array([1.0, 4.0]))
    assert not any("noisy" in n for n in notes_text(quiet.checks[0]))


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_an_empty_output_is_a_check_of_no_entries_reported_as_such(framework):
    x = np.ones(3)
    if framework == "torch":
        torch = pytest.importorskip("torch")
        x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    if framework == "jax":
        jnp = pytest.importorskip("jax.numpy")
        x = jnp.ones(3)
    result = fdcheck.check(lambda x: x[:0] * 2, x, jacobian=np.zeros((0, 3)))
    assert result.passed and all(c.entries == 0 for c in result.checks)
    assert "no entries: the derivative is empty" in str(result)


def test_a_numpy_function_returning_a_tensor_and_a_meta_tensor_are_named():
    torch = pytest.importorskip("torch")
    from fdcheck.errors import EvaluationError
    with pytest.raises(EvaluationError, match="returned a torch.Tensor for numpy inputs"):
        fdcheck.check(lambda x: torch.tensor(x.tolist()).sum(), np.ones(3), gradient=np.ones(3))
    with pytest.raises(ValueError, match="meta tensor"):
        fdcheck.check(lambda x: x.sum(), torch.ones(3, device="meta", dtype=torch.float64))


def _log_first(x):
    import math
    return math.log(x[0]) + x[1] ** 2      # math.log raises below 0, unlike np.log


@pytest.mark.parametrize("x, gradient", [
    (np.array([1e-7, 1.0]), [1e7, 2.0]),    # x - h < 0: a tenth of the step, then a hundredth
    (np.array([3e-6, 1.0]), [1 / 3e-6, 2.0]),
])
def test_a_function_raising_at_a_point_of_the_stencil_is_retried_with_smaller_steps(x, gradient):
    result = fdcheck.check(_log_first, x, gradient=np.array(gradient))
    assert result.passed, str(result)
    assert any("taken with a smaller step or one-sided" in n for n in notes_text(result.checks[0]))


def test_a_function_that_raises_at_every_step_names_the_element():
    from fdcheck.errors import EvaluationError

    def f(x):
        if x[1] != 2.0:
            raise ValueError("only at 2")
        return x.sum()
    with pytest.raises(EvaluationError, match=r"raises near input element 1 \(x = 2.0\)"):
        fdcheck.numeric(f, np.array([1.0, 2.0]))


def test_a_report_that_cannot_be_written_is_one_line_not_a_traceback(monkeypatch, capsys):
    import click

    import fdcheck.cli as cli

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(click, "echo", full_disk)
    from .conftest import ROOT
    monkeypatch.setattr("sys.argv", ["fdcheck", "run", str(ROOT / "cases" / "teaching.yaml")])
    with pytest.raises(SystemExit) as stopped:
        cli.entry()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "fdcheck: cannot write the report: No space left on device\n"


def _transposed():
    import torch
    # x.T of a contiguous tensor is a view; as_strided reads its storage by strides.
    return torch.arange(1.0, 7.0, dtype=torch.float64).reshape(3, 2).T


def _partial_view():
    import torch
    # A contiguous view at storage offset 5: as_strided(..., storage_offset=0)
    # reads the base's storage before it (OpInfo's as_strided partial_views).
    return torch.arange(1.0, 16.0, dtype=torch.float64)[5:]


@pytest.mark.parametrize("make, offset", [(_transposed, None), (_partial_view, 0)])
def test_a_layout_dependent_function_sees_the_same_tensors_on_both_sides(make, offset):
    torch = pytest.importorskip("torch")
    x = make().requires_grad_(True)
    kwargs = {} if offset is None else {"storage_offset": offset}
    result = fdcheck.check(lambda x: torch.as_strided(x, (2, 2), (1, 2), **kwargs) * 1.0, x)
    assert result.passed, str(result)


TAN_POLE = np.pi / 2 - 2.75e-3


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.1, False), (1.5, False), (2.0, False)])
def test_an_entry_beside_a_pole_is_judged_by_the_estimate_that_holds(factor, passes):
    # Richardson's larger steps cross the pole and go wrong there; the plain
    # central difference is right. Neither a mistake is excused, nor the right
    # derivative called wrong.
    x = np.linspace(-1.0, 1.0, 16)
    x[5] = TAN_POLE
    g = 1 / np.cos(x) ** 2
    g[5] *= factor
    (c,) = fdcheck.check(np.tan, x, jacobian=np.diag(g)).checks
    assert c.passed is passes and c.unreliable == 0
    if not passes:
        assert c.verdict == "mismatch" and c.worst.input == (5,)


def _logcumsumexp(x):
    return np.logaddexp.accumulate(x)


@pytest.mark.parametrize("mistake", ["double", "negate", "zero"])
def test_mistakes_near_large_values_are_caught(mistake):
    x = np.full(6, 1e4)
    x[::2] += np.linspace(0.0, 1.0, 3)
    y = _logcumsumexp(x)
    J = np.tril(np.exp(x[None, :] - y[:, None]))
    assert fdcheck.check(_logcumsumexp, x, jacobian=J).passed
    J[3, 1] = {"double": 2 * J[3, 1], "negate": -J[3, 1], "zero": 0.0}[mistake]
    (c,) = fdcheck.check(_logcumsumexp, x, jacobian=J).checks
    assert not c.passed and c.verdict == "mismatch" and c.worst.output == (3,)


def test_a_difference_no_step_can_settle_fails_as_unverifiable(cli_json, write):
    rng = np.random.default_rng(3)
    noisy = lambda x: x ** 2 + 1e-6 * rng.standard_normal(x.shape)  # noqa: E731
    result = fdcheck.check(noisy, np.array([1.0, 2.0]), jacobian=np.diag([2.0, 4.5]))
    (c,) = result.checks
    assert not c.passed and c.verdict == "unverifiable" and c.unverified == c.mismatches >= 1
    assert "did not settle" in str(result)


@pytest.mark.parametrize("gradient, verdict", [([1.0, 1.0], "passed"), ([5.0, 1.0], "mismatch"),
                                               ([1.0, 3.0], "mismatch")])
def test_the_verdict_is_in_the_json(cli_json, write, gradient, verdict):
    code, doc = cli_json(write("v.yaml", "name: v\ninputs: {x: [0, 1]}\nfunction: sum(abs(x))\n"
                                         f"expect: {{gradient: {gradient}}}\n"))
    (check,) = doc["cases"][0]["checks"]
    assert check["verdict"] == verdict and code == (0 if verdict == "passed" else 1)


@pytest.mark.parametrize("factor, passes", [(2.0, True), (2.02, False)])
def test_a_jacobian_too_large_to_hold_is_checked_along_directions(monkeypatch, factor, passes):
    from fdcheck import subject
    monkeypatch.setattr(subject, "MAX_JACOBIAN_ENTRIES", 100)
    x = np.linspace(0.5, 1.5, 20)
    result = fdcheck.check(lambda x: 2 * x, x, jacobian=lambda x: factor * np.eye(x.size))
    (c,) = result.checks
    assert c.passed is passes
    assert "20 x 20 entries" in " ".join(notes_text(c)) and "4 random directions" in " ".join(notes_text(c))
    # 2 evaluations a direction where they agree; never the 40 of the whole Jacobian.
    assert not passes or result.evaluations < 40


def test_a_mistake_where_the_differences_agree_to_rounding_is_a_mismatch():
    # det is linear in each entry: its one-sided slopes agree only to rounding,
    # which at an ill-conditioned X is above the ladder's noise level; the
    # estimates are flat, and a reference far from all of them is wrong.
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    X = u @ np.diag([1.0, 1e-1, 1e-2, 1e-3]) @ v.T
    g = np.linalg.det(X) * np.linalg.inv(X).T
    wrong = g.copy()
    wrong[1, 3] += 1e-2 * np.abs(g).max()
    assert fdcheck.check(np.linalg.det, X, gradient=g).passed
    (c,) = fdcheck.check(np.linalg.det, X, gradient=wrong).checks
    assert c.verdict == "mismatch" and c.worst.input == (1, 3)


def test_steps_far_above_the_inputs_scale_are_never_taken_for_a_jump():
    # float32 logdet(X^T X) at X of 1e-4 scale: every step tried is far larger
    # than X, and the quotients grow; the right gradient is not excused, nor
    # called wrong: unverifiable.
    X = 1e-4 * np.random.default_rng(1).standard_normal((5, 3))
    f = lambda X: np.float32(np.linalg.slogdet(X.T @ X)[1])  # noqa: E731
    g = 2 * X @ np.linalg.inv(X.T @ X)
    (c,) = fdcheck.check(f, X.astype(np.float32), gradient=g).checks
    assert c.verdict in ("passed", "unverifiable") and c.unreliable == 0
