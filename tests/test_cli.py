import numpy as np
"""The command line, end to end: shipped cases, exit codes, JSON, every bad input."""
import pytest

from .conftest import ROOT

GOOD = """
name: good case
inputs: {A: [[1, 2, 3], [4, 5, 6]], W: [[7, 8], [10, 11], [12, 13]], B: [13, 14]}
function: {Z: A @ W + B}
wrt: W
expect:
  value: [[76, 83], [163, 179]]
  jacobian: [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
"""
WRONG = GOOD.replace("[4, 0, 5, 0, 6, 0]", "[4, 0, 5, 0, 5, 0]").replace("good case", "wrong jacobian")


def test_shipped_cases_pass(cli_json):
    code, doc = cli_json(str(ROOT / "cases"), "--allow-python")
    failing = [c for c in doc["cases"] if not c["passed"]]
    assert code == 0, failing
    assert doc["summary"]["cases"] >= 20 and doc["summary"]["failed"] == doc["summary"]["errors"] == 0


def test_seed_numbers_through_the_cli(cli_json):
    code, doc = cli_json(str(ROOT / "cases" / "teaching.yaml"))
    by_name = {c["name"]: c for c in doc["cases"]}
    assert code == 0
    checks = {c["against"] for c in by_name["linear layer, dZ/dW"]["checks"]}
    assert {"value", "analytic"} <= checks


def test_json_document_shape_follows_cases_md(cli_json, write):
    code, doc = cli_json(write("good.yaml", GOOD))
    assert code == 0
    assert set(doc) == {"cases", "summary"}
    assert doc["summary"] == {"cases": 1, "passed": 1, "failed": 0, "errors": 0}
    (case,) = doc["cases"]
    assert {"name", "file", "passed", "error", "checks"} <= set(case)
    assert case["error"] is None and case["passed"] is True
    for check in case["checks"]:
        assert {"against", "wrt", "passed", "max_abs_error", "max_rel_error", "worst"} <= set(check)
        assert {"output", "input", "numeric", "reference"} <= set(check["worst"])
    analytic = next(c for c in case["checks"] if c["against"] == "analytic")
    assert analytic["wrt"] == "W" and analytic["max_abs_error"] < 1e-8


def test_a_wrong_jacobian_fails_with_exit_1_and_names_the_entry(cli, write):
    code, out, _ = cli("run", write("wrong.yaml", WRONG))
    assert code == 1
    assert "dz21/dw31: numeric 6.0000000, analytic 5.0000000" in out
    assert "1 case: 0 passed, 1 failed, 0 errors" in out


BAD = [
    ("malformed.yaml", "cases:\n  - name: x\n    inputs: [1, 2\n", None, "malformed YAML"),
    ("ragged.yaml", "name: ragged\ninputs: {A: [[1, 2], [3]]}\nfunction: sum(A)\n", "inputs.A", "ragged array"),
    ("unknown_key.yaml", "name: typo\ninputs: {A: 1}\nfunction: A\ntolerence: {atol: 1e-6}\n",
     "tolerence", "did you mean 'tolerance'"),
    ("unknown_function.yaml", "name: nofunc\ninputs: {A: [1, 2]}\nfunction: summ(A)\n", "function",
     "unknown function 'summ' (at column 1) in 'summ(A)'; did you mean 'sum'"),
    ("shape.yaml", "name: shape\ninputs: {W: [[1, 2], [3, 4]]}\nfunction: W @ W\n"
                   "expect: {jacobian: [[1, 2, 3], [4, 5, 6]]}\n", "expect.jacobian",
     "shape (2, 3) does not match the Jacobian df/dW: (4, 4)"),
    ("nan.yaml", "name: nan\ninputs: {A: [1, 2]}\nfunction: log(A - 10)\nexpect: {value: 0}\n",
     "function", "is not finite"),
    ("raises.yaml", "name: singular\ninputs: {A: [[1, 2], [2, 4]]}\nfunction: inv(A)\nautograd: [torch]\n",
     "function", "LinAlgError"),
    ("nothing.yaml", "name: checks nothing\ninputs: {A: [1, 2]}\nfunction: sum(A)\n", "expect",
     "nothing to compare"),
    ("empty.yaml", "", None, "the file is empty"),
    ("badshape.yaml", "name: matmul\ninputs: {A: [[1, 2, 3]], W: [[1, 2]]}\nfunction: A @ W\n"
                      "expect: {value: 0}\n", "function", "matmul"),
]


