"""A softplus with a hand-written JAX custom_vjp rule, checked from custom_layer.yaml."""
import jax
import jax.numpy as jnp


@jax.custom_vjp
def softplus(x):
    return jnp.logaddexp(x, 0.0)


def _fwd(x):
    return softplus(x), x


def _bwd(x, g):
    return (g * jax.nn.sigmoid(x),)  # d softplus / dx = sigmoid(x)


softplus.defvjp(_fwd, _bwd)


def loss(X, W):
    return jnp.sum(softplus(X @ W))
