import json

import numpy as np
import pytest

from fdcheck import report
from fdcheck.compare import compare
from fdcheck.tolerances import Tolerance


def failing():
    ref = np.array([[1.0, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]])
    num = ref.copy()
    ref = ref.copy()
    ref[2, 4] = 5.0
    return compare(num, ref, Tolerance(1e-6, 1e-6), against="analytic", wrt="W", out_shape=(2, 2),
                   in_shape=(3, 2), out_name="Z")


def test_failure_message_a_person_can_act_on():
    msg = report.check_message(failing())
    assert msg.startswith("dz21/dw31: numeric 6.0000000, analytic 5.0000000")


@pytest.mark.parametrize("x, text", [(6.0, "6.0000000"), (0.0, "0.0000000"), (1e-9, "1.0000000e-09"),
                                     (-2.5e8, "-2.5000000e+08")])
def test_number_format(x, text):
    assert report.number(x) == text


def test_check_json_keys_follow_cases_md():
    doc = report.check_json(failing())
    assert {"against", "wrt", "passed", "max_abs_error", "max_rel_error", "worst"} <= set(doc)
    assert doc["worst"] == {"output": [1, 0], "input": [2, 0], "numeric": 6.0, "reference": 5.0,
                            "bound": pytest.approx(6e-6), "estimated_error": None}
    json.dumps(doc, allow_nan=False)


def test_jacobian_table_labels():
    table = report.jacobian_table(np.eye(2), "Z", (2,), "W", (2,), "C")
    assert table.splitlines() == ["    w1 w2", "z1   1  0", "z2   0  1"]


@pytest.mark.parametrize("checks, evaluations, tail", [
    (1, 1, "(1 check, 1 evaluation)"),
    (2, 12, "(2 checks, 12 evaluations)"),
])
def test_a_passed_case_counts_its_checks_and_evaluations(checks, evaluations, tail):
    from fdcheck.runner import CaseResult
    ok = compare(np.eye(2), np.eye(2), Tolerance(1e-6, 1e-6), against="analytic", wrt="W",
                 out_shape=(2,), in_shape=(2,), out_name="Z")
    r = CaseResult("c", "f.yaml", 1, True, None, (ok,) * checks, evaluations)
    assert report.case_text(r).endswith(tail)


def _failing_result():
    import fdcheck
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    return fdcheck.check(lambda A: np.sum(A * A), A, gradient=-2 * A, name="sign <b>", output="S")


def test_a_result_is_one_line_in_repr_and_a_table_in_a_notebook():
    result = _failing_result()
    assert repr(result) == "<CaseResult 'sign <b>': FAIL, 1 check, 1 failed>"
    html = result._repr_html_()
    assert "<table>" in html and "sign &lt;b&gt;" in html and "FAIL" in html
    assert "the reference is minus the numeric derivative" in html


def test_result_plot_draws_the_failing_checks():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    (fig,) = _failing_result().plot()
    ax = _error_map(fig)
    assert "FAIL analytic dS/dA" in ax.get_title()
    # A gradient of a 2 x 2 input, drawn in the input's shape.
    assert [t.get_text() for t in ax.get_xticklabels()] == ["col 1", "col 2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A row 1", "A row 2"]
    plt.close(fig)


def _error_map(fig):
    (ax,) = [a for a in fig.axes if a.get_title().startswith(("FAIL", "PASS"))]
    return ax


@pytest.mark.parametrize("side, beside", [(3, True), (12, True), (13, False)])
def test_small_matrices_are_drawn_beside_the_error_map_with_their_values(side, beside):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    import numpy as np

    import fdcheck
    X = np.arange(1.0, side * side + 1).reshape(side, side) / side ** 2
    (fig,) = fdcheck.check(lambda X: np.sum(X ** 3), X, gradient=2 * X ** 2).plot()
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert (titles[:2] == ["numeric", "analytic"]) is beside
    if beside:
        numeric = [a for a in fig.axes if a.get_title() == "numeric"][0]
        assert numeric.get_images()[0].get_array().shape == (side, side)
        assert f"{3 * X[0, 0] ** 2:.3g}" in [t.get_text() for t in numeric.texts]
    plt.close(fig)


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'fdcheck\[plot\]'"):
        _failing_result().plot()


