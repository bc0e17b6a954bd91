"""Floor division and remainder: `a // b` and `a % b`, with Python's (and PyTorch's) signs:
the remainder takes the sign of the divisor and a // b rounds towards -inf.

Integer division by zero raises RuntimeError (as PyTorch); float division by zero gives
inf/nan. `%` is differentiable (da = gy, db = -gy * (a // b)); `//` is a step function and
records no gradient (PyTorch has no derivative for it).
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import broadcast_shapes, promote, sum_to


class Remainder(Op):
    """y = a - b * floor(a / b);  da = gy, db = -gy * floor(a / b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        if ctx.needs_input_grad[1]:
            ctx.save_inputs(0, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ctx.xp.remainder(a, b)

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        ga = sum_to(gy, sa) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            a, b = ctx.saved_inputs
            gb = sum_to(-gy * floor_divide(a.detach(), b.detach()), sb)
        return ga, gb


def _operands(name, a, b):
    a, b = promote(name, a, b)
    if a.dtype == np.bool_:
        raise TypeError(f"{name}: not defined for bool tensors")
    broadcast_shapes(name, a.shape, b.shape)
    if a.dtype.kind in "iu" and bool((b._data == 0).any()):
        raise RuntimeError(f"{name}: integer division by zero (divisor of shape {b.shape})")
    return a, b


def remainder(a, b):
    """a % b with the sign of b (Python's and PyTorch's rule), broadcasting."""
    return Remainder.apply(*_operands("remainder", a, b))


def floor_divide(a, b):
    """a // b rounded towards -inf (as Python and torch.floor_divide), broadcasting.

    A step function: the result records no gradient (PyTorch has no derivative for it).
    """
    a, b = _operands("floor_divide", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a.device.xp.floor_divide(a._data, b._data)
    return Tensor._make(out, a.device)
