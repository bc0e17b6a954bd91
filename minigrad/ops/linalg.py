"""Matrix multiplication, served by the device's `matmul` kernel (Cython GEMM on CPU).

The backward passes transposes as flags (trans_a/trans_b) instead of materialising them, so
the kernel reads transposed operands in place.
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import promote, sum_to, sum_to_array


class MatMul(Op):
    """C = op(A) @ op(B) with op = transpose when trans_a / trans_b (batch dims broadcast).

    dA = gy @ op(B)^T and dB = op(A)^T @ gy, written again as MatMuls with flags.
    """

    @staticmethod
    def forward(ctx, a, b, *, trans_a=False, trans_b=False):
        ctx.save_inputs(0, 1)
        ctx.trans = (trans_a, trans_b)
        if a.dtype.kind != "f":  # integer matmul: not a hot path, numpy does it
            a = a.swapaxes(-1, -2) if trans_a else a
            b = b.swapaxes(-1, -2) if trans_b else b
            return ctx.xp.matmul(a, b)
        return ctx.kernels.matmul(a, b, trans_a=trans_a, trans_b=trans_b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_inputs
        ta, tb = ctx.trans
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if ta:
                ga = MatMul.apply(b, gy, trans_a=tb, trans_b=True)
            else:
                ga = MatMul.apply(gy, b, trans_a=False, trans_b=not tb)
            ga = sum_to(ga, a.shape)
        if ctx.needs_input_grad[1]:
            if tb:
                gb = MatMul.apply(gy, a, trans_a=True, trans_b=ta)
            else:
                gb = MatMul.apply(a, gy, trans_a=not ta, trans_b=False)
            gb = sum_to(gb, b.shape)
        return ga, gb

    @staticmethod
    def backward_arrays(ctx, gy):
        a, b = ctx.saved_input_arrays
        ta, tb = ctx.trans
        matmul = ctx.kernels.matmul
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if ta:
                ga = matmul(b, gy, trans_a=tb, trans_b=True)
            else:
                ga = matmul(gy, b, trans_a=False, trans_b=not tb)
            ga = sum_to_array(ga, a.shape)
        if ctx.needs_input_grad[1]:
            if tb:
                gb = matmul(gy, a, trans_a=True, trans_b=ta)
            else:
                gb = matmul(a, gy, trans_a=not ta, trans_b=False)
            gb = sum_to_array(gb, b.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with numpy's rules: 1-D operands are vectors, batch dims broadcast."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("matmul: expected Tensors")
    a, b = promote("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}")
    squeeze_a, squeeze_b = a.ndim == 1, b.ndim == 1
    a2 = a.unsqueeze(0) if squeeze_a else a
    b2 = b.unsqueeze(-1) if squeeze_b else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"{a2.shape[-1]} (dim -1 of the first) != {b2.shape[-2]} (dim -2 of the second)"
        )
    try:
        np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of shapes {a.shape} and {b.shape} cannot be broadcast together: "
            f"{a2.shape[:-2]} vs {b2.shape[:-2]}"
        ) from None
    out = MatMul.apply(a2, b2)
    if squeeze_a:
        out = out.squeeze(-2)
    if squeeze_b:
        out = out.squeeze(-1)
    return out
