"""Complex inputs (fdcheck/complexify.py): checked in real form, z as
view_as_real(z); a forgotten conjugate in a rule fails, under each
framework's convention."""
import numpy as np
import pytest

import fdcheck
from fdcheck import complexify

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

Z = np.array([[0.3 - 0.5j, -1.1 + 0.2j, 0.8 + 0.9j], [0.7 + 0.1j, 1.9 - 1.2j, -0.2 + 0.4j]])


def z_torch():
    return torch.tensor(Z, dtype=torch.complex128, requires_grad=True)


def torch_square(conjugated):
    """z**2 as a Function: its backward is g * conj(2z) in PyTorch's convention."""
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z * z

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * (2 * z).conj() if conjugated else g * 2 * z
    return Square.apply


def jax_square(conjugated):
    """z**2 as a custom_vjp: its bwd is g * 2z in JAX's convention (no conjugate)."""
    @jax.custom_vjp
    def square(z):
        return z * z

    def fwd(z):
        return z * z, z

    def bwd(z, g):
        return (g * jnp.conj(2 * z) if conjugated else g * 2 * z,)
    square.defvjp(fwd, bwd)
    return square


@pytest.mark.parametrize("x", [np.array([1 + 2j, -0.5j]), torch.zeros(2, dtype=torch.complex64),
                               jnp.ones(3, dtype=jnp.complex64)])
def test_realify_and_complexify_are_inverse(x):
    real = complexify.realify(x)
    assert tuple(real.shape) == tuple(x.shape) + (2,) and not complexify.is_complex(real)
    back = complexify.complexify(real)
    assert np.array_equal(np.asarray(back), np.asarray(x))


@pytest.mark.parametrize("f", [torch.sin, lambda z: (z * z.conj()).real.sum(),
                               lambda z: torch.abs(z) ** 2, lambda z: z.exp().sum()])
def test_torch_functions_of_complex_inputs_pass(f):
    result = fdcheck.check(f, z_torch())
    assert result.passed, str(result)
    assert fdcheck.gradcheck(f, (z_torch(),))


@pytest.mark.parametrize("conjugated, passes", [(True, True), (False, False)])
def test_a_forgotten_conjugate_in_a_torch_backward_fails(conjugated, passes):
    square = torch_square(conjugated)
    result = fdcheck.check(lambda z: square(z), z_torch())
    assert result.passed is passes, str(result)
    assert torch.autograd.gradcheck(square, (z_torch(),), raise_exception=False) is passes
    assert fdcheck.gradcheck(square, (z_torch(),), raise_exception=False) is passes
    if not passes:
        re, im = result.checks          # (Re f, Im f): the imaginary columns of Re f flip sign
        assert re.out_name == "f.real" and re.worst.input[-1] == 1
        assert re.worst.reference == pytest.approx(-re.worst.numeric)


@pytest.mark.parametrize("conjugated, passes", [(False, True), (True, False)])
def test_an_added_conjugate_in_a_jax_rule_fails(conjugated, passes):
    square = jax_square(conjugated)
    with jax.enable_x64(True):
        z = jnp.asarray(Z)
        result = fdcheck.check(lambda z: jnp.sum(jnp.abs(square(z)) ** 2), z)
    assert result.passed is passes, str(result)


@pytest.mark.parametrize("convention, passes", [("torch", True), ("jax", False)])
def test_a_gradient_written_for_a_complex_input_is_read_in_torchs_convention(convention, passes):
    # L = sum |z|^2 = sum x^2 + y^2: dL/dx + i dL/dy = 2z (PyTorch); JAX's grad gives 2 conj(z).
    grad = 2 * Z if convention == "torch" else 2 * Z.conj()
    result = fdcheck.check(lambda z: np.sum(np.abs(z) ** 2), Z, gradient=grad)
    assert result.passed is passes
    by_callable = fdcheck.check(lambda z: np.sum(np.abs(z) ** 2), Z,
                                gradient=lambda z: 2 * z if convention == "torch" else 2 * z.conj())
    assert by_callable.passed is passes


def test_the_numeric_jacobian_is_of_the_real_form():
    # |z|^2 = x^2 + y^2, elementwise: columns in the real form (x1, y1, x2, y2).
    J = fdcheck.jacobian(lambda z: np.abs(z) ** 2, np.array([1 + 1j, 2 - 1j]))
    np.testing.assert_allclose(J, [[2, 2, 0, 0], [0, 0, 4, -2]], atol=1e-8)


def test_a_complex_jacobian_reference_is_refused_by_name():
    with pytest.raises(ValueError, match="give it for the real form"):
        fdcheck.check(lambda z: z * 2, np.array([1 + 1j]), jacobian=np.array([[2 + 0j]]))


# -- case files ------------------------------------------------------------------------

COMPLEX_CASES = """
defaults:
  inputs:
    z: [[1+2j, 3-1j], [0.5j, -2]]
  function: "sum(real(z * conj(z)) + real(z) * imag(z))"
cases:
  - name: torch
    backend: torch
    autograd: [torch]
  - name: jax
    backend: jax
    autograd: [jax]
    derivatives: 2
  - name: written
    expect:
      gradient:
        # d/dx + i d/dy of |z|^2 + x y: (2x + y) + i (2y + x), PyTorch's convention
        z: [[4+5j, 5+1j], [0.5+1j, -4-2j]]
  - name: conjugated
    expect:
      gradient:
        z: [[4-5j, 5-1j], [0.5-1j, -4+2j]]
"""


def test_a_case_file_takes_complex_literals_and_checks_them_in_every_framework(tmp_path):
    from fdcheck.report import results_json
    import json
    path = tmp_path / "complex.yaml"
    path.write_text(COMPLEX_CASES)
    results = {r.name: r for r in fdcheck.run(str(path))}
    assert all(results[n].passed for n in ("torch", "jax", "written")), \
        "\n".join(str(r) for r in results.values())
    bad = results["conjugated"]
    (c,) = bad.checks
    assert not bad.passed and c.diagnosis[0].kind == "conjugate"
    assert c.entries == 8              # the real form: 2 x 2 complex entries, 2 parts each
    doc = json.loads(results_json([bad]))
    assert doc["cases"][0]["checks"][0]["diagnosis"][0]["kind"] == "conjugate"
