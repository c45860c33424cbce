from fractions import Fraction as Fr

import numpy as np
import pytest

from fdcheck.stencils import stencil


@pytest.mark.parametrize("scheme, order, offsets, weights", [
    ("central", 2, (-1, 1), (Fr(-1, 2), Fr(1, 2))),
    ("central", 4, (-2, -1, 1, 2), (Fr(1, 12), Fr(-2, 3), Fr(2, 3), Fr(-1, 12))),
    ("central", 6, (-3, -2, -1, 1, 2, 3),
     (Fr(-1, 60), Fr(3, 20), Fr(-3, 4), Fr(3, 4), Fr(-3, 20), Fr(1, 60))),
    ("forward", 1, (0, 1), (Fr(-1), Fr(1))),
    ("forward", 2, (0, 1, 2), (Fr(-3, 2), Fr(2), Fr(-1, 2))),
    ("backward", 1, (0, -1), (Fr(1), Fr(-1))),
    ("backward", 2, (0, -1, -2), (Fr(3, 2), Fr(-2), Fr(1, 2))),
])
def test_exact_weights(scheme, order, offsets, weights):
    st = stencil(scheme, order)
    assert st.offsets == offsets
    assert st.weights == weights


@pytest.mark.parametrize("scheme, order", [("central", 2), ("central", 4), ("central", 6),
                                           ("central", 8), ("forward", 1), ("forward", 2),
                                           ("backward", 1), ("backward", 2)])
def test_stencils_are_exact_on_polynomials_up_to_their_order(scheme, order):
    st = stencil(scheme, order)
    h, x = 0.5, 0.3
    for degree in range(order + 1):
        f = lambda t: t ** degree  # noqa: E731
        approx = sum(float(w) * f(x + c * h) for c, w in zip(st.offsets, st.weights)) / h
        assert approx == pytest.approx(degree * x ** (degree - 1) if degree else 0.0, abs=1e-12)


def test_order_is_observed_on_exp():
    st = stencil("central", 4)
    errors = []
    for h in (1e-1, 5e-2):
        approx = sum(float(w) * np.exp(c * h) for c, w in zip(st.offsets, st.weights)) / h
        errors.append(abs(approx - 1.0))
    assert errors[0] / errors[1] == pytest.approx(16, rel=0.05)


def test_repr_reads_like_the_formula():
    assert repr(stencil("central", 2)) == "<Stencil central order 2: f'(x) ≈ (- 1/2·f(x-h) + 1/2·f(x+h)) / h>"


@pytest.mark.parametrize("scheme, order", [("central", 3), ("forward", 3), ("sideways", None)])
def test_bad_stencils_are_refused(scheme, order):
    with pytest.raises(ValueError):
        stencil(scheme, order)
