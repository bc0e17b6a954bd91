"""More element-wise math: log1p, expm1, erf, rsqrt, square, reciprocal, and the rounding
family floor / ceil / round (whose derivative is 0 wherever it exists, as PyTorch).

Forward works on raw arrays of the tensor's device (`ctx.xp`, `ctx.kernels`); backward is
written with Tensor ops, so it can be differentiated again.
"""

import math

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import check_tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _float_input(x, op):
    """Integer and bool inputs are computed in the default float dtype, as PyTorch."""
    check_tensor(x, op)
    return x if x.dtype.kind == "f" else x.float()


class Log1p(Op):
    """y = log(1 + x), accurate for small x;  dx = gy / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ctx.xp.log1p(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy / (x + 1)


class Expm1(Op):
    """y = exp(x) - 1, accurate for small x;  dx = gy * (y + 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        with np.errstate(over="ignore"):
            return ctx.xp.expm1(x)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * (y + 1)


class Erf(Op):
    """y = erf(x);  dx = gy * 2/sqrt(pi) * exp(-x**2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.kernels.erf(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * (-(x * x)).exp() * _TWO_OVER_SQRT_PI


class Rsqrt(Op):
    """y = 1 / sqrt(x);  dx = -gy * y**3 / 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1 / ctx.xp.sqrt(x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * y * y * y * -0.5


class Square(Op):
    """y = x * x (integer tensors stay integer);  dx = 2 * x * gy."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * x * 2


class Reciprocal(Op):
    """y = 1 / x;  dx = -gy * y**2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1 / x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return -gy * y * y


class Rounding(Op):
    """y = floor(x), ceil(x) or round(x, decimals): a step function, so dx = 0 (PyTorch gives
    a zero gradient too, rather than refusing to differentiate)."""

    @staticmethod
    def forward(ctx, x, *, how, decimals=0):
        xp = ctx.xp
        if x.dtype.kind != "f":  # integers are already whole: a copy, as PyTorch
            return x.copy()
        if how == "round":
            return xp.round(x, decimals)  # half to even, as PyTorch
        return getattr(xp, how)(x)

    @staticmethod
    def backward(ctx, gy):
        return Tensor._make(ctx.xp.zeros(gy.shape, gy.dtype), gy.device)


# ---------------------------------------------------------------------------- public functions


def log1p(x):
    """log(1 + x), accurate when x is small."""
    return Log1p.apply(_float_input(x, "log1p"))


def expm1(x):
    """exp(x) - 1, accurate when x is small."""
    return Expm1.apply(_float_input(x, "expm1"))


def erf(x):
    """The error function 2/sqrt(pi) * integral_0^x exp(-t**2) dt."""
    return Erf.apply(_float_input(x, "erf"))


def rsqrt(x):
    """1 / sqrt(x)."""
    return Rsqrt.apply(_float_input(x, "rsqrt"))


def square(x):
    """x * x (keeps integer dtypes, as torch.square)."""
    check_tensor(x, "square")
    if x.dtype == np.bool_:
        x = x.long()
    return Square.apply(x)


def reciprocal(x):
    """1 / x (integers give the default float dtype)."""
    return Reciprocal.apply(_float_input(x, "reciprocal"))


def floor(x):
    """The largest whole number <= x, element-wise (gradient 0)."""
    check_tensor(x, "floor")
    return Rounding.apply(x, how="floor")


def ceil(x):
    """The smallest whole number >= x, element-wise (gradient 0)."""
    check_tensor(x, "ceil")
    return Rounding.apply(x, how="ceil")


def round(x, *, decimals=0):  # noqa: A001
    """x rounded to `decimals` places, halves to even (as torch.round; gradient 0)."""
    check_tensor(x, "round")
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return Rounding.apply(x, how="round", decimals=int(decimals))
