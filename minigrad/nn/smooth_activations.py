"""Smooth activations as ops: GELU (exact erf and tanh forms), SiLU, ELU, Softplus, LogSigmoid.

Each forward works on raw arrays; each backward is written with Tensor ops (or, for the
exact GELU, with its own derivative op), so double backward works. Numbers follow
PyTorch's formulas, including Softplus's linear region above `threshold` and ELU's slope
alpha at exactly 0.
"""

import math
import numbers

from ..autograd import Op
from ..ops.common import check_tensor
from ..tensor import Tensor

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_COEF = 0.044715

def _check_input(x, op):
    check_tensor(x, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")


def _check_number(value, name, op):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _mask(array, like):
    return Tensor._make(array.astype(like.dtype), like.device)


def maybe_inplace(x, result, inplace):
    """`inplace=True`: write `result` into x and give x its history (x's version counter is
    bumped, so a graph that saved x refuses to backward, as in PyTorch)."""
    return x._inplace(result) if inplace else result


# ---------------------------------------------------------------------------- GELU


class GeluErf(Op):
    """y = x Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x phi(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return x * (0.5 * (1.0 + ctx.kernels.erf(x * _INV_SQRT_2)))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * GeluErfGrad.apply(x)


class GeluErfGrad(Op):
    """d(x) = Phi(x) + x phi(x);  d'(x) = phi(x) (2 - x**2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        xp = ctx.xp
        cdf = 0.5 * (1.0 + ctx.kernels.erf(x * _INV_SQRT_2))
        return cdf + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return gy * pdf * (2.0 - x * x)


class GeluTanh(Op):
    """y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x**3);
    dy/dx = (1 + t)/2 + x/2 (1 - t**2) sqrt(2/pi) (1 + 3 * 0.044715 x**2), t = tanh(u)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        u = _SQRT_2_OVER_PI * (x + _TANH_COEF * x * x * x)
        return 0.5 * x * (1.0 + ctx.xp.tanh(u))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        x2 = x * x
        t = ((x + x2 * x * _TANH_COEF) * _SQRT_2_OVER_PI).tanh()
        du = (x2 * (3 * _TANH_COEF) + 1.0) * _SQRT_2_OVER_PI
        return gy * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * du)


def gelu(input, approximate="none"):  # noqa: A002  (PyTorch's argument name)
    """Gaussian Error Linear Unit: x * Phi(x) (as torch.nn.functional.gelu).

    Args:
        input: a floating point Tensor of any shape.
        approximate: "none" for the exact erf form, "tanh" for
            x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))).
    """
    _check_input(input, "gelu")
    if approximate == "none":
        return GeluErf.apply(input)
    if approximate == "tanh":
        return GeluTanh.apply(input)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


# ---------------------------------------------------------------------------- SiLU, ELU


class Silu(Op):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        xp = ctx.xp
        z = xp.exp(-xp.abs(x))  # stable sigmoid: exp never overflows
        s = xp.where(x >= 0, 1 / (1 + z), z / (1 + z))
        return (x * s).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        s = x.sigmoid()
        return gy * s * (1.0 + x * (1.0 - s))


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x) (as torch.nn.functional.silu)."""
    _check_input(input, "silu")
    return maybe_inplace(input, Silu.apply(input), inplace)


class Elu(Op):
    """y = x if x > 0 else alpha (exp(x) - 1);  dy/dx = 1 if x > 0 else alpha exp(x)
    (at exactly 0 the alpha side, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, *, alpha):
        ctx.save_inputs(0)
        ctx.alpha = alpha
        xp = ctx.xp
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        positive = _mask(x._data > 0, gy)
        # exp of min(x, 0): the unused branch stays finite, so double backward has no inf * 0.
        negative_slope = x.clamp(max=0).exp() * ctx.alpha
        return gy * (positive + (1.0 - positive) * negative_slope)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """Exponential Linear Unit: x if x > 0 else alpha * (exp(x) - 1)."""
    _check_input(input, "elu")
    alpha = _check_number(alpha, "alpha", "elu")
    return maybe_inplace(input, Elu.apply(input, alpha=alpha), inplace)


# ---------------------------------------------------------------------------- Softplus, LogSigmoid


class Softplus(Op):
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold;
    dy/dx = sigmoid(beta x) (1 in the linear region)."""

    @staticmethod
    def forward(ctx, x, *, beta, threshold):
        ctx.save_inputs(0)
        ctx.beta, ctx.threshold = beta, threshold
        xp = ctx.xp
        z = x * beta
        # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)): never overflows.
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        linear = _mask(x._data * ctx.beta > ctx.threshold, gy)
        return gy * (linear + (1.0 - linear) * (x * ctx.beta).sigmoid())


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """Smooth ReLU log(1 + exp(beta x)) / beta, linear (= x) where beta x > threshold."""
    _check_input(input, "softplus")
    beta = _check_number(beta, "beta", "softplus")
    threshold = _check_number(threshold, "threshold", "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero")
    return Softplus.apply(input, beta=beta, threshold=threshold)


class LogSigmoid(Op):
    """y = log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|));  dy/dx = sigmoid(-x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        xp = ctx.xp
        return (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * (-x).sigmoid()


def logsigmoid(input):  # noqa: A002
    """log(1 / (1 + exp(-x))), computed stably for large |x|."""
    _check_input(input, "logsigmoid")
    return LogSigmoid.apply(input)
