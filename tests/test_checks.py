"""Each kind of check on its own: a prepared Subject in, an Outcome out; a
right reference passes and a wrong one fails, with the teaching example's
numbers."""
import dataclasses

import numpy as np
import pytest

from fdcheck.casefile import load_text
from fdcheck.checks import analytic, chain, directions, hessian, stages, value
from fdcheck.errors import CaseError
from fdcheck.options import RunOptions
from fdcheck.runner import _whole
from fdcheck.subject import prepare

from .seed import DS_DW, DZ_DW, Z

TEACHING = """
name: teaching
inputs: {A: [[1, 2, 3], [4, 5, 6]], W: [[7, 8], [10, 11], [12, 13]], B: [13, 14]}
function: A @ W + B
wrt: W
"""
CHAIN = """
name: chain
inputs: {A: [[1, 2, 3], [4, 5, 6]], W: [[7, 8], [10, 11], [12, 13]], B: [13, 14]}
function: {Z: A @ W + B, S: sum(Z)}
wrt: W
"""


def subject_of(text, **keys):
    lines = [text] + [f"{k}: {v}" for k, v in keys.items()]
    (case,) = load_text("\n".join(lines))
    assert not isinstance(case, CaseError), case
    return prepare(case, RunOptions())


def verdicts(outcome):
    """Each comparison's verdict, of an Outcome or a CaseResult."""
    return [c.passed for c in getattr(outcome, "comparisons", None) or outcome.checks]


@pytest.mark.parametrize("expected, passes", [(Z.tolist(), True), ((Z + 1).tolist(), False),
                                              ("A @ W + B", True), ("A @ W", False)])
def test_value(expected, passes):
    s = subject_of(TEACHING, expect={"value": expected})
    assert verdicts(value.run(s)) == [passes]


@pytest.mark.parametrize("jacobian, passes", [(DZ_DW, True), (2 * DZ_DW, False), (-DZ_DW, False),
                                              (DZ_DW.T @ DZ_DW[:, :4], False)])
def test_analytic(jacobian, passes):
    if jacobian.shape != DZ_DW.shape:
        jacobian = np.vstack([DZ_DW[:3], DZ_DW[3] + 1])
    s = subject_of(TEACHING, expect={"jacobian": jacobian.tolist()})
    whole, spent = _whole(s, "W")
    assert spent == 12  # central differences: 2 evaluations an element
    outcome = analytic.run(s, "W", whole)
    assert verdicts(outcome) == [passes]
    assert outcome.comparisons[0].entries == 24


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.01, False), (-1.0, False)])
def test_hessian(factor, passes):
    # f = sum(x**3): H = diag(6 x).
    text = "name: h\ninputs: {x: [0.5, -1.5, 2.0]}\nfunction: sum(x ** 3)"
    s = subject_of(text, expect={"hessian": (factor * np.diag([3.0, -9.0, 12.0])).tolist()})
    assert verdicts(hessian.run(s, "x")) == [passes]


def test_a_hessian_by_a_method_that_takes_none_names_the_method():
    text = "name: h\ninputs: {x: [0.5, -1.5]}\nfunction: sum(x ** 3)\nmethod: forward"
    s = subject_of(text, expect={"hessian": [[3.0, 0], [0, -9.0]]})
    with pytest.raises(CaseError) as err:
        hessian.run(s, "x")
    assert err.value.key == "method"


def test_chain_multiplies_the_stages_jacobians():
    s = subject_of(CHAIN, expect={"gradient": DS_DW.tolist()})
    whole, _ = _whole(s, "W")
    outcome = chain.run(s, "W", whole)
    (comp,) = outcome.comparisons
    assert comp.against == "chain" and comp.passed
    assert outcome.evaluations == 12 + 8   # dZ/dW: 6 elements x 2; dS/dZ: 4 elements x 2


def test_chain_is_nothing_for_a_single_stage():
    s = subject_of(TEACHING, expect={"value": Z.tolist()})
    whole, _ = _whole(s, "W")
    assert chain.run(s, "W", whole).comparisons == ()


@pytest.mark.parametrize("stage_expect, passes", [
    ({"Z": {"value": Z.tolist()}}, [True]),
    ({"Z": {"jacobian": DZ_DW.tolist()}}, [True]),
    ({"Z": {"jacobian": (2 * DZ_DW).tolist()}}, [False]),
    ({"S": {"gradient": {"Z": [[1, 1], [1, 1]]}}}, [True]),
    ({"S": {"gradient": {"Z": [[1, 1], [1, 2]]}}}, [False]),
    ({"S": {"value": 501}, "Z": {"value": (Z + 1).tolist()}}, [True, False]),
])
def test_stages(stage_expect, passes):
    s = subject_of(CHAIN, expect={"stages": stage_expect})
    assert verdicts(stages.run(s)) == passes


@pytest.mark.parametrize("gradient, passes", [(DS_DW, True), (DS_DW.T.reshape(3, 2), False),
                                              (DS_DW * 1.01, False)])
def test_directions(gradient, passes):
    s = subject_of(CHAIN, directions=3, expect={"gradient": gradient.tolist()})
    outcome = directions.run(s, "W")
    assert verdicts(outcome) == [passes]
    assert outcome.evaluations > 0


def test_a_subject_is_frozen():
    s = subject_of(TEACHING, expect={"value": Z.tolist()})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.method = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.wrt["W"].directions = 3


def test_preparing_costs_one_evaluation_an_input_beyond_the_base_point():
    # The base point is evaluated when the flat function is made; one more
    # evaluation there listens for noise.
    s = subject_of(TEACHING.replace("wrt: W", "wrt: [A, W]"), expect={"value": Z.tolist()})
    assert s.evaluations == 2
    assert [p.fn.n for p in s.wrt.values()] == [6, 6]


@pytest.mark.parametrize("directions_key, expected", [("", None), ("directions: 2", 2)])
def test_directions_are_decided_when_preparing(directions_key, expected):
    s = subject_of(TEACHING + directions_key, expect={"value": Z.tolist()})
    assert s.wrt["W"].directions == expected


def test_a_jacobian_too_large_is_prepared_for_directions(monkeypatch):
    from fdcheck import subject
    monkeypatch.setattr(subject, "MAX_JACOBIAN_ENTRIES", 10)
    s = subject_of(TEACHING, expect={"value": Z.tolist()})
    assert s.wrt["W"].directions == subject.AUTO_DIRECTIONS
    assert [n.kind for n in s.wrt["W"].notes] == ["too-large"]


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("jvp_factor, modes, passes", [
    (3.0, ("reverse", "forward"), [True, True]), (4.0, ("reverse", "forward"), [True, False]),
    (4.0, ("reverse",), [True])])
def test_autograd(jvp_factor, modes, passes):
    import fdcheck

    from .backends.test_second_order import cube, x_torch
    result = fdcheck.check(cube(jvp_factor=jvp_factor), x_torch(), modes=modes)
    assert [(c.against, c.mode) for c in result.checks] == [("torch", m) for m in modes]
    assert verdicts(result) == passes


def test_second_order_names_a_backward_that_is_not_differentiable():
    import fdcheck
    from fdcheck.report import notes_text

    from .backends.test_second_order import cube, x_torch
    f = cube(backward_detaches=True)
    result = fdcheck.check(lambda x: f(x).sum(), x_torch(), derivatives=2)
    first, second, in_v = result.checks
    assert first.passed and not second.passed and second.derivative == 2
    assert "not differentiable" in " ".join(notes_text(second))
    assert in_v.passed and in_v.cotangent
