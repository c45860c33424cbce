"""--explore (fdcheck/explore.py): drawn inputs find a mistake the written point
hides, shrunk to the smallest case, written out to be run again."""
import json

import numpy as np

import pytest

import fdcheck

pytest.importorskip("hypothesis")

PLANTED = '''import numpy as np


def mean_cols(X):
    return np.sum(X) / X.shape[1]


def grad_mean_cols(X):                # right
    return np.ones_like(X) / X.shape[1]


def grad_mean_rows(X):                # the rows' count for the columns': right when square
    return np.ones_like(X) / X.shape[0]


def logdet(X):
    return np.linalg.slogdet(X)[1]


def grad_logdet(X):                   # right
    return np.linalg.inv(X).T


def grad_logdet_regularized(X):       # right but for ill-conditioned X
    return np.linalg.inv(X + 1e-6 * np.eye(len(X))).T
'''

CASES = '''cases:
  - name: mean
    inputs: {{X: [[1.0, 2.0], [3.0, 4.0]]}}
    function: {{python: "planted:mean_cols"}}
    expect: {{gradient: {{python: "planted:{mean}"}}}}
    explore:
      dims: {{m: [1, 5], n: [1, 5]}}
      inputs: {{X: {{shape: [m, n]}}}}
  - name: logdet
    inputs: {{X: [[2.0, 0.5], [0.3, 3.0]]}}
    function: {{python: "planted:logdet"}}
    expect: {{gradient: {{python: "planted:{logdet}"}}}}
    explore:
      dims: {{n: [1, 5]}}
      inputs: {{X: {{shape: [n, n], condition: [1, 1e10]}}}}
'''


@pytest.fixture
def planted(tmp_path, monkeypatch):
    (tmp_path / "planted.py").write_text(PLANTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(mean, logdet):
        (tmp_path / "c.yaml").write_text(CASES.format(mean=mean, logdet=logdet))
        return "c.yaml"
    return write


def test_planted_mistakes_are_found_and_shrunk_to_their_smallest_case(planted, tmp_path):
    path = planted("grad_mean_rows", "grad_logdet_regularized")
    written = fdcheck.run(path, allow_python=True)
    assert [r.passed for r in written] == [True, True]        # the written point hides both
    mean, logdet = fdcheck.run(path, allow_python=True, explore=200)
    assert not mean.passed and mean.exploration.failed
    assert mean.exploration.shapes == {"X": (1, 2)}            # the smallest non-square
    assert not logdet.passed and logdet.exploration.failed
    (shape,) = logdet.exploration.shapes.values()
    assert shape == (2, 2) and logdet.exploration.conditions["X"] > 10
    assert logdet.exploration.drawn <= 200


def test_right_references_survive_every_draw(planted):
    path = planted("grad_mean_cols", "grad_logdet")
    results = fdcheck.run(path, allow_python=True, explore=60)
    for r in results:
        assert r.passed and not r.exploration.failed and r.exploration.drawn == 60


def test_the_shrunk_case_is_written_out_and_fails_again(planted, tmp_path):
    path = planted("grad_mean_rows", "grad_logdet")
    mean, _ = fdcheck.run(path, allow_python=True, explore=100, explore_dir="found")
    (again,) = fdcheck.run(mean.exploration.path, allow_python=True)
    assert again.name == "mean (explored: X 1x2)" and not again.passed
    assert again.checks[0].diagnosis[0].kind == "scale"


def test_the_same_seed_draws_the_same_inputs(planted):
    path = planted("grad_mean_rows", "grad_logdet")
    first = fdcheck.run(path, allow_python=True, explore=50, select="mean")[0].exploration
    again = fdcheck.run(path, allow_python=True, explore=50, select="mean")[0].exploration
    assert first.drawn == again.drawn and (first.inputs["X"] == again.inputs["X"]).all()


def test_the_command_line_reports_both_and_the_json_carries_the_exploration(planted, cli):
    path = planted("grad_mean_rows", "grad_logdet")
    code, out, _ = cli("run", path, "--allow-python", "--explore", "100", "-k", "mean")
    assert code == 1
    assert "every check passes at the written inputs; the input drawn" in out
    assert "shrunk to X 1x2" in out
    code, out, _ = cli("run", path, "--allow-python", "--explore", "100", "-k", "mean",
                       "--format", "json")
    found = json.loads(out)["cases"][0]["explore"]
    assert found["failed"] and found["shapes"] == {"X": [1, 2]} and found["path"]


@pytest.mark.parametrize("explore, key, words", [
    ("{inputs: {Y: {shape: [2, 2]}}}", "explore.inputs.Y", "no input"),
    ("{inputs: {X: {shape: [m, 2]}}}", "explore.inputs.X.shape", "dims"),
    ("{dims: {m: [3, 1]}, inputs: {X: {shape: [m, 2]}}}", "explore.dims.m", "above"),
    ("{inputs: {X: {shape: [2, 2], condition: [0.5, 2]}}}", "explore.inputs.X.condition",
     "at least 1"),
    ("{inputs: {X: {shape: [2, 2], size: 3}}}", "explore.inputs.X.size", "unknown key"),
])
def test_a_bad_explore_key_is_named(tmp_path, monkeypatch, explore, key, words):
    (tmp_path / "c.yaml").write_text("name: c\ninputs: {X: [[1.0, 2.0], [3.0, 4.0]]}\n"
                                     f"function: sum(X ** 2)\nexpect: {{gradient: 2 * X}}\n"
                                     f"explore: {explore}\n")
    (result,) = fdcheck.run(str(tmp_path / "c.yaml"), explore=10)
    assert result.status == "error" and result.error_key == key and words in result.error


def test_the_api_explores_a_call_with_vary():
    f = lambda X: np.sum(X) / X.shape[1]  # noqa: E731
    rows = lambda X: np.ones_like(X) / X.shape[0]  # noqa: E731
    vary = {"dims": {"m": [1, 4], "n": [1, 4]}, "inputs": {"X": {"shape": ["m", "n"]}}}
    result = fdcheck.check(f, np.ones((2, 2)), gradient=rows, explore=100, vary=vary)
    assert not result.passed and result.exploration.shapes == {"X": (1, 2)}
    assert result.exploration.path is None            # a call has no file to write beside
    with pytest.raises(fdcheck.CaseError, match="explore.inputs.Y|no input"):
        fdcheck.check(f, np.ones((2, 2)), gradient=rows, explore=10,
                      vary={"inputs": {"Y": {"shape": [2, 2]}}})
