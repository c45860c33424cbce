"""One schema: the loader, the API, the reference's key table and
``fdcheck schema`` all derive from fdcheck.schema.KEYS."""
import json
import re

import pytest
from click.testing import CliRunner

from fdcheck.casefile import _read_yaml, load_text
from fdcheck.cli import main
from fdcheck.errors import CaseError
from fdcheck.schema import BY_NAME, CASE_KEYS, KEYS, json_schema

from .conftest import ROOT

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    out = CliRunner().invoke(main, ["schema"])
    assert out.exit_code == 0
    schema = json.loads(out.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((ROOT / "cases").rglob("*.yaml")),
                         ids=lambda p: p.name)
def test_the_schema_validates_every_shipped_case_file(validator, path):
    data = _read_yaml(path.read_text())[0]
    assert [e.message for e in validator.iter_errors(data)] == []


GOOD = """
name: teaching
inputs: {A: [[1, 2, 3], [4, 5, 6]], W: {random: normal, shape: [3, 2], seed: 0}}
function: {Z: A @ W, S: sum(Z)}
wrt: W
tolerance: {atol: 1e-6, rtol: 1e-6}
method: {scheme: central, order: 4}
expect: {gradient: "A.T @ ones([2, 2])", stages: {Z: {value: A @ W}}}
"""


# A mistake, the key the loader names, and the fragment that makes it.
BAD = [
    ("tolerence", "tolerence: {atol: 1e-6}"),
    ("method", "method: centrel"),
    ("directions", "directions: 0"),
    ("derivatives", "derivatives: 3"),
    ("modes", "modes: [backward]"),
    ("order", "order: K"),
    ("autograd", "autograd: [tensorflow]"),
    ("tolerance.atol", "tolerance: {atol: -1}"),
    ("expect.gradeint", "expect: {gradeint: 1}"),
    ("dtype", "dtype: float16x"),
]


def test_a_good_case_passes_both(validator):
    import yaml
    assert list(validator.iter_errors(yaml.safe_load(GOOD))) == []
    (case,) = load_text(GOOD)
    assert not isinstance(case, CaseError)


@pytest.mark.parametrize("key, fragment", BAD, ids=[b[0] for b in BAD])
def test_a_mistake_is_refused_by_the_schema_and_by_the_loader_naming_the_key(validator, key,
                                                                             fragment):
    import yaml
    base = yaml.safe_load("name: c\ninputs: {x: [1., 2.]}\nfunction: sum(x)\n"
                          "expect: {gradient: [1, 1]}")
    bad = {**base, **yaml.safe_load(fragment)}
    assert list(validator.iter_errors(bad)), f"the schema accepts {fragment!r}"
    (case,) = load_text(yaml.safe_dump(bad))
    assert isinstance(case, CaseError) and case.key == key, case


def test_the_reference_table_lists_exactly_the_schema_keys():
    text = (ROOT / "docs" / "cases.md").read_text()
    table = text[text.index("## Keys of a case"):]
    table = table[:table.index("\n\n", table.index("| key |"))]
    rows = re.findall(r"^\| `([a-z_.A-Z]+)` \|", table, re.M)
    top = list(dict.fromkeys(r.split(".")[0] for r in rows))
    assert sorted(top) == sorted(CASE_KEYS)


def test_each_api_keyword_the_schema_names_is_a_keyword_of_check():
    import inspect

    import fdcheck
    params = inspect.signature(fdcheck.check).parameters
    for key in KEYS:
        if key.api is not None:
            assert key.api in params, key.name


def test_each_command_line_option_the_schema_names_exists():
    run = main.commands["run"]
    options = {opt for p in run.params for opt in getattr(p, "opts", ())}
    for key in KEYS:
        if key.cli is not None:
            assert key.cli in options, key.name


def test_defaults_of_the_schema_are_what_a_case_gets():
    (case,) = load_text("name: c\ninputs: {x: 1.0}\nfunction: x * x\nexpect: {gradient: 2}")
    for name in ("order", "dtype", "backend", "derivatives", "modes", "autograd", "method"):
        assert getattr(case, name) == BY_NAME[name].default, name


def test_schema_writes_a_file(tmp_path):
    path = tmp_path / "s.json"
    out = CliRunner().invoke(main, ["schema", "-o", str(path)])
    assert out.exit_code == 0 and json.loads(path.read_text()) == json_schema()


def test_an_empty_autograd_list_overrides_the_defaults_for_the_schema_and_the_loader(validator):
    import yaml
    text = ("defaults: {autograd: [torch]}\ncases:\n- name: numpy alone\n  inputs: {x: [1, 2]}\n"
            "  function: sum(x ** 2)\n  autograd: []\n  expect: {gradient: 2 * x}\n")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    (case,) = load_text(text)
    assert case.autograd == ()
