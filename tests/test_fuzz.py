"""A fuzzer of our own: generated expressions, case files and options must
never give a traceback, an exit status other than 0, 1, 2 or 130, a lost
case, or a report that is not strict JSON or valid JUnit.

The budget is small in ``make check``; ``make fuzz`` runs the same properties
with FDCHECK_FUZZ_EXAMPLES examples each (default here: 40).
"""
import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fdcheck  # noqa: E402
from fdcheck.casefile import load_text  # noqa: E402
from fdcheck.errors import CaseError, ExpressionError  # noqa: E402
from fdcheck.expr import FUNCTIONS, Expression  # noqa: E402
from fdcheck.runner import run_case  # noqa: E402

EXAMPLES = int(os.environ.get("FDCHECK_FUZZ_EXAMPLES", "40"))
# Derandomized in make check (the same examples every run, so CI is stable);
# make fuzz sets FDCHECK_FUZZ_RANDOM=1 for new examples each run.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="FDCHECK_FUZZ_RANDOM" not in os.environ,
                suppress_health_check=list(HealthCheck))

NAMES = ["x", "W", "Z"]
numbers = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 1e-3, 2.5, 1e300, 0.0]))


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(NAMES + ["y", "__x", "1e999"]),
                       numbers.map(str))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "@", "%", "//"]),
                           inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        call = st.tuples(st.sampled_from(sorted(FUNCTIONS) + ["eval", "open"]),
                         st.lists(inner, min_size=0, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})")
        other = st.one_of(inner.map(lambda s: f"-{s}"), inner.map(lambda s: f"{s}.T"),
                          inner.map(lambda s: f"{s}[0]"), inner.map(lambda s: f"{s}[1:]"),
                          inner.map(lambda s: f"sum({s}, axis=0)"),
                          inner.map(lambda s: f"{s}.real"), inner.map(lambda s: f"lambda: {s}"))
        return st.one_of(binary, call, other)
    return st.recursive(leaves, extend, max_leaves=12)


@FUZZ
@given(_expressions())
def test_an_expression_compiles_or_is_refused_by_name(source):
    try:
        expr = Expression(source, set(NAMES))
    except ExpressionError:
        return
    env = {"x": np.array([0.5, -1.5]), "W": np.array([[1.0, 2.0], [3.0, 4.0]]),
           "Z": np.array(2.0)}
    ops = fdcheck.backends.get("numpy").ops_for(None)
    try:
        with np.errstate(all="ignore"):
            expr(env, ops)
    except (ValueError, TypeError, IndexError, ArithmeticError, np.linalg.LinAlgError):
        pass  # the runner names these as the case's own errors (a shape, a domain)


@FUZZ
@given(_expressions(), st.sampled_from(["[1, -2]", "[[1, 2], [3, 4]]", "0.5"]))
def test_a_case_of_any_expression_is_a_result_never_a_traceback(source, x):
    text = yaml.safe_dump({"name": "f", "inputs": {"x": yaml.safe_load(x),
                                                   "W": [[1.0, 2.0], [3.0, 4.0]]},
                           "function": source, "wrt": "x", "autograd": []})
    text += "expect: {value: 1}\n"
    items = load_text(text)
    assert len(items) == 1
    if isinstance(items[0], CaseError):
        return
    result = run_case(items[0])
    assert result.status in ("passed", "failed", "error")
    assert result.error is None or "internal error" not in result.error, result.error


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 10 ** 6), numbers,
                     st.text(max_size=12), st.sampled_from([".inf", ".nan", "1e-6", "auto"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)
_keys = st.sampled_from(["name", "inputs", "function", "wrt", "expect", "autograd", "tolerance",
                         "order", "method", "dtype", "backend", "sparsity", "directions",
                         "derivatives", "modes", "description", "tolerence", "cases",
                         "defaults"])


@st.composite
def _case_files(draw: st.DrawFn) -> str:
    case = {"name": "c", "inputs": {"x": [1.0, 2.0]}, "function": "sum(x ** 2)",
            "expect": {"gradient": [2, 4]}}
    for key, value in draw(st.dictionaries(_keys, _values, max_size=4)).items():
        case[key] = value
    shape = draw(st.sampled_from(["one", "list", "cases"]))
    doc = case if shape == "one" else [case, dict(case, name="d")] if shape == "list" \
        else {"cases": [case], "defaults": draw(st.dictionaries(_keys, _values, max_size=2))}
    text = yaml.safe_dump(doc, allow_unicode=True)
    if draw(st.booleans()):  # damage the text itself
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["\t", "{", ": [", "*a", "&a x", "\x00", ""])) \
            + text[cut:]
    return text


@FUZZ
@given(_case_files())
def test_a_case_file_loads_into_cases_and_named_errors_never_a_traceback(text):
    for item in load_text(text, "f.yaml"):
        assert isinstance(item, (CaseError, fdcheck.Case))
        if isinstance(item, CaseError):
            assert item.file == "f.yaml" and item.message


@settings(FUZZ, max_examples=max(5, EXAMPLES // 4))
@given(_case_files(), st.sampled_from(["json", "junit", "text"]))
def test_the_command_line_exits_0_1_or_2_with_one_valid_document(tmp_path_factory, text, fmt):
    from click.testing import CliRunner

    from fdcheck.cli import main
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = CliRunner().invoke(main, ["run", str(path), "--format", fmt])
    assert out.exit_code in (0, 1, 2), out.output
    assert not isinstance(out.exception, Exception) or isinstance(out.exception, SystemExit), \
        repr(out.exception)
    if fmt == "json":
        doc = json.loads(out.stdout, parse_constant=lambda c: pytest.fail(c))
        assert doc["summary"]["cases"] == len(doc["cases"]) >= 1
    elif fmt == "junit":
        assert len(list(ET.fromstring(out.stdout).iter("testcase"))) >= 1


_options = st.fixed_dictionaries({}, optional={
    "atol": _scalars, "rtol": _scalars, "order": _scalars, "method": _values,
    "step": _scalars, "directions": _scalars, "derivatives": _scalars, "modes": _values,
    "sparsity": _values, "dtype": _scalars, "wrt": _values, "tolerance": _scalars,
    "names": _values})


@FUZZ
@given(_options)
def test_any_api_option_gives_a_result_or_a_named_value_error(options):
    try:
        result = fdcheck.check(lambda x: np.sum(x ** 2), np.array([1.0, 2.0]),
                               gradient=np.array([2.0, 4.0]), **options)
    except (ValueError, fdcheck.EvaluationError):
        return
    assert result.status in ("passed", "failed")
