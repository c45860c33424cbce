"""The matrix functions people differentiate most, and their derivatives from
the literature, for cases/matrix_functions.yaml (run with --allow-python).

Each function takes NumPy arrays, PyTorch tensors or JAX arrays and calls
that framework's own routine, so that ``autograd: [torch, jax]`` compares the
framework's rule. Each ``d_*`` is the derivative as a paper states it: a
directional (Fréchet) derivative L(X)[E], turned into the Jacobian over the
entries by :func:`jacobian` (E = each E_ij in turn), in NumPy.

References: Giles, "An extended collection of matrix derivative results"
(2008); Murray, "Differentiation of the Cholesky decomposition" (2016);
Higham, "Functions of Matrices" (2008), ch. 3 (Fréchet derivatives by the
block triangular formula) and 6 (the square root by a Sylvester equation);
Golub and Pereyra (1973) for the pseudo-inverse.
"""
import numpy as np
import scipy.linalg


def _framework(x):
    module = type(x).__module__
    if module.startswith("torch"):
        return "torch"
    if module.startswith("jax") or module.startswith("jaxlib"):
        return "jax"
    return "numpy"


def _linalg(x):
    name = _framework(x)
    if name == "torch":
        import torch
        return torch.linalg
    if name == "jax":
        import jax.numpy as jnp
        return jnp.linalg
    return np.linalg


def _refuse(x, what):
    raise TypeError(f"{_framework(x)} has no differentiable {what}")


# -- the functions -----------------------------------------------------------------

def inv(X):
    return _linalg(X).inv(X)


def solve(A, b):
    return _linalg(A).solve(A, b)


def det(X):
    return _linalg(X).det(X)


def logabsdet(X):
    return _linalg(X).slogdet(X)[1]


def cholesky(S):
    return _linalg(S).cholesky(S)


def qr_q(X):
    return _linalg(X).qr(X)[0]


def qr_r(X):
    return _linalg(X).qr(X)[1]


def eigvals(S):
    return _linalg(S).eigh(S)[0]


def eigvecs(S):
    return _linalg(S).eigh(S)[1]


def singular_values(T):
    name = _framework(T)
    if name == "torch":
        return _linalg(T).svdvals(T)
    return _linalg(T).svd(T, compute_uv=False)


def left_singular_vectors(T):
    if _framework(T) == "torch":
        return _linalg(T).svd(T, full_matrices=False)[0]
    return _linalg(T).svd(T, full_matrices=False)[0]


def expm(X):
    name = _framework(X)
    if name == "torch":
        import torch
        return torch.linalg.matrix_exp(X)
    if name == "jax":
        import jax.scipy.linalg
        return jax.scipy.linalg.expm(X)
    return scipy.linalg.expm(X)


def logm(X):
    if _framework(X) != "numpy":
        _refuse(X, "matrix logarithm")
    return np.real(scipy.linalg.logm(X))


def sqrtm(X):
    name = _framework(X)
    if name == "jax":
        import jax.numpy as jnp
        import jax.scipy.linalg
        return jnp.real(jax.scipy.linalg.sqrtm(X))
    if name == "torch":
        _refuse(X, "matrix square root")
    return np.real(scipy.linalg.sqrtm(X))


def polar_u(X):
    name = _framework(X)
    if name == "jax":
        import jax.scipy.linalg
        return jax.scipy.linalg.polar(X)[0]
    if name == "torch":
        _refuse(X, "polar decomposition")
    return scipy.linalg.polar(X)[0]


def pinv(T):
    return _linalg(T).pinv(T)


def cube(X):
    return _linalg(X).matrix_power(X, 3)


# -- their derivatives from the literature (NumPy) ----------------------------------

def jacobian(direction, X, out_shape):
    """The Jacobian (tensor form, out_shape + X.shape) of a function whose
    derivative along E is ``direction(E)``."""
    J = np.zeros(tuple(out_shape) + X.shape)
    for index in np.ndindex(*X.shape):
        E = np.zeros(X.shape)
        E[index] = 1.0
        J[(Ellipsis,) + index] = direction(E)
    return J


def d_inv(X):
    Xi = np.linalg.inv(X)          # d X^-1 = -X^-1 dX X^-1
    return jacobian(lambda E: -Xi @ E @ Xi, X, X.shape)


def d_solve_a(A, b):
    x = np.linalg.solve(A, b)      # d x = -A^-1 dA x
    return jacobian(lambda E: -np.linalg.solve(A, E @ x), A, x.shape)


def d_det(X):
    return np.linalg.det(X) * np.linalg.inv(X).T     # Jacobi's formula


