"""The documents users read: every file they name exists, and the examples run."""
import re

import numpy as np
import pytest

from .conftest import ROOT

DOCS = ["README.md", "docs/cases.md", "benchmarks/README.md", "CHANGELOG.md"]
# A path in backquotes or a Markdown link: cases/teaching.yaml, [x](docs/cases.md).
PATH = re.compile(r"(?:`|\]\()((?:cases|docs|benchmarks|fdcheck|tests|\.ci)/[\w./-]+|"
                  r"[A-Z]+\.md|LICENSE|Makefile|setup\.cfg)[`)]")


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_a_document_names_exists(doc):
    text = (ROOT / doc).read_text()
    named = {m.group(1).rstrip(".") for m in PATH.finditer(text)}
    relative = (ROOT / doc).parent
    missing = [p for p in named if not (ROOT / p).exists() and not (relative / p).exists()]
    assert not missing, f"{doc} names files that do not exist: {missing}"


def _python_blocks(doc):
    return re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S)


def test_the_readme_api_example_runs_and_gives_the_seed_numbers():
    block = next(b for b in _python_blocks("README.md") if "fdcheck.jacobian(layer" in b)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["result"].passed
    assert np.allclose(scope["res"].jacobian, np.kron(scope["A"], np.eye(2)), atol=1e-8)
    assert scope["res"].evaluations == 12


def test_the_readme_torch_example_passes():
    pytest.importorskip("torch")
    block = next(b for b in _python_blocks("README.md") if "class Linear" in b)
    exec(compile(block, "README.md", "exec"), {})   # assert_check raises on a FAIL


def _documented_keys():
    from fdcheck.schema import CASE_KEYS, EXPECT_KEYS
    keys = [k for k in CASE_KEYS if k != "expect"]
    return keys + [f"expect.{k}" if k != "stages" else "expect.stages.NAME" for k in EXPECT_KEYS]


@pytest.mark.parametrize("key", _documented_keys())
def test_the_reference_documents_every_key_the_loader_accepts(key):
    text = (ROOT / "docs" / "cases.md").read_text()
    assert f"| `{key}` |" in text


def test_the_readme_second_order_example_fails_as_it_says(capsys):
    pytest.importorskip("torch")
    import torch
    block = next(b for b in _python_blocks("README.md") if "class Cube" in b)
    torch.manual_seed(0)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "FAIL torch (forward mode) df/dx: df/dx21: numeric 14.2413695, torch 9.4942463" in out
    assert "FAIL torch d2f/dx2" in out and "backward of f is not differentiable" in out