@pytest.mark.parametrize("name, text, key, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exit_2_one_line_and_the_others_still_run(cli_json, cli, write, name, text, key, message):
    bad = write(name, text)
    good = write("zz_good.yaml", GOOD)
    code, doc = cli_json(bad, good)
    assert code == 2
    errors = [c for c in doc["cases"] if c["error"]]
    assert len(errors) == 1
    err = errors[0]["error"]
    assert name in err and message in err and "\n" not in err
    if key:
        assert f"key {key!r}" in err
        assert "case '" in err
    assert any(c["name"] == "good case" and c["passed"] for c in doc["cases"])
    code, out, stderr = cli("run", bad, good)
    assert code == 2 and "Traceback" not in out + stderr


def test_missing_path_is_an_error(cli):
    code, out, _ = cli("run", "no/such/dir")
    assert code == 2 and "no such file or folder" in out


def test_command_line_tolerance_overrides_the_file(cli, write):
    loose = GOOD.replace("[4, 0, 5, 0, 6, 0]", "[4, 0, 5, 0, 6.001, 0]")
    path = write("loose.yaml", loose)
    assert cli("run", path)[0] == 1
    assert cli("run", path, "--atol", "1e-2")[0] == 0


def test_method_and_step_options(cli, cli_json, write):
    path = write("good.yaml", GOOD)
    code, doc = cli_json(path, "--method", "central4", "--step", "1e-3")
    assert code == 0
    assert doc["cases"][0]["evaluations"] == 4 * 6 + 1       # central4, and a look for noise
    code, _, _ = cli("run", path, "--method", "sideways")
    assert code == 2


def test_select_by_name(cli_json):
    code, doc = cli_json(str(ROOT / "cases" / "teaching.yaml"), "-k", "column-major")
    assert [c["name"] for c in doc["cases"]] == ["linear layer, dZ/dW column-major"]


def test_jacobian_command_prints_the_labelled_seed_matrix(cli):
    code, out, _ = cli("jacobian", str(ROOT / "cases" / "teaching.yaml"), "--case", "linear layer, dZ/dW")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["w11", "w12", "w21", "w22", "w31", "w32"]
    assert [line.split() for line in lines[2:6]] == [
        ["z11", "1", "0", "2", "0", "3", "0"], ["z12", "0", "1", "0", "2", "0", "3"],
        ["z21", "4", "0", "5", "0", "6", "0"], ["z22", "0", "4", "0", "5", "0", "6"]]


def test_jacobian_command_column_major_and_tensor_labels(cli, write):
    code, out, _ = cli("jacobian", str(ROOT / "cases" / "teaching.yaml"), "--case",
                       "linear layer, dZ/dW column-major")
    assert code == 0 and out.splitlines()[1].split() == ["w11", "w21", "w31", "w12", "w22", "w32"]
    path = write("t.yaml", "name: t\ninputs: {T: {ones: [2, 1, 2]}}\nfunction: {y: sum(T)}\n")
    code, out, _ = cli("jacobian", path)
    assert code == 0 and out.splitlines()[1].split() == ["t111", "t112", "t211", "t212"]


def test_jacobian_command_unknown_case(cli):
    code, _, err = cli("jacobian", str(ROOT / "cases" / "teaching.yaml"), "--case", "nope")
    assert code == 2 and "no case name contains 'nope'" in err


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["jacobian", "--help"]])
def test_help_has_an_example(cli, args):
    code, out, _ = cli(*args)
    assert code == 0 and "Example" in out and "fdcheck" in out


def test_help_imports_neither_torch_nor_jax():
    import subprocess
    import sys
    code = ("import sys, fdcheck.cli; from click.testing import CliRunner;"
            "CliRunner().invoke(fdcheck.cli.main, ['--help']);"
            "CliRunner().invoke(fdcheck.cli.main, ['run', '--help']);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_numpy_only_run_imports_neither_torch_nor_jax(write):
    import subprocess
    import sys
    path = write("g.yaml", GOOD)
    code = ("import sys, fdcheck; fdcheck.run(%r);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax')))" % path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m(write):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "fdcheck", "run", write("g.yaml", GOOD)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "1 passed" in proc.stdout


@pytest.mark.parametrize("args", [
    ("--method", "richardson"), ("--method", "complex-step"), ("--tolerance", "auto"),
    ("--method", "richardson", "--tolerance", "3"), ("--no-refine",), ("--refine-all",),
])
def test_accuracy_options_on_the_teaching_cases(cli, args):
    code, out, _ = cli("run", str(ROOT / "cases" / "teaching.yaml"), *args)
    assert code == 0, out


@pytest.mark.parametrize("args, message", [
    (("--tolerance", "strict"), "expected auto or a positive multiple"),
    (("--method", "complex"), "richardson or complex-step"),
])
def test_bad_accuracy_options(cli, args, message):
    code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), *args)
    assert code == 2 and message in out + err


def test_json_reports_auto_tolerance_and_the_estimate(cli_json, write):
    path = write("a.yaml", """
name: wrong by 1e-7
inputs: {x: [0.5, 1.5]}
function: {f: sum(exp(x))}
tolerance: auto
expect: {gradient: exp(x) * (1 + 1e-7)}
""")
    code, doc = cli_json(path)
    check = doc["cases"][0]["checks"][0]
    assert code == 1 and check["tolerance"]["auto"] == 10
    assert 0 < check["worst"]["estimated_error"] < 1e-9
    floor = 1e-12 * np.exp(1.5) * (1 + 1e-7)
    assert check["worst"]["bound"] == pytest.approx(10 * check["worst"]["estimated_error"] + floor)


