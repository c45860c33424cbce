import numpy as np
import pytest

from fdcheck import layout


@pytest.mark.parametrize("order, expected", [
    ("C", [1, 2, 3, 4, 5, 6]),
    ("F", [1, 4, 2, 5, 3, 6]),
])
def test_flatten_orders(order, expected):
    a = np.array([[1, 2, 3], [4, 5, 6]])
    assert layout.flatten(a, order).tolist() == expected
    assert np.array_equal(layout.unflatten(layout.flatten(a, order), a.shape, order), a)


@pytest.mark.parametrize("out_shape, in_shape", [((2, 2), (3, 2)), ((), (3,)), ((4,), ()),
                                                 ((2, 3, 2), (2, 2)), ((), ())])
@pytest.mark.parametrize("order", ["C", "F"])
def test_tensor_matrix_round_trip(out_shape, in_shape, order):
    t = np.arange(np.prod(out_shape + in_shape, dtype=int), dtype=float).reshape(out_shape + in_shape)
    j = layout.tensor_to_matrix(t, out_shape, in_shape, order)
    assert j.shape == (layout.size_of(out_shape), layout.size_of(in_shape))
    assert np.array_equal(layout.matrix_to_tensor(j, out_shape, in_shape, order), t)


def test_f_order_matrix_entries_follow_vec_f():
    # Entry (k, i) of the F-order matrix is t[unravel_F(k), unravel_F(i)].
    t = np.random.default_rng(0).standard_normal((2, 3, 3, 2))
    j = layout.tensor_to_matrix(t, (2, 3), (3, 2), "F")
    for k in range(6):
        for i in range(6):
            assert j[k, i] == t[layout.unravel(k, (2, 3), "F") + layout.unravel(i, (3, 2), "F")]


@pytest.mark.parametrize("name, shape, order, labels", [
    ("W", (3, 2), "C", ["w11", "w12", "w21", "w22", "w31", "w32"]),
    ("W", (3, 2), "F", ["w11", "w21", "w31", "w12", "w22", "w32"]),
    ("T", (2, 1, 2), "C", ["t111", "t112", "t211", "t212"]),
    ("s", (), "C", ["s"]),
    ("v", (11,), "C", [f"v{i}" for i in range(1, 10)] + ["v[10]", "v[11]"]),
])
def test_element_labels(name, shape, order, labels):
    assert layout.element_labels(name, shape, order) == labels


def test_bad_order_is_refused():
    with pytest.raises(ValueError, match="row-major"):
        layout.check_order("X")