def _note_kinds_made():
    """Every kind of note the package makes, read from its source."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "fdcheck"
    kinds = set()
    for path in root.rglob("*.py"):
        kinds |= set(re.findall(r'\bnote\(\s*"([a-z-]+)"', path.read_text()))
    from fdcheck.engine import Flag
    from fdcheck.verify import SETTLE_KINDS
    return sorted(kinds | set(SETTLE_KINDS) | {Flag("non-finite").kind, "retried"})


@pytest.mark.parametrize("kind", _note_kinds_made())
def test_every_kind_of_note_is_worded_in_the_report(kind):
    from fdcheck.report import NOTE_TEXTS
    assert kind in NOTE_TEXTS


SAMPLES = [
    (("noisy", {"worst": 2e-9, "relative": 1e-9}), "the function is noisy: two evaluations at the "
     "same point differ by up to 2.0e-09 (1.0e-09 relative)"),
    (("too-large", {"m": 20, "n": 20, "directions": 4}), "the whole Jacobian would have 20 x 20 "
     "entries (0.0 GB): checked along 4 random directions"),
    (("held", {"framework": "torch", "outputs": ("f[1]", "f[2]")}),
     "f[1], f[2] not compared with torch: torch marks them not differentiable"),
    (("refined", {"count": 3}), "3 column(s) derived again by Richardson extrapolation"),
    (("confirmed", {"confirmed": 2, "skipped": 7, "far": 100.0}),
     "the 2 columns furthest from the reference, probed over a ladder of steps, confirm the "
     "mismatch; 7 more, each more than 100 times its tolerance away, keep their first estimate"),
    (("confirmed", {"confirmed": 1, "skipped": 1, "far": 100.0}),
     "the column furthest from the reference, probed over a ladder of steps, confirms the "
     "mismatch; 1 more, more than 100 times its tolerance away, keeps its first estimate ("),
    (("confirmed", {"confirmed": 2, "skipped": 0, "far": 100.0}),
     "confirm the mismatch (refine='all', or --refine-all, derives every column again"),
    (("no-double-backward", {"framework": "torch", "message": "boom", "mode": "forward"}),
     "torch could not differentiate its own backward (forward over reverse): boom"),
    (("no-double-backward", {"framework": "torch", "message": "boom", "mode": "reverse"}),
     "torch could not differentiate its own backward (double backward): boom"),
    (("localized", {"product": "jvp", "direction": 2, "steps": 5, "element": 7,
                    "evaluations": 90}),
     "J v disagrees along random direction 2; localized by bisection in 5 steps to input "
     "element 7 (90 evaluations in all)"),
]


@pytest.mark.parametrize("made, text", SAMPLES, ids=[s[0][0] for s in SAMPLES])
def test_a_note_is_worded_from_its_fields(made, text):
    from fdcheck.notes import note
    from fdcheck.report import note_text
    kind, fields = made
    assert text in note_text(note(kind, **fields))


def test_a_gradient_of_a_matrix_is_drawn_in_its_own_shape_in_a_colour_blind_safe_palette():
    pytest.importorskip("matplotlib")
    import numpy as np

    import fdcheck
    X = np.arange(1.0, 26.0).reshape(5, 5) / 10
    wrong = 3 * X ** 2
    wrong[1, 2] *= 1.5
    (fig,) = fdcheck.check(lambda X: np.sum(X ** 3), X, gradient=wrong).plot()
    ax = _error_map(fig)
    image = ax.get_images()[0]
    assert image.get_array().shape == (5, 5)          # not a 1 x 25 strip
    assert image.get_cmap().name == "RdBu_r"           # not red against green
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["col 1", "col 2"]