FAILING = "name: sign\ninputs: {A: [[1, 2], [3, 4]]}\nfunction: {S: sum(A * A)}\nexpect: {gradient: -2 * A}\n"


def test_save_writes_the_matrices_with_labels(cli, write, tmp_path):
    code, _, _ = cli("run", write("f.yaml", FAILING), "--save", str(tmp_path / "m"))
    assert code == 1
    (saved,) = (tmp_path / "m").glob("*.npz")
    with np.load(saved) as npz:
        assert np.allclose(npz["numeric"], [[2, 4, 6, 8]], atol=1e-6)
        assert npz["reference"].tolist() == [[-2, -4, -6, -8]]
        assert npz["row_labels"].tolist() == ["s"] and npz["column_labels"].tolist() == ["a11", "a12", "a21", "a22"]


def test_plot_writes_a_png_per_failing_check(cli, write, tmp_path):
    pytest.importorskip("matplotlib")
    good = write("g.yaml", "name: fine\ninputs: {A: [1, 2]}\nfunction: sum(A)\nexpect: {gradient: [1, 1]}\n")
    code, _, _ = cli("run", write("f.yaml", FAILING), good, "--plot", str(tmp_path / "p"))
    assert code == 1
    pngs = sorted(p.name for p in (tmp_path / "p").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].startswith("sign.")
    assert (tmp_path / "p" / pngs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cli("run", good, "--plot", str(tmp_path / "all"), "--plot-all")
    assert len(list((tmp_path / "all").glob("*.png"))) == 1


def test_junit_has_one_testsuite_per_file_and_one_testcase_per_case(cli, write):
    import xml.etree.ElementTree as ET
    bad = write("bad.yaml", "name: broken\ninputs: {A: [1, 2]}\nfunction: summ(A)\n")
    code, out, _ = cli("run", write("f.yaml", FAILING), bad, str(ROOT / "cases" / "teaching.yaml"),
                       "--format", "junit")
    assert code == 2
    root = ET.fromstring(out)
    suites = {s.get("name").rsplit("/", 1)[-1]: s for s in root.iter("testsuite")}
    assert set(suites) == {"f.yaml", "bad.yaml", "teaching.yaml"}
    (failing,) = suites["f.yaml"].iter("testcase")
    assert failing.get("line") == "1" and failing.find("failure") is not None
    assert "hint: the reference is minus" in failing.find("failure").text
    assert suites["bad.yaml"].find("testcase/error") is not None
    assert suites["teaching.yaml"].get("failures") == "0"


@pytest.mark.parametrize("args, message", [
    (["-k", "no such case"], "no case matches -k 'no such case'"),
    ([], "no case files found"),
])
def test_running_nothing_says_so(cli, tmp_path, args, message):
    code, _, err = cli("run", str(tmp_path), *args)
    assert code == 2 and message in err


def test_folders_load_only_case_files_and_say_what_they_skip(cli, tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("name: CI\non: push\njobs: {}\n")
    (tmp_path / "train.yaml").write_text("learning_rate: 0.1\nepochs: 3\n")
    (tmp_path / "c.yaml").write_text("name: sum\ninputs: {A: [1, 2]}\nfunction: sum(A)\n"
                                     "expect: {gradient: [1, 1]}\n")
    code, out, err = cli("run", str(tmp_path), "-v")
    assert code == 0 and "1 case: 1 passed" in out
    assert "train.yaml: not a case file" in err and "ci.yml" not in err + out
    code, _, _ = cli("run", str(tmp_path / "train.yaml"))      # named: loaded, and refused
    assert code == 2


@pytest.mark.parametrize("text, line, message", [
    ("cases:\n  - name: x\n    inputs: {A: [1, 2]}\n    function: sum(A)\n    expect:\n"
     "      gradient: [1, 1]\n    tolerance:\n      atol: -1\n", 8, "key 'tolerance.atol'"),
    ("name: t\ninputs:\n\tA: [1, 2]\n", 3, "not tabs: replace the tab with spaces"),
    ("name: t\ninputs: {a: [1, 2], b: [3, 4]}\nfunction: {f: outer(a, b)}\nexpect: {value: 1}\n", 3,
     "inside {...} a comma ends a value"),
])
def test_errors_point_at_the_offending_line_and_say_what_to_write(cli_json, write, text, line, message):
    code, doc = cli_json(write("e.yaml", text))
    error = doc["cases"][0]["error"]
    assert code == 2 and f"e.yaml:{line}:" in error and message in error


@pytest.mark.parametrize("text, names", [
    ("linear layer, dZ/dW", ["linear layer, dZ/dW"]),            # exact: that case alone
    ("layer, dZ", ["linear layer, dZ/dW", "linear layer, dZ/dW column-major"]),   # as run -k
])
def test_jacobian_case_matches_exactly_then_as_run_k(cli, text, names):
    code, out, _ = cli("jacobian", str(ROOT / "cases" / "teaching.yaml"), "--case", text)
    heads = [line.split(": dZ/dW")[0] for line in out.splitlines() if ", row-major," in line
             or ", column-major," in line]
    assert code == 0 and heads == names
