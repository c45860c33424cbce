"""A linear layer Z = A W + B with a hand-written backward, as people write
them for PyTorch, checked from custom_layer.yaml (run with --allow-python)."""
import torch


class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, W, B):
        ctx.save_for_backward(A, W)
        ctx.primal = A, W
        return A @ W + B

    @staticmethod
    def backward(ctx, G):
        A, W = ctx.saved_tensors
        # dL/dA = G W^T, dL/dW = A^T G, dL/dB = the column sums of G (B is broadcast over rows)
        return G @ W.T, A.T @ G, G.sum(0)

    @staticmethod
    def jvp(ctx, tA, tW, tB):
        # The forward-mode rule: dZ = dA W + A dW + dB.
        A, W = ctx.primal
        return tA @ W + A @ tW + tB


def layer(A, W, B):
    return Linear.apply(A, W, B)


def layer_loss(A, W, B):
    return torch.tanh(layer(A, W, B)).sum()


def analytic_dw(A, W, B):
    """dZ/dW written on paper: kron(A, I) in row-major order."""
    return torch.kron(A, torch.eye(W.shape[1], dtype=A.dtype))