def d_logabsdet(X):
    return np.linalg.inv(X).T


def d_cholesky(S):
    L = np.linalg.cholesky(S)      # dL = L Phi(L^-1 dS L^-T), Phi: lower, half diagonal

    def direction(E):
        Li = np.linalg.inv(L)
        P = Li @ ((E + E.T) / 2) @ Li.T
        return L @ (np.tril(P, -1) + np.diag(np.diag(P)) / 2)
    return jacobian(direction, S, S.shape)


def _qr_parts(X, E):
    Q, R = np.linalg.qr(X)         # C = Q^T dX R^-1; Omega = C's strict lower part, skewed
    C = Q.T @ E @ np.linalg.inv(R)
    omega = np.tril(C, -1) - np.tril(C, -1).T
    return Q @ omega, (C - omega) @ R


def d_qr_q(X):
    return jacobian(lambda E: _qr_parts(X, E)[0], X, X.shape)


def d_qr_r(X):
    return jacobian(lambda E: _qr_parts(X, E)[1], X, X.shape)


def d_eigvals(S):
    V = np.linalg.eigh(S)[1]       # d lambda_k = v_k^T dS v_k
    return jacobian(lambda E: np.einsum("ik,ij,jk->k", V, (E + E.T) / 2, V), S, (len(S),))


def d_eigvecs(S):
    w, V = np.linalg.eigh(S)       # d v_k = sum_{l != k} v_l (v_l^T dS v_k) / (w_k - w_l)
    gap = w[None, :] - w[:, None]
    F = np.divide(1.0, gap, out=np.zeros_like(gap), where=~np.eye(len(w), dtype=bool))
    return jacobian(lambda E: V @ (F * (V.T @ ((E + E.T) / 2) @ V)), S, S.shape)


def d_singular_values(T):
    U, s, Vt = np.linalg.svd(T, full_matrices=False)   # d s_k = u_k^T dX v_k
    return jacobian(lambda E: np.einsum("ik,ij,kj->k", U, E, Vt), T, s.shape)


def d_left_singular_vectors(T):
    # dU = U (F o (U^T dX V S + S V^T dX^T U)) + (I - U U^T) dX V S^-1,
    # F_ij = 1 / (s_j^2 - s_i^2) off the diagonal (Townsend 2016; Giles 2008).
    U, s, Vt = np.linalg.svd(T, full_matrices=False)
    V, S = Vt.T, np.diag(s)
    gap = s[None, :] ** 2 - s[:, None] ** 2
    F = np.divide(1.0, gap, out=np.zeros_like(gap), where=~np.eye(len(s), dtype=bool))
    rest = np.eye(len(T)) - U @ U.T

    def direction(E):
        return U @ (F * (U.T @ E @ V @ S + S @ V.T @ E.T @ U)) + rest @ E @ V @ np.diag(1 / s)
    return jacobian(direction, T, U.shape)


def _block(f, X, E):
    """Higham's block triangular formula: f([[X, E], [0, X]]) = [[f(X), L(X, E)], [0, f(X)]]."""
    n = len(X)
    big = np.block([[X, E], [np.zeros((n, n)), X]])
    return np.real(f(big))[:n, n:]


def d_expm(X):
    return jacobian(lambda E: _block(scipy.linalg.expm, X, E), X, X.shape)


def d_logm(X):
    return jacobian(lambda E: _block(scipy.linalg.logm, X, E), X, X.shape)


def d_sqrtm(X):
    R = np.real(scipy.linalg.sqrtm(X))     # R L + L R = E (Higham, ch. 6)
    return jacobian(lambda E: scipy.linalg.solve_sylvester(R, R, E), X, X.shape)


def d_polar_u(X):
    U, P = scipy.linalg.polar(X)           # P Omega + Omega P = U^T dX - dX^T U; dU = U Omega
    return jacobian(lambda E: U @ scipy.linalg.solve_sylvester(P, P, U.T @ E - E.T @ U), X,
                    X.shape)


def d_pinv(T):
    # Full column rank: d T+ = -T+ dX T+ + T+ T+^T dX^T (I - T T+) (Golub and Pereyra).
    Xp = np.linalg.pinv(T)
    rest = np.eye(len(T)) - T @ Xp
    return jacobian(lambda E: -Xp @ E @ Xp + Xp @ Xp.T @ E.T @ rest, T, Xp.shape)


def d_cube(X):
    return jacobian(lambda E: E @ X @ X + X @ E @ X + X @ X @ E, X, X.shape)
